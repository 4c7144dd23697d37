import { describe, expect, it } from "vitest";
import { COUNTRY_CODES, checkPhone, countryName, countryOptions, readNumber } from "./fields";

describe("a phone", () => {
  it("takes numbers as people write them", () => {
    for (const phone of ["06 12 34 56 78", "06.12.34.56.78", "+40 721 234 567", "+33 (0)6 12 34 56 78", "0612345678", ""]) {
      expect(checkPhone(phone), phone).toBeNull();
    }
  });

  it("refuses letters, a + inside, too few or too many digits", () => {
    for (const phone of ["06 AB CD 12 34", "06+12345678", "12345", "+1234567890123456", "tel 0612345678"]) {
      expect(checkPhone(phone), phone).toBe("phone");
    }
  });
});

describe("a number", () => {
  it("reads a decimal comma or a dot", () => {
    expect(readNumber("35,5", 0, 100)).toEqual({ value: 35.5 });
    expect(readNumber("35.5", 0, 100)).toEqual({ value: 35.5 });
    expect(readNumber(" 45 ", 0, 1440)).toEqual({ value: 45 });
    expect(readNumber("", 0, 100)).toEqual({ value: null });
  });

  it("refuses what is not a number, and says the bound passed", () => {
    expect(readNumber("trente", 0, 100)).toEqual({ error: "number" });
    expect(readNumber("35,5h", 0, 100)).toEqual({ error: "number" });
    expect(readNumber("1e3", 0, 10000)).toEqual({ error: "number" });
    expect(readNumber("-1", 0, 100)).toEqual({ error: "number_min", limit: 0 });
    expect(readNumber("1441", 0, 1440)).toEqual({ error: "number_max", limit: 1440 });
  });
});

describe("countries", () => {
  it("are every ISO code, named in French, the usual ones first", () => {
    expect(COUNTRY_CODES.length).toBe(249);
    expect(new Set(COUNTRY_CODES).size).toBe(249);
    expect(countryName("RO", "fr")).toBe("Roumanie");
    expect(countryName("BG", "fr")).toBe("Bulgarie");
    expect(countryName("BG", "en")).toBe("Bulgaria");
    const options = countryOptions("fr");
    expect(options.slice(0, 2).map((o) => o.name)).toEqual(["Roumanie", "Bulgarie"]);
    const rest = options.slice(9).map((o) => o.name);
    expect(rest).toEqual([...rest].sort((a, b) => a.localeCompare(b, "fr")));
    expect(options.find((o) => o.code === "DE")?.name).toBe("Allemagne");
  });
});
