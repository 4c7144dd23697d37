//! Folding text for search and for comparing names: case, diacritics and the alphabet do
//! not matter.
//!
//! ## Rules of [`fold`]
//! - Lowercase.
//! - Latin letters lose their diacritics: Ș, Ş, ș, ş and S all give `s`; Ț, Ţ give `t`;
//!   ă, â, î, ï, é, è, ç give a, a, i, i, e, e, c. The few Latin letters that do not
//!   decompose are spelled out: ß → ss, æ → ae, œ → oe, ø → o, ł → l, đ → d, ı → i.
//! - Cyrillic is written in Latin letters, Bulgarian by the official Bulgarian system of
//!   2009 (the one of Bulgarian passports):
//!
//!   | а | б | в | г | д | е | ж  | з | и | й | к | л | м | н | о | п | р | с | т | у | ф | х | ц  | ч  | ш  | щ   | ъ | ь | ю  | я  |
//!   |---|---|---|---|---|---|----|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|----|----|----|-----|---|---|----|----|
//!   | a | b | v | g | d | e | zh | z | i | y | k | l | m | n | o | p | r | s | t | u | f | h | ts | ch | sh | sht | a | y | yu | ya |
//!
//!   with the system's one contextual rule: `ия` ending a word gives `ia` (`Мария` →
//!   `maria`, `София` → `sofia`). The other Cyrillic letters met in names (Russian,
//!   Ukrainian, Serbian, Macedonian) give: ё e, ы y, э e, і i, ї yi, є ye, ґ g, ў u, ђ dj,
//!   ј j, љ lj, њ nj, ћ c, џ dz, ѕ dz, ѓ g, ќ k, ѐ e, ѝ i; so no letter of the Cyrillic
//!   block (U+0400 to U+045F) is left. Uppercase Cyrillic folds like lowercase.
//!
//! So `petrov` finds `Петров`, `Петрова` finds `Petrova`, and `Щерю` folds to `shteryu`.
//! Spelling variants of other transliterations (`Petroff`, `Gueorgui`, `Shterju`) are not
//! folding's concern: [`crate::names`] compares names by sound.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// `text` in lowercase Latin letters without diacritics, Cyrillic transliterated: see the
/// module's docs.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    // Composed first, so that a Cyrillic letter typed as a base and a mark (и + ̆ ) is
    // read as the one letter (й) it makes.
    let chars: Vec<char> = text.nfc().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if is_final_iya(&chars, i) {
            out.push_str("ia");
            i += 2;
            continue;
        }
        if let Some(latin) = cyrillic(c) {
            out.push_str(latin);
        } else {
            decompose_canonical(c, |d| {
                if !is_combining_mark(d) {
                    push_letter(d, &mut out);
                }
            });
        }
        i += 1;
    }
    out
}

/// Whether `chars[i..]` starts with `ия` (any case) ending a word.
fn is_final_iya(chars: &[char], i: usize) -> bool {
    matches!(chars.get(i), Some('и' | 'И'))
        && matches!(chars.get(i + 1), Some('я' | 'Я'))
        && chars.get(i + 2).is_none_or(|c| !c.is_alphanumeric())
}

/// Pushes one decomposed letter (or any other character), lowercase and in Latin.
fn push_letter(c: char, out: &mut String) {
    if let Some(latin) = cyrillic(c) {
        out.push_str(latin);
        return;
    }
    match c {
        'ß' => out.push_str("ss"),
        'æ' | 'Æ' => out.push_str("ae"),
        'œ' | 'Œ' => out.push_str("oe"),
        'ø' | 'Ø' => out.push('o'),
        'ł' | 'Ł' => out.push('l'),
        'đ' | 'Đ' => out.push('d'),
        'ı' => out.push('i'),
        _ => out.extend(c.to_lowercase()),
    }
}

/// The Latin spelling of a Cyrillic letter (either case), when it has one of its own.
/// Letters that decompose into one of these and a mark (ѓ, ќ, ѐ, ѝ) are left to the
/// decomposition.
fn cyrillic(c: char) -> Option<&'static str> {
    if !('\u{0400}'..='\u{052F}').contains(&c) {
        return None;
    }
    let lower = c.to_lowercase().next().unwrap_or(c);
    Some(match lower {
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'г' => "g",
        'д' => "d",
        'е' => "e",
        'ж' => "zh",
        'з' => "z",
        'и' => "i",
        'й' => "y",
        'к' => "k",
        'л' => "l",
        'м' => "m",
        'н' => "n",
        'о' => "o",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'у' => "u",
        'ф' => "f",
        'х' => "h",
        'ц' => "ts",
        'ч' => "ch",
        'ш' => "sh",
        'щ' => "sht",
        'ъ' => "a",
        'ь' => "y",
        'ю' => "yu",
        'я' => "ya",
        'ё' | 'э' => "e",
        'ы' => "y",
        'і' => "i",
        'ї' => "yi",
        'є' => "ye",
        'ґ' => "g",
        'ў' => "u",
        'ђ' => "dj",
        'ј' => "j",
        'љ' => "lj",
        'њ' => "nj",
        'ћ' => "c",
        'џ' | 'ѕ' => "dz",
        _ => return None,
    })
}

/// The folded words of `text`: runs of letters and digits.
pub fn words(text: &str) -> Vec<String> {
    fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The digits of `text` (a phone number as people write it: `06 12 34 56 78`).
pub fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn romanian_and_french_letters_fold() {
        for s in ["Ș", "Ş", "ș", "ş", "S", "s"] {
            assert_eq!(fold(s), "s", "{s} should fold to s");
        }
        assert_eq!(fold("Țară"), "tara");
        assert_eq!(fold("ăâîïéèçÎ"), "aaiieeci");
        assert_eq!(fold("Mihaï"), "mihai");
        assert_eq!(fold("Ștefan"), fold("STEFAN"));
    }

    #[test]
    fn words_split_on_punctuation() {
        assert_eq!(
            words("Dumitru-Ștefan  O'Neil"),
            ["dumitru", "stefan", "o", "neil"]
        );
        assert_eq!(digits("+33 6 12-34"), "3361234");
    }

    #[test]
    fn bulgarian_cyrillic_folds_by_the_official_system() {
        assert_eq!(fold("Петров"), "petrov");
        assert_eq!(fold("ПЕТРОВА"), "petrova");
        assert_eq!(fold("Георги"), "georgi");
        assert_eq!(fold("Христо"), "hristo");
        assert_eq!(fold("Йордан"), "yordan");
        assert_eq!(fold("Щерю"), "shteryu");
        assert_eq!(fold("Живко Цветанов"), "zhivko tsvetanov");
        assert_eq!(fold("Чавдар Шишков"), "chavdar shishkov");
        assert_eq!(fold("Димитър"), "dimitar");
        assert_eq!(fold("Юлиян Асенов"), "yuliyan asenov");
        assert_eq!(fold("Любомир Гьонев"), "lyubomir gyonev");
        assert_eq!(fold("Явор"), "yavor");
        assert_eq!(fold("Ангел Фиданов Хаджиев"), "angel fidanov hadzhiev");
    }

    #[test]
    fn iya_ending_a_word_gives_ia() {
        assert_eq!(fold("Мария"), "maria");
        assert_eq!(fold("МАРИЯ"), "maria");
        assert_eq!(fold("София-Юлия"), "sofia-yulia");
        assert_eq!(fold("Илиян"), "iliyan", "not at the end of the word");
        assert_eq!(fold("Мариян"), "mariyan");
    }

    #[test]
    fn a_short_i_typed_as_two_code_points_is_one_letter() {
        assert_eq!(fold("Николаи\u{306}"), "nikolay");
        assert_eq!(fold("Николай"), "nikolay");
    }

    #[test]
    fn other_cyrillic_letters_fold() {
        assert_eq!(fold("Ёлкин Эдуард Быков"), "elkin eduard bykov");
        assert_eq!(
            fold("Їжак Єва Ґанна Іван Ўладзімір"),
            "yizhak yeva ganna ivan uladzimir"
        );
        assert_eq!(
            fold("Ђорђе Јован Љубиша Њего Ћирић Џафер"),
            "djordje jovan ljubisha njego ciric dzafer"
        );
        assert_eq!(fold("Ѓорѓи Ќосе Ѕвезда Ѝ"), "gorgi kose dzvezda i");
    }

    #[test]
    fn no_letter_of_the_cyrillic_block_is_left() {
        for c in '\u{0400}'..='\u{045F}' {
            let folded = fold(&c.to_string());
            assert!(
                !folded.is_empty() && folded.chars().all(|l| l.is_ascii_lowercase()),
                "U+{:04X} folds to {folded:?}",
                u32::from(c)
            );
        }
    }

    #[test]
    fn search_words_meet_across_alphabets() {
        assert!(words("Петрова Мария")[0].starts_with("petrov"));
        assert_eq!(words("Petrova"), words("Петрова"));
        assert_eq!(words("Stoyanov Georgi"), words("Стоянов, Георги"));
    }
}
