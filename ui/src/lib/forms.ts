// What every entry form shares.
import type { Value } from "./bindings";

/** The key of the visit being typed, kept in the case file (the visit form, Today). */
export const VISIT_DRAFT = "visit";

/** The longest key the case file keeps a draft under. */
const MAX_DRAFT_KEY = 100;

/** The key of a record form's draft (see `draft.svelte.ts`): `form.<kind>.<record id>`
 *  for a record being changed, `form.<kind>.new` for a new one, followed by the ids it
 *  is made for (`form.step.new.<person id>`, `form.person.new.<household id>.<site id>`,
 *  in the order of their fields' names): what was begun for one person is never
 *  offered in another's form. An erasure takes every draft whose key or text names the
 *  record erased (`casefile/src/drafts.rs`). */
export function recordDraftKey(kind: string, id?: string, preset: Record<string, Value> = {}): string {
  if (id) return `form.${kind}.${id}`;
  let key = `form.${kind}.new`;
  const ids = Object.entries(preset)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, value]) => value)
    .filter((value): value is string => typeof value === "string" && /^[A-Za-z0-9_-]+$/.test(value));
  for (const value of ids) {
    // Within the case file's limit: the first ids name the form well enough.
    if (key.length + 1 + value.length > MAX_DRAFT_KEY) break;
    key += `.${value}`;
  }
  return key;
}

/** Enter in a one-line field never submits the form it is in (a half-typed visit saved
 *  by a habit of the keyboard): only the save button does. Put on the `<form>`'s
 *  `onkeydown`. */
function enterDoesNotSubmit(event: KeyboardEvent) {
  const target = event.target;
  if (
    event.key === "Enter" &&
    target instanceof HTMLInputElement &&
    !["checkbox", "radio", "submit", "button", "reset", "file"].includes(target.type)
  ) {
    event.preventDefault();
  }
}

/** The action that puts [`enterDoesNotSubmit`] on a form: `<form use:noEnterSubmit>`. */
export function noEnterSubmit(form: HTMLFormElement) {
  form.addEventListener("keydown", enterDoesNotSubmit);
  return { destroy: () => form.removeEventListener("keydown", enterDoesNotSubmit) };
}
