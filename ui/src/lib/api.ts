// Calling the shell: every command goes through the generated `commands` (never a
// hand-typed command name); a failed command throws a `CommandError` carrying the typed
// `AppError`, which the UI translates.
import type { AppError, RecordView, Value } from "./bindings";
import { errorText } from "./i18n.svelte";

export class CommandError extends Error {
  constructor(readonly error: AppError) {
    super(error.kind);
  }
}

type Answer<T> = { status: "ok"; data: T } | { status: "error"; error: AppError };

let onLocked: () => void = () => {};

/** What to do when a command finds the case file locked (back to the unlock screen). */
export function whenLocked(f: () => void) {
  onLocked = f;
}

/** The data of a command's answer; throws a `CommandError` on its error. */
export async function call<T>(answer: Promise<Answer<T>>): Promise<T> {
  const result = await answer;
  if (result.status === "error") {
    if (result.error.kind === "locked") onLocked();
    throw new CommandError(result.error);
  }
  return result.data;
}

/** A sentence for any error a screen caught. */
export function describe(error: unknown): string {
  if (error instanceof CommandError) return errorText(error.error);
  return errorText(undefined);
}

/** The text of a value (`null` and absent give ""). */
export function text(value: Value | undefined): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.map(text).join(", ");
  return String(value);
}

/** What a person, site, household or other record is called. */
export function label(record: RecordView | undefined): string {
  if (!record) return "";
  const v = record.values;
  switch (record.kind) {
    case "person":
      return [text(v.family_name).toUpperCase(), text(v.given_names)].filter(Boolean).join(" ");
    case "site":
    case "household":
      return text(v.name);
    case "step":
    case "training":
    case "attachment":
      return text(v.title);
    case "visit":
      return text(v.purpose);
    case "employment":
      return [text(v.job_title), text(v.employer)].filter(Boolean).join(" — ");
    case "referral":
      return text(v.to_service);
    default:
      return record.id.slice(0, 8);
  }
}

/** Today as `YYYY-MM-DD`, on the device's clock. */
export function localDay(date = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}
