//! Folding text for search: case and diacritics do not matter (Ș, Ş, ș, ş and S all
//! give `s`; ă, â, î, ï, é, è, ç give a, a, i, i, e, e, c).

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// `text` decomposed, without its combining marks, in lowercase, with the few Latin
/// letters that do not decompose spelled out (ß → ss, æ → ae, œ → oe, ø → o, ł → l,
/// đ → d, ı → i).
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.nfd().filter(|c| !is_combining_mark(*c)) {
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
    out
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
}
