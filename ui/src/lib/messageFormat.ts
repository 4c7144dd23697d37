// Fills the placeholders of a message of messages.ts. No runes here: the tests import it as is.
// The syntax (a small part of ICU MessageFormat) is described at `t` in i18n.svelte.ts.

export type Params = Record<string, string | number>;

const rules = new Map<string, Intl.PluralRules>();

/** The plural category of `n` in `lang`: "one" or "other" (French: 0 and 1 are "one"; English:
 *  1 only), or another of Intl's categories ("many" for 1 000 000 in French). */
export function pluralCategory(lang: string, n: number): Intl.LDMLPluralRule {
  let rule = rules.get(lang);
  if (!rule) {
    rule = new Intl.PluralRules(lang);
    rules.set(lang, rule);
  }
  return rule.select(n);
}

/** `text` with its `{name}` placeholders and `{name, plural, …}` selectors filled from
 *  `params`, plurals chosen by the rules of `lang`. */
export function formatMessage(text: string, params: Params, lang: string): string {
  return fill(text, params, lang, undefined);
}

/** `text` filled; `hash` is what a `#` stands for (inside a branch of a plural only). */
function fill(text: string, params: Params, lang: string, hash: string | undefined): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "#" && hash !== undefined) {
      out += hash;
      i += 1;
      continue;
    }
    if (c === "{") {
      const end = closing(text, i);
      const done = end < 0 ? undefined : placeholder(text.slice(i + 1, end), params, lang);
      if (done !== undefined) {
        out += done;
        i = end + 1;
        continue;
      }
    }
    // Any other brace is text.
    out += c;
    i += 1;
  }
  return out;
}

/** The index of the `}` that closes the `{` at `open`, or -1. */
function closing(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") depth += 1;
    else if (text[i] === "}" && --depth === 0) return i;
  }
  return -1;
}

/** What the inside of a `{…}` gives, or undefined if it is neither form. */
function placeholder(inner: string, params: Params, lang: string): string | undefined {
  const simple = /^\s*(\w+)\s*$/.exec(inner);
  if (simple) return String(params[simple[1]] ?? "");
  const plural = /^\s*(\w+)\s*,\s*plural\s*,([\s\S]*)$/.exec(inner);
  if (!plural) return undefined;
  const branches = parseBranches(plural[2]);
  if (!branches || !("other" in branches)) return undefined;
  const value = params[plural[1]] ?? "";
  const n = typeof value === "number" ? value : Number(value);
  const body = branches[`=${n}`] ?? branches[pluralCategory(lang, n)] ?? branches.other;
  return fill(body, params, lang, String(value));
}

/** `one {…} other {…}` (and `=0 {…}`) as a table, or undefined if it is malformed. */
function parseBranches(text: string): Record<string, string> | undefined {
  const branches: Record<string, string> = {};
  let i = 0;
  for (;;) {
    while (i < text.length && /\s/.test(text[i])) i += 1;
    if (i === text.length) return branches;
    const selector = /^(=\d+|[a-z]+)\s*\{/.exec(text.slice(i));
    if (!selector) return undefined;
    const open = i + selector[0].length - 1;
    const end = closing(text, open);
    if (end < 0) return undefined;
    branches[selector[1]] = text.slice(open + 1, end);
    i = end + 1;
  }
}
