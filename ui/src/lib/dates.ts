// Dates as a counsellor types and reads them, whatever the system's language: day, month,
// year (`29/11/2026`) and a 24-hour clock (`10:15`), in French as in English (the app's
// English is British). What the forms keep is what the case file stores: `YYYY-MM-DD`
// for a day (`YYYY` or `YYYY-MM` for an approximate birth date) and `YYYY-MM-DDTHH:MM`
// for a time, read in the organisation's time zone (`toRfc3339In`, `wallClockIn`).
// No DOM here: vitest tests it (dates.test.ts).

/** What a typed date is, or why it is refused. */
export type Parsed = { value: string } | { error: DateError; limit?: string };

/** Why a typed date is refused; each has its sentence in messages.ts (`date.error.*`). */
export type DateError = "format" | "format_time" | "format_approx" | "no_such_day" | "no_such_time" | "before" | "after";

/** The days a field takes, both included, as `YYYY-MM-DD`. */
export type Range = { min?: string; max?: string };

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** A two-digit year as a person means it: up to next year's, this century; else the last. */
function fullYear(text: string, today: Date): number {
  const n = Number(text);
  if (text.length !== 2) return n;
  const next = (today.getFullYear() + 1) % 100;
  return n <= next ? 2000 + n : 1900 + n;
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function inRange(value: string, range: Range | undefined): Parsed {
  // Compare days only: a time `2026-11-29T10:15` is on day `2026-11-29`.
  const day = value.slice(0, 10);
  if (range?.min && day < range.min) return { error: "before", limit: range.min };
  if (range?.max && day > range.max) return { error: "after", limit: range.max };
  return { value };
}

/** A calendar day, `d/m/yyyy` (`/`, `.`, `-` or a space between; a two-digit year taken
 *  in this century up to next year) or ISO `yyyy-mm-dd`, as `YYYY-MM-DD`. Empty: empty. */
export function parseDay(text: string, range?: Range, today = new Date()): Parsed {
  const t = text.trim();
  if (!t) return { value: "" };
  let y: number, m: number, d: number;
  const iso = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(t);
  const dmy = /^(\d{1,2})[/.\- ](\d{1,2})[/.\- ](\d{4}|\d{2})$/.exec(t);
  if (iso) [y, m, d] = [Number(iso[1]), Number(iso[2]), Number(iso[3])];
  else if (dmy) [d, m, y] = [Number(dmy[1]), Number(dmy[2]), fullYear(dmy[3], today)];
  else return { error: "format" };
  if (m < 1 || m > 12 || d < 1 || d > daysIn(y, m)) return { error: "no_such_day" };
  return inRange(`${pad(y, 4)}-${pad(m)}-${pad(d)}`, range);
}

/** A birth date known to the year (`1991`), the month (`03/1991`) or the day: as
 *  `YYYY`, `YYYY-MM` or `YYYY-MM-DD` (ISO forms are read too). */
export function parseApproxDay(text: string, range?: Range, today = new Date()): Parsed {
  const t = text.trim();
  if (!t) return { value: "" };
  const year = /^\d{4}$/.exec(t);
  if (year) return inRange(t, range && { min: range.min?.slice(0, 4), max: range.max?.slice(0, 4) });
  const monthYear = /^(\d{1,2})[/.\- ](\d{4})$/.exec(t);
  const isoMonth = /^(\d{4})-(\d{1,2})$/.exec(t);
  if (monthYear || isoMonth) {
    const [m, y] = monthYear ? [Number(monthYear[1]), Number(monthYear[2])] : [Number(isoMonth![2]), Number(isoMonth![1])];
    if (m < 1 || m > 12) return { error: "no_such_day" };
    return inRange(`${pad(y, 4)}-${pad(m)}`, range && { min: range.min?.slice(0, 7), max: range.max?.slice(0, 7) });
  }
  const day = parseDay(t, range, today);
  return "error" in day && day.error === "format" ? { error: "format_approx" } : day;
}

/** A date and a 24-hour time, `d/m/yyyy hh:mm` (or `10h15`, `10.15`; ISO
 *  `yyyy-mm-ddThh:mm` is read too), as `YYYY-MM-DDTHH:MM`. */
export function parseDateTime(text: string, range?: Range, today = new Date()): Parsed {
  const t = text.trim();
  if (!t) return { value: "" };
  const m = /^(.+?)[ T]+(\d{1,2})[:hH.](\d{2})$/.exec(t);
  if (!m) return { error: "format_time" };
  const day = parseDay(m[1], undefined, today);
  if ("error" in day) return day.error === "format" ? { error: "format_time" } : day;
  const [h, min] = [Number(m[2]), Number(m[3])];
  if (h > 23 || min > 59) return { error: "no_such_time" };
  return inRange(`${day.value}T${pad(h)}:${pad(min)}`, range);
}

/** A stored day (`YYYY-MM-DD`, `YYYY-MM`, `YYYY`) as typed back: `29/11/2026`, `03/1991`. */
export function showDay(value: string | null | undefined): string {
  if (!value) return "";
  const [y, m, d] = value.slice(0, 10).split("-");
  if (d) return `${d}/${m}/${y}`;
  if (m) return `${m}/${y}`;
  return y;
}

/** A stored wall-clock time (`YYYY-MM-DDTHH:MM`) as typed back: `29/11/2026 10:15`. */
export function showDateTime(value: string | null | undefined): string {
  if (!value) return "";
  return `${showDay(value.slice(0, 10))} ${value.slice(11, 16)}`;
}

/** What is being typed, with the separators put in as digits come: `2911` reads
 *  `29/11`, `291120261015` reads `29/11/2026 10:15`. Text holding a separator already is
 *  left as typed, and so is a year alone (`1991`) when `approx`. */
export function fillSeparators(typed: string, withTime: boolean, approx = false): string {
  if (!/^\d+$/.test(typed)) return typed;
  if (approx && typed.length <= 4) return typed;
  if (approx && typed.length === 6) return `${typed.slice(0, 2)}/${typed.slice(2)}`;
  let out = typed.slice(0, 2);
  if (typed.length > 2) out += "/" + typed.slice(2, 4);
  if (typed.length > 4) out += "/" + typed.slice(4, 8);
  if (withTime && typed.length > 8) out += " " + typed.slice(8, 10);
  if (withTime && typed.length > 10) out += ":" + typed.slice(10, 12);
  return out;
}

/** The field's text after a keystroke or a paste that left `raw`: digits typed after
 *  text this filler made get their separators (`29/1` then `2` reads `29/12`); text the
 *  person punctuated themselves (`1/2/2026`) is left as typed. */
export function followTyping(raw: string, withTime: boolean): string {
  if (/^\d+$/.test(raw)) return fillSeparators(raw, withTime);
  if (!/\d$/.test(raw)) return raw;
  const digits = raw.replace(/\D/g, "");
  const before = fillSeparators(digits.slice(0, -1), withTime);
  return raw.slice(0, -1) === before ? fillSeparators(digits, withTime) : raw;
}

/** Today as `YYYY-MM-DD` in `zone` (the device's own when none). */
export function todayIn(zone?: string, now = new Date()): string {
  return wallClockIn(now, zone).slice(0, 10);
}

/** The last day of next year: no visit, step or next visit is planned later. */
export function endOfNextYear(today = new Date()): string {
  return `${today.getFullYear() + 1}-12-31`;
}

/** The earliest birth date taken. */
export const FIRST_BIRTH_DAY = "1900-01-01";

/** A formatter of wall-clock parts in `zone`, or in the device's zone when `zone` is
 *  unset or unknown to this engine. */
function partsIn(zone: string | undefined): Intl.DateTimeFormat {
  const options: Intl.DateTimeFormatOptions = {
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  };
  try {
    return new Intl.DateTimeFormat("en-GB", { ...options, timeZone: zone });
  } catch {
    return new Intl.DateTimeFormat("en-GB", options);
  }
}

/** The instant `at` as the clocks of `zone` show it, `YYYY-MM-DDTHH:MM`. */
export function wallClockIn(at: Date, zone?: string): string {
  const p = Object.fromEntries(partsIn(zone).formatToParts(at).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

/** `zone`'s offset from UTC at the instant `ms`, in minutes. */
function offsetAt(ms: number, zone: string | undefined): number {
  const p = Object.fromEntries(partsIn(zone).formatToParts(new Date(ms)).map((x) => [x.type, Number(x.value)]));
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return Math.round((wall - Math.floor(ms / 1000) * 1000) / 60000);
}

/** A wall-clock time of `zone` (`YYYY-MM-DDTHH:MM`) as RFC 3339 with that zone's offset
 *  then: `2026-11-29T10:15:00+01:00`. A time the clocks show twice (the autumn change)
 *  is the first; one they skip (the spring change) takes the offset after the change. */
export function toRfc3339In(local: string, zone?: string): string {
  const [date, time] = local.split("T");
  const [y, m, d] = date.split("-").map(Number);
  const [h, min] = time.split(":").map(Number);
  const guess = Date.UTC(y, m - 1, d, h, min);
  // The offsets half a day either side; an offset fits when the instant it gives shows
  // that wall-clock time.
  const before = offsetAt(guess - 43_200_000, zone);
  const after = offsetAt(guess + 43_200_000, zone);
  const fits = (o: number) => offsetAt(guess - o * 60000, zone) === o;
  const offset = fits(before) && fits(after) ? Math.max(before, after) : fits(before) ? before : after;
  const sign = offset >= 0 ? "+" : "-";
  const abs = Math.abs(offset);
  return `${date}T${pad(h)}:${pad(min)}:00${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}
