import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { app, go, guardLeaving, keepDraft, leave, stay, type LeaveGuard } from "./app.svelte";

beforeAll(() => {
  // Navigation scrolls the window back up; these tests run without one.
  (globalThis as { window?: unknown }).window ??= {};
});

/** A form's guard that records what is asked of it. */
function form(changed = true, kept = true) {
  const asked: string[] = [];
  const guard: LeaveGuard = {
    changed: () => changed,
    kept: () => kept,
    keep: () => (asked.push("keep"), Promise.resolve()),
    discard: () => (asked.push("discard"), Promise.resolve()),
  };
  return { guard, asked, off: guardLeaving(guard) };
}

let off: (() => void) | undefined;

afterEach(() => {
  off?.();
  off = undefined;
  app.leaving = null;
  app.route = { name: "today" };
});

describe("leaving a form", () => {
  it("goes at once when no form is open, or nothing changed", () => {
    go({ name: "people" });
    expect(app.route.name).toBe("people");
    const f = form(false);
    off = f.off;
    go({ name: "sites" });
    expect(app.route.name).toBe("sites");
    expect(app.leaving).toBeNull();
    expect(f.asked).toEqual([]);
  });

  it("asks first when something typed is not saved; staying changes nothing", () => {
    const f = form(true);
    off = f.off;
    go({ name: "people" });
    expect(app.route.name).toBe("today");
    expect(app.leaving?.route.name).toBe("people");
    expect(app.leaving?.kept).toBe(true);
    stay();
    expect(app.leaving).toBeNull();
    expect(app.route.name).toBe("today");
    expect(f.asked).toEqual([]);
  });

  it("leaving writes the draft first, then goes", async () => {
    const f = form(true);
    off = f.off;
    go({ name: "person", id: "p" });
    await leave();
    expect(f.asked).toEqual(["keep"]);
    expect(app.route).toEqual({ name: "person", id: "p" });
    expect(app.leaving).toBeNull();
  });

  it("leaving and dropping the draft drops it, then goes", async () => {
    const f = form(true, false);
    off = f.off;
    go({ name: "sites" });
    expect(app.leaving?.kept).toBe(false);
    await leave(true);
    expect(f.asked).toEqual(["discard"]);
    expect(app.route.name).toBe("sites");
  });

  it("a form gone takes its guard and the question with it", () => {
    const f = form(true);
    go({ name: "sites" });
    f.off();
    expect(app.leaving).toBeNull();
    go({ name: "sites" });
    expect(app.route.name).toBe("sites");
  });

  it("a lock writes the draft without asking", async () => {
    const f = form(true);
    off = f.off;
    await keepDraft();
    expect(f.asked).toEqual(["keep"]);
    expect(app.leaving).toBeNull();
  });
});
