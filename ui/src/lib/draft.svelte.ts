// What a form holds while it is typed, kept as a draft in the case file (encrypted with
// the rest) at most half a second behind: a lock (the idle one drops the key), a crash or
// a wrong turn loses nothing, and the form opened again offers it back. The visit form
// and the record form share it.
//
// The rules, the same for every form:
// - at most one write each half second, the last state typed: never more than half a
//   second behind, and a fast typist does not write at each key;
// - one write after the other, in order: an older one never lands after a newer one;
// - a draft still offered (found when the form opened) is never written over: the
//   person resumes or ignores it first;
// - a form closed (saved, abandoned, a lock, an erasure, a screen left) writes nothing
//   more: a write due after an erasure would bring back the draft it took.
import { commands } from "./bindings";
import { call } from "./api";
import type { LeaveGuard } from "./app.svelte";

/** Where drafts are kept: the case file, or a test's stand-in. */
export type DraftStore = {
  save(key: string, text: string): Promise<unknown>;
  read(key: string): Promise<string | null>;
  drop(key: string): Promise<unknown>;
};

/** The case file's drafts (`save_draft`, `draft`, `drop_draft`). */
export const caseFileDrafts: DraftStore = {
  save: (key, text) => call(commands.saveDraft(key, text)),
  read: (key) => call(commands.draft(key)),
  drop: (key) => call(commands.dropDraft(key)),
};

/** A draft as kept: the form's value, and when it was written (ISO 8601). */
export type Kept<T> = T & { savedAt: string };

/** The most a draft is behind what is typed, in milliseconds. */
export const DRAFT_DELAY = 500;

export type DraftOptions = {
  store?: DraftStore;
  /** Milliseconds between two writes (and the most a draft is behind). */
  delay?: number;
  now?: () => Date;
};

/** The draft of one form, under `key` (see `forms.ts` for the keys). The form calls
 *  `load()` as it opens, `start()` once it holds its starting values, `schedule(value)`
 *  at each change, `resume(apply)` or `drop()` for the draft offered, `close()` once
 *  saved or abandoned, and `stop()` when it goes (`onDestroy`). */
export class Draft<T extends object> {
  /** The draft found when the form opened, offered until resumed or dropped. */
  offered = $state<Kept<T> | null>(null);
  /** "waiting" until the form loaded, "open" while what is typed is kept, "closed" once
   *  the form was saved, abandoned or went. */
  #phase = $state<"waiting" | "open" | "closed">("waiting");

  readonly key: string;
  readonly #store: DraftStore;
  readonly #delay: number;
  readonly #now: () => Date;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The value to write when the timer ends; `undefined` when none is due. */
  #pending: T | undefined;
  /** Whether this form wrote (or is writing) a draft of its own under the key. */
  #wrote = false;
  /** The writes and drops, one after the other; it never rejects. */
  #chain: Promise<unknown> = Promise.resolve();

  constructor(key: string, options: DraftOptions = {}) {
    this.key = key;
    this.#store = options.store ?? caseFileDrafts;
    this.#delay = options.delay ?? DRAFT_DELAY;
    this.#now = options.now ?? (() => new Date());
  }

  /** Whether what is typed now is kept: the form loaded, is not closed, and no older
   *  draft waits to be resumed or dropped. */
  get keeping(): boolean {
    return this.#phase === "open" && this.offered === null;
  }

  /** Whether the form was saved, abandoned or went. */
  get closed(): boolean {
    return this.#phase === "closed";
  }

  /** What the leave dialog asks of the form (`guardLeaving`): `changed` says whether
   *  something typed is not saved; leaving writes the draft, or drops it. */
  guard(changed: () => boolean): LeaveGuard {
    return {
      changed: () => !this.closed && changed(),
      kept: () => this.keeping,
      keep: () => this.flush(),
      discard: () => this.drop(),
    };
  }

  /** Reads the draft kept under the key, which is then offered (a text that is not
   *  a draft is left alone: nothing is offered). Throws what the store throws. */
  async load(): Promise<Kept<T> | null> {
    const text = await this.#store.read(this.key);
    let kept: Kept<T> | null = null;
    if (text) {
      try {
        const value: unknown = JSON.parse(text);
        if (value !== null && typeof value === "object" && !Array.isArray(value)) kept = value as Kept<T>;
      } catch {
        kept = null;
      }
    }
    if (this.#phase !== "closed") this.offered = kept;
    return kept;
  }

  /** The form holds its starting values: what is typed from now on is kept. */
  start() {
    if (this.#phase === "waiting") this.#phase = "open";
  }

  /** What the form holds now, written at most `delay` later (with what is scheduled
   *  meanwhile: the last value wins); `null` when it holds nothing worth keeping (what
   *  this form wrote goes). Nothing happens before `start`, after `close` or `stop`, or
   *  while a draft is offered. */
  schedule(value: T | null) {
    if (!this.keeping) return;
    if (value === null) {
      this.#cancel();
      if (this.#wrote) {
        this.#wrote = false;
        this.#enqueue(() => this.#store.drop(this.key));
      }
      return;
    }
    this.#pending = value;
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.#delay);
  }

  /** Writes now what is due, if anything; answers once every write asked so far
   *  landed (the person leaves the form, or locks the case file). */
  flush(): Promise<unknown> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const value = this.#pending;
    this.#pending = undefined;
    if (value !== undefined && this.keeping) {
      const text = JSON.stringify({ ...value, savedAt: this.#now().toISOString() });
      this.#wrote = true;
      this.#enqueue(() => this.#store.save(this.key, text));
    }
    return this.#chain;
  }

  /** Resumes the draft offered: `apply` sets the form from it (reading what it needs
   *  first, then setting everything at once: a half-set form is never written over the
   *  whole one); the offer ends once it did. If `apply` throws, the offer stays. */
  async resume(apply: (kept: Kept<T>) => unknown) {
    const kept = this.offered;
    if (!kept) return;
    await apply(kept);
    // The draft is the form's own now: what is typed next is written over it.
    this.#wrote = true;
    this.offered = null;
  }

  /** Drops the draft kept under the key (the one offered, or this form's), once any
   *  write of it under way landed. What is typed next is kept again. */
  async drop() {
    this.offered = null;
    this.#cancel();
    this.#wrote = false;
    await this.#enqueue(() => this.#store.drop(this.key));
  }

  /** The form was saved or abandoned: nothing more is written, and its draft goes (a
   *  draft still offered, of another time, stays). */
  async close() {
    const offered = this.offered !== null;
    this.#phase = "closed";
    this.#cancel();
    if (offered) {
      await this.#chain;
      return;
    }
    this.offered = null;
    this.#wrote = false;
    await this.#enqueue(() => this.#store.drop(this.key));
  }

  /** The form goes (a lock, an erasure, a screen left): nothing more is written; what
   *  was not written yet is not. The draft kept stays. */
  stop() {
    this.#phase = "closed";
    this.#cancel();
  }

  #cancel() {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = undefined;
  }

  #enqueue(step: () => Promise<unknown>): Promise<unknown> {
    this.#chain = this.#chain.then(step).catch(() => {});
    return this.#chain;
  }
}
