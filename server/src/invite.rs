//! One-time enrolment codes (SYNC-PROTOCOL.md §6, §7 `device invite`).
//!
//! A code is 16 characters of Crockford's base32 alphabet (digits and letters without I,
//! L, O and U), 80 random bits, shown in four groups (`7KQ2-M9XD-4HRW-C3TB`) so that a
//! person can read it out and type it. What is typed is read case-insensitively, with
//! spaces and hyphens ignored and the letters that look like digits (I, L, O) read as
//! them, then hashed: the server keeps only the SHA-256 of the code's canonical form (a
//! fast hash is enough for 80 random bits that serve once, within 7 days, behind the
//! failure limits). Making and reading such a code is a few lines: no crate is needed.

use std::time::Duration;

use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use rand::Rng;
use sha2::{Digest, Sha256};

/// Crockford's base32 alphabet.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Characters in a code: 16 × 5 = 80 bits.
pub const CODE_CHARS: usize = 16;

/// The longest validity of a code (§6: 7 days).
pub const MAX_VALIDITY: Duration = Duration::from_secs(7 * 24 * 3600);

/// The validity of a code unless said otherwise (§6: 24 hours).
pub const DEFAULT_VALIDITY: &str = "24h";

/// A new code, in groups of four.
pub fn new_code() -> String {
    let mut rng = rand::rng();
    let mut code = String::with_capacity(CODE_CHARS + 3);
    for i in 0..CODE_CHARS {
        if i > 0 && i % 4 == 0 {
            code.push('-');
        }
        code.push(char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]));
    }
    code
}

/// Why a typed code cannot be a code at all (400): it is not a wrong code, which
/// answers 401 like a wrong password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadCode {
    /// Nothing was typed.
    Missing,
    /// Not 16 characters of the alphabet.
    Malformed,
}

/// The canonical form of a typed code: upper case, without spaces or hyphens, I and L
/// read as 1, O as 0.
pub fn canonical(typed: &str) -> Result<String, BadCode> {
    if typed.trim().is_empty() {
        return Err(BadCode::Missing);
    }
    // Bounded before it is walked through: a code is short.
    if typed.len() > 4 * CODE_CHARS {
        return Err(BadCode::Malformed);
    }
    let mut code = String::with_capacity(CODE_CHARS);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            ' ' | '-' => continue,
            'I' | 'L' => '1',
            'O' => '0',
            c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
            _ => return Err(BadCode::Malformed),
        };
        code.push(c);
    }
    if code.len() == CODE_CHARS {
        Ok(code)
    } else {
        Err(BadCode::Malformed)
    }
}

/// The hash under which a code is stored, from its [`canonical`] form.
pub fn code_hash(canonical: &str) -> [u8; 32] {
    Sha256::digest(canonical.as_bytes()).into()
}

/// Reads a validity such as `24h`: a whole number of seconds (`s`), minutes (`m`), hours
/// (`h`) or days (`d`), more than nothing and at most 7 days.
pub fn parse_validity(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let unit = text.chars().last().unwrap_or(' ');
    let seconds: u64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => {
            return Err(format!(
                "the validity {text:?} must be a number followed by s, m, h or d, e.g. 24h"
            ));
        }
    };
    let number: u64 = text[..text.len() - 1].parse().map_err(|_| {
        format!("the validity {text:?} must be a whole number followed by s, m, h or d, e.g. 24h")
    })?;
    let validity = Duration::from_secs(number.saturating_mul(seconds));
    if validity.is_zero() {
        return Err("a code valid for no time at all cannot be used: give e.g. 24h".into());
    }
    if validity > MAX_VALIDITY {
        return Err(format!(
            "a code is valid for at most 7 days (7d), not {text}: invite again later if needed"
        ));
    }
    Ok(validity)
}

/// The code as a QR code for a terminal: two rows of modules per line, in Unicode half
/// blocks, with its quiet zone. The light modules are drawn (in the text's colour) and the
/// dark ones left blank, as `qrencode -t UTF8` does: a terminal's usual light text on a
/// dark background then shows the code dark on light, as scanners expect.
pub fn qr(code: &str) -> Result<String, qrcode::types::QrError> {
    Ok(QrCode::new(code.as_bytes())?
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_reads_back_whatever_its_case_and_separators() {
        let code = new_code();
        assert_eq!(code.len(), 19, "{code}");
        assert_eq!(code.matches('-').count(), 3, "{code}");
        let canonical = canonical(&code).unwrap();
        assert_eq!(canonical, code.replace('-', ""));
        assert_eq!(
            super::canonical(&code.to_lowercase().replace('-', " ")),
            Ok(canonical.clone())
        );
        assert_eq!(
            super::canonical("7kq2 m9xd 4hrw c3tb"),
            super::canonical("7KQ2-M9XD-4HRW-C3TB")
        );
        assert_eq!(
            super::canonical("O1IL-0000-0000-0000"),
            Ok("0111000000000000".into()),
            "letters that look like digits are read as them"
        );
        assert_ne!(new_code(), code, "random");
    }

    #[test]
    fn what_cannot_be_a_code_is_told_apart() {
        assert_eq!(canonical(""), Err(BadCode::Missing));
        assert_eq!(canonical("   "), Err(BadCode::Missing));
        assert_eq!(canonical("ABCD-EFGH"), Err(BadCode::Malformed));
        assert_eq!(
            canonical("ABCD-EFGH-JKMN-PQRU"),
            Err(BadCode::Malformed),
            "no U"
        );
        assert_eq!(canonical("ABCD-EFGH-JKMN-PQRSÉ"), Err(BadCode::Malformed));
        assert_eq!(canonical(&"A".repeat(1000)), Err(BadCode::Malformed));
    }

    #[test]
    fn validity_is_bounded() {
        assert_eq!(parse_validity("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_validity("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_validity("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_validity("7d"), Ok(MAX_VALIDITY));
        assert!(parse_validity("8d").unwrap_err().contains("7 days"));
        assert!(parse_validity("169h").is_err());
        assert!(parse_validity("0h").unwrap_err().contains("no time"));
        assert!(parse_validity("24").is_err());
        assert!(parse_validity("h").is_err());
        assert!(parse_validity("-1h").is_err());
        assert!(parse_validity("").is_err());
        assert!(parse_validity("99999999999999999999d").is_err());
    }

    #[test]
    fn the_qr_code_is_unicode_half_blocks() {
        let qr = qr("7KQ2-M9XD-4HRW-C3TB").unwrap();
        assert!(qr.contains('▀') || qr.contains('▄'), "{qr}");
        assert!(qr.lines().count() > 10);
    }
}
