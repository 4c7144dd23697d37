import { describe, expect, it } from "vitest";
import { recordDraftKey } from "./forms";

const person = "0195f3a2-7c1d-7b3e-9a4f-2d6c8e1b5a70";
const household = "0195f3a2-7c1d-7b3e-9a4f-2d6c8e1b5a71";
const site = "0195f3a2-7c1d-7b3e-9a4f-2d6c8e1b5a72";

describe("a record form's draft key", () => {
  it("names the record changed", () => {
    expect(recordDraftKey("person", person)).toBe(`form.person.${person}`);
    expect(recordDraftKey("step", person, { person_id: household })).toBe(`form.step.${person}`);
  });

  it("names a new record's kind and the records it is made for, in the order of their fields", () => {
    expect(recordDraftKey("person")).toBe("form.person.new");
    expect(recordDraftKey("step", undefined, { person_id: person })).toBe(`form.step.new.${person}`);
    expect(recordDraftKey("person", undefined, { site_id: site, household_id: household })).toBe(
      `form.person.new.${household}.${site}`,
    );
  });

  it("leaves out what is not an id, and stays within the case file's 100 characters", () => {
    expect(recordDraftKey("step", undefined, { person_id: person, status: "planned done", n: 3, ok: true })).toBe(
      `form.step.new.${person}`,
    );
    const key = recordDraftKey("employment", undefined, { a: household, b: person, c: site });
    expect(key.length).toBeLessThanOrEqual(100);
    expect(key).toBe(`form.employment.new.${household}.${person}`);
    // The case file's characters: letters, digits, '.', '-', '_'.
    expect(key).toMatch(/^[A-Za-z0-9._-]+$/);
  });
});
