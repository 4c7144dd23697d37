//! Secrets: device tokens and user passwords.
//!
//! A device token is 256 random bits, shown once to the device in hex; the server keeps
//! only its SHA-256 (a fast hash is enough for a secret with that much entropy, and lets
//! every request find its device with one indexed look-up). Passwords are hashed with
//! Argon2id at its recommended parameters.

use std::sync::{Mutex, OnceLock};

use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Set to `1` only in tests: hashes new passwords with the cheapest Argon2id parameters.
/// Never set it on a real server.
pub const INSECURE_FAST_HASH_ENV: &str = "PASSERELLE_INSECURE_FAST_PASSWORD_HASH";

/// A new device token and the hash the server keeps of it.
pub fn new_token() -> (String, [u8; 32]) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let hash = token_hash(&token);
    (token, hash)
}

/// The hash under which a token is stored.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn hasher() -> Argon2<'static> {
    let fast = std::env::var(INSECURE_FAST_HASH_ENV).is_ok_and(|v| v == "1");
    let params = if fast {
        Params::new(Params::MIN_M_COST, 1, 1, None).unwrap_or_default()
    } else {
        Params::default()
    };
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password (Argon2id, random salt) into a PHC string.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let salt = SaltString::encode_b64(&bytes)?;
    Ok(hasher()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Argon2 working memory (19 MiB at the default parameters), kept between checks: each
/// check allocating its own made the allocator keep every one of them, and the server
/// grew by 19 MiB per enrolment. At most [`KEPT_BUFFERS`] are kept; callers also bound
/// how many checks run at once.
static BUFFERS: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());
const KEPT_BUFFERS: usize = 2;

/// Whether `password` matches the PHC string `hash` (the parameters are read from it).
pub fn verify_password(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = parsed
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or_default();
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut memory = BUFFERS
        .lock()
        .ok()
        .and_then(|mut kept| kept.pop())
        .unwrap_or_default();
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let computed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password.as_bytes(),
        salt,
        &mut out,
        &mut memory[..],
    );
    if let Ok(mut kept) = BUFFERS.lock()
        && kept.len() < KEPT_BUFFERS
    {
        kept.push(memory);
    }
    // `Output`'s equality is constant-time.
    computed.is_ok() && Output::new(&out).is_ok_and(|out| out == expected)
}

/// Spends as long as checking a real password, for a username that does not exist, so
/// that answer times do not tell which usernames exist.
pub fn verify_nothing(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let hash = DUMMY.get_or_init(|| hash_password("not a password").unwrap_or_default());
    let _ = verify_password(password, hash);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_random_bits_stored_as_their_hash() {
        let (a, hash_a) = new_token();
        let (b, _) = new_token();
        assert_eq!(a.len(), 64, "a token is 32 bytes in hex");
        assert_ne!(a, b, "two tokens differ");
        assert_eq!(token_hash(&a), hash_a);
    }

    #[test]
    fn a_password_verifies_against_its_argon2id_hash_only() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }
}
