// The calendar a date field opens (DateInput.svelte): a month as weeks from Monday to
// Sunday, in French as in English (the organisation is in France), the moves of its keys
// and buttons kept within the field's range, and the field's text once a day is picked.
// Days are `YYYY-MM-DD`, counted in UTC so that no time zone or clock change shifts them.
// No DOM here: vitest tests it (calendar.test.ts).
import { parseDay, showDay, type Range } from "./dates";

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

function toDate(day: string): Date {
  const [y, m, d] = day.split("-").map(Number);
  const date = new Date(Date.UTC(2000, m - 1, d));
  date.setUTCFullYear(y);
  return date;
}

function fromDate(date: Date): string {
  return `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** `day` moved by `n` days (back when negative). */
export function addDays(day: string, n: number): string {
  const date = toDate(day);
  date.setUTCDate(date.getUTCDate() + n);
  return fromDate(date);
}

/** `day` moved by `n` months, on the same day of the month or that month's last day
 *  (31 January and a month: 28 or 29 February). */
export function addMonths(day: string, n: number): string {
  const [y, m, d] = day.split("-").map(Number);
  const months = y * 12 + (m - 1) + n;
  const year = Math.floor(months / 12);
  const month = (months % 12) + 1;
  return `${pad(year, 4)}-${pad(month)}-${pad(Math.min(d, daysIn(year, month)))}`;
}

/** The day of the week of `day`: 0 for Monday to 6 for Sunday. */
export function weekday(day: string): number {
  return (toDate(day).getUTCDay() + 6) % 7;
}

/** The month `YYYY-MM` as the calendar shows it: weeks of seven days from Monday to
 *  Sunday, the first holding the 1st and the last the month's last day (their days of the
 *  months either side included). */
export function monthWeeks(month: string): string[][] {
  const first = `${month}-01`;
  const [y, m] = month.split("-").map(Number);
  const last = `${month}-${pad(daysIn(y, m))}`;
  const weeks: string[][] = [];
  for (let monday = addDays(first, -weekday(first)); monday <= last; monday = addDays(monday, 7)) {
    weeks.push(Array.from({ length: 7 }, (_, i) => addDays(monday, i)));
  }
  return weeks;
}

/** Whether `day` is one the field takes. */
export function inRange(day: string, range?: Range): boolean {
  return !(range?.min && day < range.min) && !(range?.max && day > range.max);
}

/** `day`, or the nearest day of the range when it is outside. */
export function clampDay(day: string, range?: Range): string {
  if (range?.min && day < range.min) return range.min;
  if (range?.max && day > range.max) return range.max;
  return day;
}

/** The day a key moves to from `day` in the calendar, within the range: the arrows by a
 *  day and a week, Page Up and Page Down by a month (by a year with Shift), Home and End to
 *  the week's Monday and Sunday. `undefined` for a key that does not move. */
export function moveByKey(day: string, key: string, range?: Range, shift = false): string | undefined {
  let to: string;
  switch (key) {
    case "ArrowLeft":
      to = addDays(day, -1);
      break;
    case "ArrowRight":
      to = addDays(day, 1);
      break;
    case "ArrowUp":
      to = addDays(day, -7);
      break;
    case "ArrowDown":
      to = addDays(day, 7);
      break;
    case "PageUp":
      to = addMonths(day, shift ? -12 : -1);
      break;
    case "PageDown":
      to = addMonths(day, shift ? 12 : 1);
      break;
    case "Home":
      to = addDays(day, -weekday(day));
      break;
    case "End":
      to = addDays(day, 6 - weekday(day));
      break;
    default:
      return undefined;
  }
  return clampDay(to, range);
}

/** The day the previous or next month's button (or year's: `months` ±12) goes to from
 *  `day`, within the range; `undefined` when that leaves no day of another month (the
 *  button is then disabled). */
export function moveByMonths(day: string, months: number, range?: Range): string | undefined {
  const to = clampDay(addMonths(day, months), range);
  return to.slice(0, 7) === day.slice(0, 7) ? undefined : to;
}

/** The full day the field holds or starts to hold, if any: its value's day (a time's day
 *  too), else the day its text begins with (a time still to type). */
export function dayOf(value: string | undefined, text: string): string | undefined {
  if (value && /^\d{4}-\d{2}-\d{2}/.test(value)) return value.slice(0, 10);
  const typed = parseDay(text.trim().split(/\s+/)[0] ?? "");
  return "value" in typed && typed.value ? typed.value : undefined;
}

/** The day the calendar opens on: the field's day; else the first of its month or year
 *  (an approximate birth date, `1991-03` or `1991`); else today; within the range. */
export function openingDay(value: string | undefined, text: string, today: string, range?: Range): string {
  const day = dayOf(value, text);
  if (day) return clampDay(day, range);
  if (value && /^\d{4}-\d{2}$/.test(value)) return clampDay(`${value}-01`, range);
  if (value && /^\d{4}$/.test(value)) return clampDay(`${value}-01-01`, range);
  return clampDay(today, range);
}

/** The field's text once `day` is picked, as typed: `29/11/2026`; with a time, the time
 *  already typed after the day kept as it is (`29/11/2026 10:15`), or none yet. */
export function pickedText(day: string, typed: string, withTime: boolean): string {
  if (!withTime) return showDay(day);
  const t = typed.trim();
  const after = /^\S+?(?:\s+|T(?=\d))(.+)$/.exec(t);
  const time = after ? after[1] : /^\d{1,2}[:hH.]\d{2}$/.test(t) ? t : "";
  return time ? `${showDay(day)} ${time}` : showDay(day);
}
