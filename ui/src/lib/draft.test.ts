import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Draft, type DraftStore } from "./draft.svelte";

type Call = { op: "save" | "drop" | "read"; key: string; text?: string };

/** A store that records what is asked of it; each write or drop lands only when the
 *  test lets it (`land`), or at once when `instant`. */
function fakeStore(kept: string | null = null, instant = true) {
  const calls: Call[] = [];
  /** The writes and drops begun and not landed yet. */
  const running: (() => void)[] = [];
  let stored = kept;
  const slow = (apply: () => void) =>
    instant
      ? (apply(), Promise.resolve())
      : new Promise<void>((resolve) => running.push(() => (apply(), resolve())));
  const store: DraftStore = {
    save(key, text) {
      calls.push({ op: "save", key, text });
      return slow(() => (stored = text));
    },
    read(key) {
      calls.push({ op: "read", key });
      return Promise.resolve(stored);
    },
    drop(key) {
      calls.push({ op: "drop", key });
      return slow(() => (stored = null));
    },
  };
  return {
    store,
    calls,
    running,
    stored: () => stored,
    writes: () => calls.filter((c) => c.op === "save").map((c) => JSON.parse(c.text ?? "{}") as Record<string, unknown>),
    /** Lets the oldest write or drop under way land. */
    async land() {
      await flushPromises();
      running.shift()?.();
      await flushPromises();
    },
  };
}

async function flushPromises() {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

const at = new Date("2026-03-12T09:30:00Z");

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("a form's draft", () => {
  it("writes nothing before the form started, then at most once each half second, the last value", async () => {
    const s = fakeStore();
    const draft = new Draft<{ purpose: string }>("visit", { store: s.store, now: () => at });
    draft.schedule({ purpose: "a" });
    await vi.advanceTimersByTimeAsync(1000);
    expect(s.writes()).toEqual([]);

    draft.start();
    for (const purpose of ["P", "Po", "Poi", "Poin", "Point"]) {
      draft.schedule({ purpose });
      await vi.advanceTimersByTimeAsync(100);
    }
    // 500 ms after the first change: one write, of what was typed by then.
    expect(s.writes()).toEqual([{ purpose: "Point", savedAt: at.toISOString() }]);
    await vi.advanceTimersByTimeAsync(100);
    expect(s.writes()).toHaveLength(1);
    // Typing all along: never more than one write each half second, never more than
    // half a second behind.
    for (let i = 0; i < 20; i++) {
      draft.schedule({ purpose: `Point ${i}` });
      await vi.advanceTimersByTimeAsync(100);
    }
    expect(s.writes().length).toBeGreaterThanOrEqual(4);
    expect(s.writes().length).toBeLessThanOrEqual(5);
    await vi.advanceTimersByTimeAsync(500);
    expect(s.writes()[s.writes().length - 1]).toEqual({ purpose: "Point 19", savedAt: at.toISOString() });
    expect(s.calls.every((c) => c.key === "visit")).toBe(true);
  });

  it("writes one after the other: a write waits for the one under way", async () => {
    const s = fakeStore(null, false);
    const draft = new Draft<{ n: number }>("form.person.new", { store: s.store });
    draft.start();
    draft.schedule({ n: 1 });
    await vi.advanceTimersByTimeAsync(500);
    draft.schedule({ n: 2 });
    await vi.advanceTimersByTimeAsync(500);
    draft.schedule({ n: 3 });
    await vi.advanceTimersByTimeAsync(500);
    // The first has not landed: the others wait, in order.
    expect(s.writes().map((w) => w.n)).toEqual([1]);
    await s.land();
    expect(s.writes().map((w) => w.n)).toEqual([1, 2]);
    await s.land();
    await s.land();
    expect(s.writes().map((w) => w.n)).toEqual([1, 2, 3]);
    expect(JSON.parse(s.stored() ?? "{}").n).toBe(3);
  });

  it("never writes over a draft still offered; resumed or dropped, it writes again", async () => {
    const kept = JSON.stringify({ purpose: "Avant", savedAt: "2026-03-11T08:00:00Z" });
    const s = fakeStore(kept);
    const draft = new Draft<{ purpose: string }>("visit", { store: s.store });
    expect(await draft.load()).toEqual({ purpose: "Avant", savedAt: "2026-03-11T08:00:00Z" });
    expect(draft.offered?.purpose).toBe("Avant");
    draft.start();
    expect(draft.keeping).toBe(false);
    draft.schedule({ purpose: "Autre chose" });
    await vi.advanceTimersByTimeAsync(2000);
    expect(s.writes()).toEqual([]);
    expect(s.stored()).toBe(kept);

    let applied = "";
    await draft.resume((d) => {
      applied = d.purpose;
    });
    expect(applied).toBe("Avant");
    expect(draft.offered).toBeNull();
    expect(draft.keeping).toBe(true);
    draft.schedule({ purpose: "Avant, suite" });
    await vi.advanceTimersByTimeAsync(500);
    expect(s.writes().map((w) => w.purpose)).toEqual(["Avant, suite"]);
  });

  it("keeps the offer when resuming fails", async () => {
    const s = fakeStore(JSON.stringify({ purpose: "Avant", savedAt: "x" }));
    const draft = new Draft<{ purpose: string }>("visit", { store: s.store });
    await draft.load();
    await expect(draft.resume(() => Promise.reject(new Error("gone")))).rejects.toThrow("gone");
    expect(draft.offered?.purpose).toBe("Avant");
  });

  it("offers nothing for a text that is not a draft", async () => {
    for (const text of ["not json", "[1]", "null", ""]) {
      const draft = new Draft<{ purpose: string }>("visit", { store: fakeStore(text).store });
      expect(await draft.load()).toBeNull();
      expect(draft.offered).toBeNull();
    }
  });

  it("drops the draft offered once any write under way landed, then keeps what is typed", async () => {
    const s = fakeStore(JSON.stringify({ purpose: "Avant", savedAt: "x" }), false);
    const draft = new Draft<{ purpose: string }>("visit", { store: s.store });
    await draft.load();
    draft.start();
    const dropped = draft.drop();
    expect(draft.offered).toBeNull();
    await s.land();
    await dropped;
    expect(s.stored()).toBeNull();
    draft.schedule({ purpose: "Neuf" });
    await vi.advanceTimersByTimeAsync(500);
    await s.land();
    expect(JSON.parse(s.stored() ?? "{}").purpose).toBe("Neuf");
  });

  it("a drop waits for the write under way: the draft never comes back after it", async () => {
    const s = fakeStore(null, false);
    const draft = new Draft<{ purpose: string }>("visit", { store: s.store });
    draft.start();
    draft.schedule({ purpose: "Point" });
    await vi.advanceTimersByTimeAsync(500);
    const dropped = draft.drop();
    await s.land();
    await s.land();
    await dropped;
    expect(s.calls.map((c) => c.op)).toEqual(["save", "drop"]);
    expect(s.stored()).toBeNull();
  });

  it("writes nothing once closed, and drops its draft", async () => {
    const s = fakeStore();
    const draft = new Draft<{ purpose: string }>("visit", { store: s.store });
    draft.start();
    draft.schedule({ purpose: "Point" });
    await vi.advanceTimersByTimeAsync(500);
    draft.schedule({ purpose: "Point sur le CV" });
    await draft.close();
    expect(draft.closed).toBe(true);
    await vi.advanceTimersByTimeAsync(2000);
    draft.schedule({ purpose: "après" });
    await vi.advanceTimersByTimeAsync(2000);
    await draft.flush();
    expect(s.writes().map((w) => w.purpose)).toEqual(["Point"]);
    expect(s.calls[s.calls.length - 1]?.op).toBe("drop");
    expect(s.stored()).toBeNull();
  });

  it("closed while another draft is offered, leaves that draft", async () => {
    const kept = JSON.stringify({ purpose: "Avant", savedAt: "x" });
    const s = fakeStore(kept);
    const draft = new Draft<{ purpose: string }>("visit", { store: s.store });
    await draft.load();
    draft.start();
    await draft.close();
    expect(s.calls.map((c) => c.op)).toEqual(["read"]);
    expect(s.stored()).toBe(kept);
  });

  it("writes nothing once stopped, not even what was due, and leaves the draft", async () => {
    const s = fakeStore();
    const draft = new Draft<{ purpose: string }>("visit", { store: s.store });
    draft.start();
    draft.schedule({ purpose: "Point" });
    await vi.advanceTimersByTimeAsync(500);
    draft.schedule({ purpose: "Point sur" });
    draft.stop();
    await vi.advanceTimersByTimeAsync(2000);
    draft.schedule({ purpose: "après" });
    await vi.advanceTimersByTimeAsync(2000);
    await draft.flush();
    expect(s.writes().map((w) => w.purpose)).toEqual(["Point"]);
    expect(JSON.parse(s.stored() ?? "{}").purpose).toBe("Point");
  });

  it("writes what is due at once when flushed (leaving, locking)", async () => {
    const s = fakeStore();
    const draft = new Draft<{ purpose: string }>("visit", { store: s.store });
    draft.start();
    draft.schedule({ purpose: "Point" });
    await draft.flush();
    expect(s.writes().map((w) => w.purpose)).toEqual(["Point"]);
    // Nothing more is due: the timer that was running writes nothing.
    await vi.advanceTimersByTimeAsync(1000);
    expect(s.writes()).toHaveLength(1);
  });

  it("drops what it wrote when the form holds nothing worth keeping again, and only then", async () => {
    const s = fakeStore();
    const draft = new Draft<{ purpose: string }>("visit", { store: s.store });
    draft.start();
    draft.schedule(null);
    expect(s.calls).toEqual([]);
    draft.schedule({ purpose: "P" });
    await vi.advanceTimersByTimeAsync(500);
    draft.schedule({ purpose: "" });
    draft.schedule(null);
    await vi.advanceTimersByTimeAsync(1000);
    await flushPromises();
    expect(s.calls.map((c) => c.op)).toEqual(["save", "drop"]);
    expect(s.stored()).toBeNull();
    draft.schedule(null);
    expect(s.calls).toHaveLength(2);
  });

  it("a failed write stops neither the next one nor a drop", async () => {
    let fail = true;
    const calls: string[] = [];
    const store: DraftStore = {
      save: (_k, text) => (calls.push(text), fail ? Promise.reject(new Error("locked")) : Promise.resolve()),
      read: () => Promise.resolve(null),
      drop: () => (calls.push("drop"), Promise.resolve()),
    };
    const draft = new Draft<{ n: number }>("visit", { store });
    draft.start();
    draft.schedule({ n: 1 });
    await vi.advanceTimersByTimeAsync(500);
    fail = false;
    draft.schedule({ n: 2 });
    await vi.advanceTimersByTimeAsync(500);
    await draft.drop();
    expect(calls.map((c) => (c === "drop" ? c : JSON.parse(c).n))).toEqual([1, 2, "drop"]);
  });
});
