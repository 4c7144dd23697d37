import { describe, expect, it } from "vitest";
import { addDays, addMonths, clampDay, dayOf, inRange, monthWeeks, moveByKey, moveByMonths, openingDay, pickedText, weekday } from "./calendar";
import { parseDateTime, parseDay } from "./dates";

describe("a month as the calendar shows it", () => {
  it("starts its weeks on Monday, a month starting on a Sunday too", () => {
    // 1 November 2026 is a Sunday: the first week is Monday 26 October to that Sunday.
    const weeks = monthWeeks("2026-11");
    expect(weekday("2026-11-01")).toBe(6);
    expect(weeks[0]).toEqual(["2026-10-26", "2026-10-27", "2026-10-28", "2026-10-29", "2026-10-30", "2026-10-31", "2026-11-01"]);
    expect(weeks).toHaveLength(6);
    expect(weeks[5]).toEqual(["2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04", "2026-12-05", "2026-12-06"]);
    for (const week of weeks) expect(weekday(week[0])).toBe(0);
  });

  it("holds 29 February in a leap year, and a February of four whole weeks", () => {
    const leap = monthWeeks("2028-02").flat();
    expect(leap).toContain("2028-02-29");
    expect(leap.filter((d) => d.startsWith("2028-02"))).toHaveLength(29);
    expect(monthWeeks("2026-02").flat().filter((d) => d.startsWith("2026-02"))).toHaveLength(28);
    // 1 February 2027 is a Monday and the 28th a Sunday: four weeks, no other month's day.
    expect(monthWeeks("2027-02")).toHaveLength(4);
    expect(monthWeeks("2027-02")[0][0]).toBe("2027-02-01");
  });

  it("crosses a year's end", () => {
    const weeks = monthWeeks("2026-12");
    expect(weeks[weeks.length - 1]).toEqual(["2026-12-28", "2026-12-29", "2026-12-30", "2026-12-31", "2027-01-01", "2027-01-02", "2027-01-03"]);
    expect(monthWeeks("2027-01")[0][0]).toBe("2026-12-28");
  });
});

describe("moving in the calendar", () => {
  it("moves by day, week and month across a year's end", () => {
    expect(addDays("2026-12-31", 1)).toBe("2027-01-01");
    expect(moveByKey("2026-12-31", "ArrowRight")).toBe("2027-01-01");
    expect(moveByKey("2027-01-01", "ArrowLeft")).toBe("2026-12-31");
    expect(moveByKey("2026-12-29", "ArrowDown")).toBe("2027-01-05");
    expect(moveByKey("2027-01-05", "ArrowUp")).toBe("2026-12-29");
    expect(moveByKey("2026-12-15", "PageDown")).toBe("2027-01-15");
    expect(moveByKey("2027-01-15", "PageUp")).toBe("2026-12-15");
    expect(moveByKey("2026-11-29", "PageDown", undefined, true)).toBe("2027-11-29");
    expect(moveByKey("2026-11-29", "Tab")).toBeUndefined();
  });

  it("goes to the week's Monday and Sunday", () => {
    // Thursday 31 December 2026: its week runs from Monday 28 December to Sunday 3 January.
    expect(moveByKey("2026-12-31", "Home")).toBe("2026-12-28");
    expect(moveByKey("2026-12-31", "End")).toBe("2027-01-03");
    expect(moveByKey("2026-11-30", "Home")).toBe("2026-11-30");
    expect(moveByKey("2026-11-29", "End")).toBe("2026-11-29");
  });

  it("keeps a month's day, or takes its last", () => {
    expect(addMonths("2026-01-31", 1)).toBe("2026-02-28");
    expect(addMonths("2028-01-31", 1)).toBe("2028-02-29");
    expect(addMonths("2028-02-29", 12)).toBe("2029-02-28");
    expect(addMonths("2026-03-31", -1)).toBe("2026-02-28");
    expect(addMonths("2026-01-10", -1)).toBe("2025-12-10");
  });

  it("stays within the field's range", () => {
    const range = { min: "1900-01-01", max: "2026-11-30" };
    expect(moveByKey("2026-11-30", "ArrowRight", range)).toBe("2026-11-30");
    expect(moveByKey("2026-11-28", "ArrowDown", range)).toBe("2026-11-30");
    expect(moveByKey("2026-11-15", "PageDown", range)).toBe("2026-11-30");
    expect(moveByKey("2026-11-30", "End", range)).toBe("2026-11-30");
    expect(moveByKey("1900-01-03", "ArrowUp", range)).toBe("1900-01-01");
    expect(moveByKey("1900-01-03", "Home", range)).toBe("1900-01-01");
    expect(clampDay("2030-01-01", range)).toBe("2026-11-30");
    expect(inRange("2026-12-01", range)).toBe(false);
    expect(inRange("2026-11-30", range)).toBe(true);
    expect(inRange("1850-01-01")).toBe(true);
  });

  it("offers a month's button while that month has a day within the range", () => {
    const range = { min: "2026-10-20", max: "2026-12-05" };
    expect(moveByMonths("2026-11-10", -1, range)).toBe("2026-10-20");
    expect(moveByMonths("2026-10-25", -1, range)).toBeUndefined();
    expect(moveByMonths("2026-11-10", 1, range)).toBe("2026-12-05");
    expect(moveByMonths("2026-12-01", 1, range)).toBeUndefined();
    expect(moveByMonths("2026-11-10", 12, range)).toBe("2026-12-05");
    expect(moveByMonths("2026-12-31", 1)).toBe("2027-01-31");
  });
});

describe("opening and picking", () => {
  it("opens on the field's day, month or year, else today, within the range", () => {
    const births = { min: "1900-01-01", max: "2026-11-30" };
    expect(openingDay("1991-03-14", "14/03/1991", "2026-11-30", births)).toBe("1991-03-14");
    expect(openingDay("1991-03", "03/1991", "2026-11-30", births)).toBe("1991-03-01");
    expect(openingDay("1991", "1991", "2026-11-30", births)).toBe("1991-01-01");
    expect(openingDay("", "", "2026-11-30", births)).toBe("2026-11-30");
    expect(openingDay("", "", "2026-11-30", { min: "2027-01-01" })).toBe("2027-01-01");
    expect(openingDay("2026-11-29T10:15", "29/11/2026 10:15", "2026-11-30")).toBe("2026-11-29");
    // A time still to type: the day typed so far.
    expect(openingDay("", "29/11/2026", "2026-12-05")).toBe("2026-11-29");
    expect(dayOf("", "29/11")).toBeUndefined();
  });

  it("writes the day as typed, and keeps a time already typed", () => {
    expect(pickedText("2026-11-29", "", false)).toBe("29/11/2026");
    expect(pickedText("2026-03-04", "1991", false)).toBe("04/03/2026");
    expect(parseDay(pickedText("2026-03-04", "", false))).toEqual({ value: "2026-03-04" });
    expect(pickedText("2026-11-29", "28/11/2026 10:15", true)).toBe("29/11/2026 10:15");
    expect(pickedText("2026-11-29", "28/11/2026 9h05", true)).toBe("29/11/2026 9h05");
    expect(pickedText("2026-11-29", "2026-11-28T10:15", true)).toBe("29/11/2026 10:15");
    expect(pickedText("2026-11-29", "10:15", true)).toBe("29/11/2026 10:15");
    expect(parseDateTime(pickedText("2026-11-29", "28/11/2026 10:15", true))).toEqual({ value: "2026-11-29T10:15" });
    // No time yet: the day alone, the time left to type.
    expect(pickedText("2026-11-29", "", true)).toBe("29/11/2026");
    expect(pickedText("2026-11-29", "28/11/2026", true)).toBe("29/11/2026");
  });
});
