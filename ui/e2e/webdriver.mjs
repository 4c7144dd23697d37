// A small W3C WebDriver client over fetch (Node 20), for tauri-driver: no dependency.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

/** A port of 127.0.0.1 free right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts tauri-driver with `env` for the app it will launch; resolves once it answers.
 * Both its ports are free ones, so another run on the same machine (a CI job) is never
 * reached by mistake. */
export async function startDriver(env) {
  const port = await freePort();
  let nativePort = await freePort();
  while (nativePort === port) nativePort = await freePort();
  const driver = spawn("tauri-driver", ["--port", String(port), "--native-port", String(nativePort)], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`${url}/status`);
      return { url, stop: () => stopDriver(driver) };
    } catch {
      await sleep(100);
    }
  }
  driver.kill();
  throw new Error("tauri-driver did not answer on " + url);
}

async function stopDriver(driver) {
  driver.kill("SIGTERM");
  await new Promise((resolve) => {
    if (driver.exitCode !== null) return resolve();
    driver.once("exit", resolve);
    setTimeout(resolve, 3000);
  });
}

export class Session {
  static async start(driverUrl, application) {
    const value = await request(driverUrl, "POST", "/session", {
      capabilities: { alwaysMatch: { "tauri:options": { application } } },
    });
    return new Session(driverUrl, value.sessionId);
  }

  constructor(url, id) {
    this.url = url;
    this.id = id;
  }

  cmd(method, path, body) {
    return request(this.url, method, `/session/${this.id}${path}`, body);
  }

  async end() {
    await this.cmd("DELETE", "").catch(() => {});
  }

  /** The first element matching `css`, waiting up to `timeout` ms for it (and for `until`). */
  async find(css, { timeout = 15000, until } = {}) {
    const deadline = Date.now() + timeout;
    let last = "";
    for (;;) {
      try {
        const el = await this.cmd("POST", "/element", { using: "css selector", value: css });
        const id = elementId(el);
        if (!until || (await until(id))) return id;
        last = "its condition was not met";
      } catch (e) {
        last = String(e.message ?? e);
      }
      if (Date.now() > deadline) throw new Error(`expected to find ${css} within ${timeout} ms (${last})`);
      await sleep(100);
    }
  }

  async findAll(css) {
    const list = await this.cmd("POST", "/elements", { using: "css selector", value: css });
    return list.map(elementId);
  }

  async click(css, options) {
    const id = await this.find(css, options);
    // In the middle of the window, not at its edge under the sticky top bar (which would
    // take the click).
    await this.exec(`arguments[0].scrollIntoView({ block: "center", inline: "nearest" });`, { [ELEMENT]: id });
    await this.cmd("POST", `/element/${id}/click`, {});
  }

  /** Types `text` with the keyboard into the element. */
  async type(css, text) {
    const id = await this.find(css);
    await this.cmd("POST", `/element/${id}/value`, { text });
  }

  /** Sends `text` (keys such as "\uE004", Tab) to the element that has the focus. */
  async keysToActive(text) {
    // Key actions, not "send keys to an element": those go to whatever has the focus, as
    // a keyboard's do (a file input would take "send keys" as a file's path).
    const keys = [...text].flatMap((value) => [{ type: "keyDown", value }, { type: "keyUp", value }]);
    await this.cmd("POST", "/actions", { actions: [{ type: "key", id: "keyboard", actions: keys }] });
    await this.cmd("DELETE", "/actions");
    this.keyPresses += [...text].length;
  }

  /** The keys sent with `keysToActive` so far: one a character, one a special key (Tab,
   *  Enter…). A scenario resets it to count what a task takes by the keyboard alone. */
  keyPresses = 0;

  async text(css, options) {
    const id = await this.find(css, options);
    return this.cmd("GET", `/element/${id}/text`);
  }

  /** Waits until the element's text contains `expected`; answers the text. */
  async waitText(css, expected, timeout = 15000) {
    let seen = "";
    await this.find(css, {
      timeout,
      until: async (id) => {
        seen = await this.cmd("GET", `/element/${id}/text`);
        return seen.includes(expected);
      },
    }).catch(() => {
      throw new Error(`expected ${css} to contain "${expected}", it shows "${seen}"`);
    });
    return seen;
  }

  exec(script, ...args) {
    return this.cmd("POST", "/execute/sync", { script, args });
  }

  /** Sets a form control's value as a person would (date pickers, selects), firing input and change. */
  async set(css, value) {
    await this.find(css);
    const ok = await this.exec(
      `const el = document.querySelector(arguments[0]);
       if (!el) return false;
       const proto = el instanceof HTMLSelectElement ? HTMLSelectElement.prototype
         : el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
       Object.getOwnPropertyDescriptor(proto, "value").set.call(el, arguments[1]);
       el.dispatchEvent(new Event("input", { bubbles: true }));
       el.dispatchEvent(new Event("change", { bubbles: true }));
       return el.value === arguments[1];`,
      css,
      value,
    );
    if (!ok) throw new Error(`expected ${css} to take the value ${value}`);
  }

  /** Picks the option of a select whose text contains `text`, waiting for the option (a
   *  screen fills its selects once its data is read). */
  async choose(css, text, timeout = 15000) {
    const deadline = Date.now() + timeout;
    for (;;) {
      await this.find(css);
      const value = await this.exec(
        `const el = document.querySelector(arguments[0]);
         const o = el && [...el.options].find((o) => o.textContent.includes(arguments[1]));
         return o ? o.value : null;`,
        css,
        text,
      );
      if (value !== null) return this.set(css, value);
      if (Date.now() > deadline) throw new Error(`expected ${css} to offer "${text}" within ${timeout} ms`);
      await sleep(100);
    }
  }

  /** Clicks the first element matching `css` whose text contains `text`, waiting for it. */
  async clickText(css, text, timeout = 15000) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const clicked = await this.exec(
        `const el = [...document.querySelectorAll(arguments[0])].find((e) => e.textContent.includes(arguments[1]));
         if (!el) return false;
         el.click();
         return true;`,
        css,
        text,
      );
      if (clicked) return;
      if (Date.now() > deadline) throw new Error(`expected a ${css} showing "${text}" within ${timeout} ms`);
      await sleep(100);
    }
  }

  async screenshot() {
    return Buffer.from(await this.cmd("GET", "/screenshot"), "base64");
  }
}

/** The id of an element reference, in the W3C form or the older `ELEMENT` one. */
function elementId(reference) {
  return reference?.[ELEMENT] ?? reference?.ELEMENT;
}

async function request(base, method, path, body) {
  const response = await fetch(base + path, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json().catch(() => ({}));
  if (!response.ok || json?.value?.error) {
    throw new Error(`${method} ${path}: ${json?.value?.error ?? response.status} ${json?.value?.message ?? ""}`);
  }
  return json.value;
}
