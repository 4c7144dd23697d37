//! The key of the case file: Argon2id over the passphrase, with a random salt and the
//! Argon2 parameters kept in a small JSON file beside the database (`PATH.keyparams`).
//! The key itself is never written anywhere; it is handed to SQLCipher as a raw key and
//! wiped from memory after use.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Argon2id cost parameters. Only the constants below make them: a build without the
/// `insecure-test-kdf` feature (every release build) can key a new case file with the
/// production parameters only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory, in KiB.
    m_kib: u32,
    /// Passes.
    t: u32,
    /// Lanes.
    p: u32,
}

impl KdfParams {
    /// The parameters of every real case file: 64 MiB, 3 passes, 1 lane (OWASP's
    /// recommendation for Argon2id; about half a second on a modest laptop).
    pub const PRODUCTION: Self = Self {
        m_kib: 64 * 1024,
        t: 3,
        p: 1,
    };

    /// Cheap parameters that make tests fast. They protect nothing: never use them for a
    /// case file that holds real data. Only in builds with the `insecure-test-kdf`
    /// feature, which only dev-dependencies enable.
    #[cfg(any(test, feature = "insecure-test-kdf"))]
    pub const INSECURE_FOR_TESTS: Self = Self {
        m_kib: 64,
        t: 1,
        p: 1,
    };

    /// The cheap parameters of tests when this build has them (the `insecure-test-kdf`
    /// feature), else `None`: for a program that offers them in its test builds only,
    /// such as `passerelle-cli init --insecure-kdf-for-tests`.
    #[cfg(any(test, feature = "insecure-test-kdf"))]
    pub const fn insecure_for_tests() -> Option<Self> {
        Some(Self::INSECURE_FOR_TESTS)
    }

    /// The cheap parameters of tests when this build has them: this one does not.
    #[cfg(not(any(test, feature = "insecure-test-kdf")))]
    pub const fn insecure_for_tests() -> Option<Self> {
        None
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        Self::PRODUCTION
    }
}

/// What is stored beside the case file: how to derive its key, never the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KeyParams {
    pub version: u32,
    pub kdf: String,
    #[serde(flatten)]
    pub params: KdfParams,
    pub salt: String,
}

impl KeyParams {
    /// Fresh parameters with a random 16-byte salt.
    pub fn generate(params: KdfParams) -> Self {
        let salt: [u8; 16] = rand::random();
        Self {
            version: 1,
            kdf: "argon2id".to_owned(),
            params,
            salt: hex(&salt),
        }
    }

    /// The path of the parameters of the case file at `db`.
    pub fn path_for(db: &Path) -> PathBuf {
        let mut name = db.as_os_str().to_owned();
        name.push(".keyparams");
        PathBuf::from(name)
    }

    /// The path where new parameters wait while the file is re-keyed.
    pub fn pending_path_for(db: &Path) -> PathBuf {
        let mut name = db.as_os_str().to_owned();
        name.push(".keyparams.new");
        PathBuf::from(name)
    }

    pub fn read(path: &Path) -> Result<Self> {
        let text = fs::read_to_string(path).map_err(|_| Error::KeyParams(path.to_owned()))?;
        let params: Self =
            serde_json::from_str(&text).map_err(|_| Error::KeyParams(path.to_owned()))?;
        if params.version != 1 || params.kdf != "argon2id" {
            return Err(Error::KeyParams(path.to_owned()));
        }
        Ok(params)
    }

    /// Writes the parameters durably: a temporary file, fsync, then rename.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        {
            let mut file = fs::File::create(&tmp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
        }
        fs::rename(&tmp, path)?;
        sync_dir(path);
        Ok(())
    }

    /// The SQLCipher raw key literal (`x'…'`) derived from `passphrase`.
    pub fn derive(&self, passphrase: &str, path: &Path) -> Result<Zeroizing<String>> {
        let salt = unhex(&self.salt).ok_or_else(|| Error::KeyParams(path.to_owned()))?;
        let params = Params::new(self.params.m_kib, self.params.t, self.params.p, Some(32))
            .map_err(|_| Error::KeyParams(path.to_owned()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut key = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(passphrase.as_bytes(), &salt, key.as_mut())
            .map_err(|_| Error::KeyParams(path.to_owned()))?;
        let mut literal = Zeroizing::new(String::with_capacity(67));
        literal.push_str("x'");
        // Digit by digit into the zeroised string: no other copy of the key is made.
        for byte in key.iter() {
            for nibble in [byte >> 4, byte & 0xf] {
                literal.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
            }
        }
        literal.push('\'');
        Ok(literal)
    }
}

/// Makes a rename durable by syncing its directory (best effort where unsupported).
fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(handle) = fs::File::open(dir) {
            let _ = handle.sync_all();
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_passphrase_and_salt_give_the_same_key() {
        let params = KeyParams::generate(KdfParams::INSECURE_FOR_TESTS);
        let path = Path::new("x");
        let a = params.derive("correct horse", path).unwrap();
        let b = params.derive("correct horse", path).unwrap();
        let c = params.derive("wrong horse", path).unwrap();
        assert_eq!(*a, *b, "the key must be deterministic");
        assert_ne!(*a, *c, "another passphrase must give another key");
        assert_eq!(a.len(), 67, "x'<64 hex digits>' expected");
    }

    #[test]
    fn hex_round_trips() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(unhex(&hex(&bytes)).unwrap(), bytes);
        assert!(unhex("abc").is_none(), "odd length must be refused");
    }
}
