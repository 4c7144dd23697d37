import { describe, expect, it } from "vitest";
import {
  endOfNextYear,
  fillSeparators,
  followTyping,
  parseApproxDay,
  parseDateTime,
  parseDay,
  showDateTime,
  showDay,
  toRfc3339In,
  wallClockIn,
} from "./dates";

const today = new Date(2026, 10, 30);
const visits = { max: endOfNextYear(today) };

describe("a day as typed", () => {
  it("reads day, month, year whatever the separator", () => {
    for (const text of ["29/11/2026", "29.11.2026", "29-11-2026", "29 11 2026", " 29/11/2026 ", "2026-11-29"]) {
      expect(parseDay(text, undefined, today)).toEqual({ value: "2026-11-29" });
    }
    expect(parseDay("1/2/2026", undefined, today)).toEqual({ value: "2026-02-01" });
  });

  it("never reads a month first", () => {
    // 29/11 is the 29th of November, never the 11th of a 29th month.
    expect(parseDay("11/29/2026", undefined, today)).toEqual({ error: "no_such_day" });
    expect(parseDay("12/11/2026", undefined, today)).toEqual({ value: "2026-11-12" });
  });

  it("takes a two-digit year in this century up to next year", () => {
    expect(parseDay("29/11/26", undefined, today)).toEqual({ value: "2026-11-29" });
    expect(parseDay("01/01/27", undefined, today)).toEqual({ value: "2027-01-01" });
    expect(parseDay("14/03/91", undefined, today)).toEqual({ value: "1991-03-14" });
  });

  it("refuses days that do not exist and text that is not a date", () => {
    expect(parseDay("31/04/2026")).toEqual({ error: "no_such_day" });
    expect(parseDay("29/02/2026")).toEqual({ error: "no_such_day" });
    expect(parseDay("29/02/2028")).toEqual({ value: "2028-02-29" });
    expect(parseDay("00/01/2026")).toEqual({ error: "no_such_day" });
    for (const text of ["demain", "29/11", "2911/2026", "29/11/202610", "29/11/2026 10:15"]) {
      expect(parseDay(text)).toEqual({ error: "format" });
    }
    expect(parseDay("")).toEqual({ value: "" });
  });

  it("keeps to its range and says which bound", () => {
    expect(parseDay("31/12/2999", visits, today)).toEqual({ error: "after", limit: "2027-12-31" });
    expect(parseDay("31/12/2027", visits, today)).toEqual({ value: "2027-12-31" });
    expect(parseDay("31/12/1899", { min: "1900-01-01" })).toEqual({ error: "before", limit: "1900-01-01" });
  });
});

describe("an approximate birth date", () => {
  it("is a year, a month and year, or a day", () => {
    expect(parseApproxDay("1991")).toEqual({ value: "1991" });
    expect(parseApproxDay("03/1991")).toEqual({ value: "1991-03" });
    expect(parseApproxDay("3/1991")).toEqual({ value: "1991-03" });
    expect(parseApproxDay("1991-03")).toEqual({ value: "1991-03" });
    expect(parseApproxDay("14/03/1991")).toEqual({ value: "1991-03-14" });
    expect(parseApproxDay("1991-03-14")).toEqual({ value: "1991-03-14" });
  });

  it("refuses what is none of these, and births before 1900 or to come", () => {
    expect(parseApproxDay("mars 1991")).toEqual({ error: "format_approx" });
    expect(parseApproxDay("13/1991")).toEqual({ error: "no_such_day" });
    const births = { min: "1900-01-01", max: "2026-11-30" };
    expect(parseApproxDay("1899", births)).toEqual({ error: "before", limit: "1900" });
    expect(parseApproxDay("12/2026", births)).toEqual({ error: "after", limit: "2026-11" });
    expect(parseApproxDay("01/12/2026", births)).toEqual({ error: "after", limit: "2026-11-30" });
  });
});

describe("a date and time", () => {
  it("reads a 24-hour time after the day", () => {
    expect(parseDateTime("29/11/2026 10:15", undefined, today)).toEqual({ value: "2026-11-29T10:15" });
    expect(parseDateTime("29/11/2026 9h05", undefined, today)).toEqual({ value: "2026-11-29T09:05" });
    expect(parseDateTime("2026-11-29T10:15")).toEqual({ value: "2026-11-29T10:15" });
  });

  it("refuses a month first, a time that does not exist, a day alone", () => {
    // Typed the American way, this gave the year 202610.
    expect(parseDateTime("11/29/2026 10:15")).toEqual({ error: "no_such_day" });
    expect(parseDateTime("29/11/2026 24:00")).toEqual({ error: "no_such_time" });
    expect(parseDateTime("29/11/2026")).toEqual({ error: "format_time" });
    expect(parseDateTime("29/11/2026 10:15 pm")).toEqual({ error: "format_time" });
    expect(parseDateTime("31/12/2999 10:00", visits, today)).toEqual({ error: "after", limit: "2027-12-31" });
  });
});

describe("what is shown and typed", () => {
  it("shows stored days and times as they are typed", () => {
    expect(showDay("2026-11-29")).toBe("29/11/2026");
    expect(showDay("1991-03")).toBe("03/1991");
    expect(showDay("1991")).toBe("1991");
    expect(showDay(null)).toBe("");
    expect(showDateTime("2026-11-29T10:15")).toBe("29/11/2026 10:15");
    for (const text of ["29/11/2026", "03/1991", "1991"]) {
      const parsed = parseApproxDay(text);
      expect("value" in parsed && showDay(parsed.value)).toBe(text);
    }
  });

  it("puts the separators in as digits come", () => {
    expect(fillSeparators("29", false)).toBe("29");
    expect(fillSeparators("2911", false)).toBe("29/11");
    expect(fillSeparators("29112026", false)).toBe("29/11/2026");
    expect(fillSeparators("291120261015", true)).toBe("29/11/2026 10:15");
    expect(fillSeparators("29/11", false)).toBe("29/11");
    expect(fillSeparators("1991", false, true)).toBe("1991");
    expect(fillSeparators("031991", false, true)).toBe("03/1991");
    expect(fillSeparators("14031991", false, true)).toBe("14/03/1991");
  });

  it("follows a person typing digit after digit, and leaves their own separators", () => {
    const type = (keys: string, withTime: boolean) => [...keys].reduce((text, key) => followTyping(text + key, withTime), "");
    expect(type("15122026", false)).toBe("15/12/2026");
    expect(type("291120261015", true)).toBe("29/11/2026 10:15");
    expect(type("1/2/2026", false)).toBe("1/2/2026");
    expect(type("29/11/2026 9h05", true)).toBe("29/11/2026 9h05");
    expect(parseDateTime(type("291120261015", true))).toEqual({ value: "2026-11-29T10:15" });
    // A backspace after a separator the filler put: the person's text stays theirs.
    expect(followTyping("29/", false)).toBe("29/");
  });
});

describe("the organisation's time zone", () => {
  it("writes the offset of the zone on that day", () => {
    expect(toRfc3339In("2026-11-29T10:15", "Europe/Paris")).toBe("2026-11-29T10:15:00+01:00");
    expect(toRfc3339In("2026-07-01T10:15", "Europe/Paris")).toBe("2026-07-01T10:15:00+02:00");
    expect(toRfc3339In("2026-11-29T10:15", "Europe/Bucharest")).toBe("2026-11-29T10:15:00+02:00");
    expect(toRfc3339In("2026-11-29T10:15", "UTC")).toBe("2026-11-29T10:15:00+00:00");
    // Both sides of the autumn change, and 02:30, which the clocks show twice: the first.
    expect(toRfc3339In("2026-10-25T01:30", "Europe/Paris")).toBe("2026-10-25T01:30:00+02:00");
    expect(toRfc3339In("2026-10-25T02:30", "Europe/Paris")).toBe("2026-10-25T02:30:00+02:00");
    expect(toRfc3339In("2026-10-25T03:30", "Europe/Paris")).toBe("2026-10-25T03:30:00+01:00");
    // 02:30 on 29 March 2026 never happens in Paris: the offset after the jump.
    expect(toRfc3339In("2026-03-29T02:30", "Europe/Paris")).toBe("2026-03-29T02:30:00+02:00");
  });

  it("reads an instant on the zone's clocks, whatever the device's", () => {
    const at = new Date("2026-10-31T23:30:00Z");
    expect(wallClockIn(at, "Europe/Paris")).toBe("2026-11-01T00:30");
    expect(wallClockIn(at, "Europe/Bucharest")).toBe("2026-11-01T01:30");
    expect(wallClockIn(at, "UTC")).toBe("2026-10-31T23:30");
  });
});
