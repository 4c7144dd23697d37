// What a form checks of a field before it saves, said next to the field: phones,
// countries, numbers. The case file checks again (a schema's refusal names its field);
// these say it in the counsellor's words, at once. No DOM here: vitest tests it.

/** Why a field's text is refused; each has its sentence in messages.ts (`field.error.*`). */
export type FieldError = "phone" | "number" | "number_min" | "number_max";

/** A phone number as people write it: digits with spaces, dots, dashes or brackets, a
 *  `+` first for an international number; 6 to 15 digits (E.164's most). */
export function checkPhone(text: string): FieldError | null {
  const t = text.trim();
  if (!t) return null;
  if (!/^\+?[\d\s.\-()]+$/.test(t)) return "phone";
  const digits = t.replace(/\D/g, "").length;
  return digits >= 6 && digits <= 15 ? null : "phone";
}

/** A number as typed, with a decimal comma or a dot, within `min`–`max`. */
export function readNumber(
  text: string,
  min: number | null,
  max: number | null,
): { value: number | null } | { error: FieldError; limit?: number } {
  const t = text.trim().replace(/\s/g, "");
  if (!t) return { value: null };
  if (!/^-?\d+([.,]\d+)?$/.test(t)) return { error: "number" };
  const value = Number(t.replace(",", "."));
  if (min !== null && value < min) return { error: "number_min", limit: min };
  if (max !== null && value > max) return { error: "number_max", limit: max };
  return { value };
}

/** Every ISO 3166-1 alpha-2 code of a country or territory (Kosovo's XK, not an ISO
 *  code, comes with the usual ones). */
export const COUNTRY_CODES: readonly string[] = (
  "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR " +
  "BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ " +
  "EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW " +
  "GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY " +
  "KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV " +
  "MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY " +
  "QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG " +
  "TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"
).split(" ");

/** The countries most of the families come from, first in the list. */
const FIRST = ["RO", "BG", "FR", "RS", "MD", "HU", "SK", "AL", "XK"];

/** A country's name in `lang` (`RO` reads "Roumanie"), or its code when this engine has
 *  no name for it. */
export function countryName(code: string, lang: string): string {
  try {
    return new Intl.DisplayNames([lang], { type: "region" }).of(code) ?? code;
  } catch {
    return code;
  }
}

/** The countries to choose from, by name in `lang`: the usual ones first, then every
 *  other in alphabetical order. */
export function countryOptions(lang: string): { code: string; name: string }[] {
  const named = (code: string) => ({ code, name: countryName(code, lang) });
  const first = FIRST.map(named);
  const rest = COUNTRY_CODES.filter((c) => !FIRST.includes(c))
    .map(named)
    .sort((a, b) => a.name.localeCompare(b.name, lang));
  return [...first, ...rest];
}
