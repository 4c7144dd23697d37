import { describe, expect, it } from "vitest";
import { formatMessage, pluralCategory } from "./messageFormat";
import { en, fr, type MessageKey } from "./messages";

const tables = { fr, en };
const say = (lang: "fr" | "en", key: MessageKey, params: Record<string, string | number>) =>
  formatMessage(tables[lang].text[key], params, lang);

describe("plural categories", () => {
  it("French says one for 0 and 1", () => {
    expect([0, 1, 2, 1000].map((n) => pluralCategory("fr", n))).toEqual(["one", "one", "other", "other"]);
  });

  it("English says one for 1 only", () => {
    expect([0, 1, 2, 1000].map((n) => pluralCategory("en", n))).toEqual(["other", "one", "other", "other"]);
  });
});

describe("a message with a plural", () => {
  it("agrees in French, past participles too", () => {
    const files = [0, 1, 2, 1000].map((n) => say("fr", "settings.emptied", { n }));
    expect(files).toEqual([
      "0 fichier supprimé du dossier des exports.",
      "1 fichier supprimé du dossier des exports.",
      "2 fichiers supprimés du dossier des exports.",
      "1000 fichiers supprimés du dossier des exports.",
    ]);
    expect(say("fr", "sites.evict_done", { persons: 1, closed: 1, opened: 0 })).toBe(
      "1 personne déplacée ; 1 séjour clos, 0 ouvert.",
    );
  });

  it("agrees in English", () => {
    const files = [0, 1, 2, 1000].map((n) => say("en", "settings.exports_count", { n }));
    expect(files).toEqual([
      "0 files in the folder.",
      "1 file in the folder.",
      "2 files in the folder.",
      "1000 files in the folder.",
    ]);
    expect(say("en", "sites.persons", { n: 1 })).toBe("1 person");
    expect(say("en", "sites.persons", { n: 2 })).toBe("2 people");
  });

  it("chooses each count of a message on its own", () => {
    expect(say("fr", "sync.result", { pushed: 0, pulled: 1, conflicts: 2 })).toBe(
      "Synchronisé : 0 envoyé, 1 reçu, 2 conflits.",
    );
    expect(say("fr", "sync.result", { pushed: 2, pulled: 1000, conflicts: 1 })).toBe(
      "Synchronisé : 2 envoyés, 1000 reçus, 1 conflit.",
    );
    expect(say("en", "sync.result", { pushed: 0, pulled: 1, conflicts: 0 })).toBe(
      "Synced: 0 sent, 1 received, 0 conflicts.",
    );
    expect(say("en", "sync.result", { pushed: 2, pulled: 1000, conflicts: 1 })).toBe(
      "Synced: 2 sent, 1000 received, 1 conflict.",
    );
  });

  it("prints the number as given, and fills the other placeholders", () => {
    expect(say("fr", "documents.status_send", { n: 3, size: "2,1 Mo" })).toBe("3 documents à envoyer (2,1 Mo)");
    expect(formatMessage("{n, plural, one {# page} other {# pages}}", { n: "12" }, "en")).toBe("12 pages");
  });

  it("falls back to other for a category the message does not give", () => {
    // French says "many" for a million.
    expect(pluralCategory("fr", 1_000_000)).toBe("many");
    expect(say("fr", "sites.households", { n: 1_000_000 })).toBe("1000000 ménages");
  });

  it("prefers an exact branch", () => {
    const text = "{n, plural, =0 {aucun fichier} one {# fichier} other {# fichiers}}";
    expect([0, 1, 2].map((n) => formatMessage(text, { n }, "fr"))).toEqual(["aucun fichier", "1 fichier", "2 fichiers"]);
  });

  it("leaves a brace that is no placeholder as text, and a missing param empty", () => {
    expect(formatMessage("{a b} {missing}.", {}, "fr")).toBe("{a b} .");
    expect(formatMessage("{n, plural, one {# x}}", { n: 1 }, "fr")).toBe("{n, plural, one {# x}}");
  });
});

describe("the tables", () => {
  const every = (["fr", "en"] as const).flatMap((lang) =>
    Object.entries(tables[lang].text).map(([key, text]) => ({ lang, key, text })),
  );

  it("have no hand-made plural left", () => {
    const handMade = every.filter(({ text }) => /\((s|es|x)\)/.test(text)).map(({ lang, key }) => `${lang} ${key}`);
    expect(handMade).toEqual([]);
  });

  it("have every placeholder and plural well formed", () => {
    // Any count, any param: nothing of the syntax is left in the text.
    const params = new Proxy({}, { get: () => 2 }) as Record<string, number>;
    const broken = every
      .filter(({ lang, text }) => /[{}]|plural/.test(formatMessage(text, params, lang)))
      .map(({ lang, key }) => `${lang} ${key}`);
    expect(broken).toEqual([]);
  });
});
