// Every word the UI shows, in French first and English second. Field and value labels
// follow the record kinds of DOMAIN.md; errors follow the kinds of `AppError`.
import type { AppError } from "./bindings";
import { fr, en, type Messages, type MessageKey } from "./messages";
import { formatMessage } from "./messageFormat";

export type Lang = "fr" | "en";
export type { MessageKey };

const STORAGE_KEY = "passerelle.lang";
const tables: Record<Lang, Messages> = { fr, en };

function initial(): Lang {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    if (stored === "fr" || stored === "en") return stored;
  } catch {
    // No storage: French.
  }
  return "fr";
}

export const i18n = $state({
  lang: initial(),
  /** The organisation's time zone (IANA name, `UTC` or an offset), once the case file is
   *  open: every time is shown and typed on its clocks, as the sheets print them. */
  timeZone: undefined as string | undefined,
});

/** Takes the organisation's time zone, unless this engine does not know it (then the
 *  device's zone stays). */
export function setTimeZone(zone: string | undefined) {
  try {
    new Intl.DateTimeFormat("en-GB", { timeZone: zone });
    i18n.timeZone = zone || undefined;
  } catch {
    i18n.timeZone = undefined;
  }
}

export function setLang(lang: Lang) {
  i18n.lang = lang;
  document.documentElement.lang = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // The choice lasts for this session only.
  }
}

/** The message `key`, filled from `params` (see messageFormat.ts). A message holds:
 *  - `{name}`: the param `name`, as `String(value)` (nothing if it is missing);
 *  - `{name, plural, one {…} other {…}}`: the branch for the number `name`, chosen by
 *    `Intl.PluralRules` of the language (French: 0 and 1 are `one`; English: 1 only). `other`
 *    is required and stands for any category a message does not give (French `many`, for a
 *    million); `=0 {…}` (any whole number) wins over the categories. In a branch, `#` is the
 *    number, printed as `{name}` would be, and `{other_param}` is filled as usual:
 *    "{n, plural, one {# fichier supprimé} other {# fichiers supprimés}} du dossier."
 *  Never "fichier(s)": a test (i18n.test.ts) refuses the hand-made forms. */
export function t(key: MessageKey, params: Record<string, string | number> = {}): string {
  const text: string = tables[i18n.lang].text[key] ?? fr.text[key] ?? key;
  return formatMessage(text, params, i18n.lang);
}

/** The label of a field of a kind. */
export function fieldLabel(kind: string, field: string): string {
  const table = tables[i18n.lang].fields;
  return table[`${kind}.${field}`] ?? table[field] ?? field;
}

/** The label of a choice value of a field. */
export function choiceLabel(field: string, value: string): string {
  const table = tables[i18n.lang].choices;
  return table[`${field}.${value}`] ?? table[value] ?? value;
}

/** The name of a kind. */
export function kindLabel(kind: string): string {
  return tables[i18n.lang].kinds[kind] ?? kind;
}

/** A sentence a person can act on, for an error of a command (never Rust's own text). */
export function errorText(error: AppError | unknown): string {
  if (!error || typeof error !== "object" || !("kind" in error)) return t("error.internal");
  const e = error as AppError;
  switch (e.kind) {
    case "invalid":
      return t("error.invalid", { field: fieldLabel("", e.field) });
    case "too_large":
      return t("error.too_large", { field: fieldLabel("", e.field) });
    case "save_failed":
      return t("error.save_failed", { path: e.path });
    case "open_failed":
      return t("error.open_failed", { path: e.path });
    case "newer_file":
      return t("error.newer_file", { found: e.found, supported: e.supported });
    case "unlock_backoff":
      return t("error.unlock_backoff", { wait: waitText(e.wait_seconds) });
    case "enrolment_limited":
      return t("error.enrolment_limited", { wait: waitText(e.wait_seconds) });
    case "weak_passphrase":
      return t("error.weak_passphrase", { reason: e.reason });
    case "bad_document":
      return t(`error.bad_document.${e.problem}` as MessageKey);
    default:
      return t(`error.${e.kind}` as MessageKey);
  }
}

/** A wait in seconds as a person reads it: "45 s", "2 min" (rounded up). */
function waitText(seconds: number): string {
  return seconds < 60 ? `${seconds} s` : `${Math.ceil(seconds / 60)} min`;
}

/** Why a record was set aside, and what to do, for a `why` code of the set-aside list. */
export function setAsideText(why: string, kind: string | null): { title: string; help: string } {
  const known = ["kind_clash", "record_too_large", "too_large", "forged_dot", "dropped_entry", "invalid_record", "held"];
  const key = known.includes(why) ? why : "other";
  return {
    title: t(`setaside.why.${key}` as MessageKey),
    help: t(`setaside.help.${key}` as MessageKey, { code: why, kind: kind ? kindLabel(kind) : "" }),
  };
}

/** A date `YYYY-MM-DD` (or `YYYY`, `YYYY-MM`) or a timestamp, in the language's format. */
export function formatDate(text: string | null | undefined, withTime = false): string {
  if (!text) return "";
  const locale = i18n.lang === "fr" ? "fr-FR" : "en-GB";
  if (/^\d{4}$/.test(text)) return text;
  if (/^\d{4}-\d{2}$/.test(text)) {
    const [y, m] = text.split("-").map(Number);
    return new Intl.DateTimeFormat(locale, { month: "long", year: "numeric" }).format(new Date(y, m - 1, 1));
  }
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    const [y, m, d] = text.split("-").map(Number);
    return new Intl.DateTimeFormat(locale, { day: "numeric", month: "long", year: "numeric" }).format(new Date(y, m - 1, d));
  }
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return text;
  return new Intl.DateTimeFormat(locale, {
    day: "numeric",
    month: "long",
    year: "numeric",
    timeZone: i18n.timeZone,
    ...(withTime ? { hour: "2-digit", minute: "2-digit", hourCycle: "h23" } : {}),
  }).format(date);
}

/** A day (`YYYY-MM-DD`) or a timestamp as a short date, `12/11/2026`. */
export function formatShortDate(text: string | null | undefined): string {
  if (!text) return "";
  const locale = i18n.lang === "fr" ? "fr-FR" : "en-GB";
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const date = day ? new Date(Number(day[1]), Number(day[2]) - 1, Number(day[3])) : new Date(text);
  if (Number.isNaN(date.getTime())) return text;
  return new Intl.DateTimeFormat(locale, { day: "2-digit", month: "2-digit", year: "numeric", timeZone: day ? undefined : i18n.timeZone }).format(date);
}

/** A size in bytes as a person reads it: "850 Ko", "3,2 Mo" (1 Mo = 1 048 576 octets). */
export function formatBytes(bytes: number): string {
  const locale = i18n.lang === "fr" ? "fr-FR" : "en-GB";
  const kb = bytes / 1024;
  if (kb < 1000) return t("size.kb", { n: new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(Math.max(kb, bytes > 0 ? 1 : 0)) });
  const mb = kb / 1024;
  return t("size.mb", { n: new Intl.NumberFormat(locale, { maximumFractionDigits: mb < 100 ? 1 : 0 }).format(mb) });
}
