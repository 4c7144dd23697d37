// The language printed beside French on a person's copy of a visit or a step's slip,
// guessed from the person's `languages` as the case file guesses it
// (`CopyLang::from_languages`): the first that names Romanian or Bulgarian, by code or by
// name, case and diacritics aside. Romani (`rom`, `romani`) is neither.
import type { CopyLangInput, Value } from "./bindings";

const ROMANIAN = new Set(["ro", "ron", "rum", "roumain", "romanian", "romana", "limba romana"]);
const BULGARIAN = new Set(["bg", "bul", "bulgare", "bulgarian", "bulgarski", "български", "български език"]);

function fold(text: string): string {
  return text.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase().trim();
}

/** Romanian or Bulgarian, whichever `languages` names first; `null` when neither. */
export function copyLangOf(languages: Value | undefined): CopyLangInput | null {
  const list = Array.isArray(languages) ? languages : typeof languages === "string" ? [languages] : [];
  for (const language of list) {
    if (typeof language !== "string") continue;
    const name = fold(language);
    if (ROMANIAN.has(name)) return "ro";
    if (BULGARIAN.has(name)) return "bg";
  }
  return null;
}

export const COPY_LANGS: CopyLangInput[] = ["ro", "bg"];
