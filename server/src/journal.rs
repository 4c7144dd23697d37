//! The journal (SYNC-PROTOCOL.md §6a): what a restore must not roll back, kept outside
//! the database.
//!
//! One JSON object a line, appended and synced to disk before the request or command that
//! made it is answered: enrolments with their token hashes and the hashes of the codes
//! they used, re-keyings, revocations, disables and enables, and the server replica's
//! own edits (erasures, byte for byte).
//! It holds no personal data: users are named by an HMAC of their username, keyed by a
//! secret of the database (`server.journal_key`, which backups carry); organisations by
//! their row id (a restore keeps them); devices and records by their UUIDs; an erased
//! state has no content left. A user added after the backup is not in it: their devices
//! enrol again once the user is added again.
//!
//! The server applies every entry the database lacks at start (`serve`) and after
//! `restore`, in order, each idempotently: a device enrolled after the backup keeps
//! working, a revoked one stays revoked, an erased record stays erased. A last line cut
//! by a crash is ignored.
//!
//! By default the journal lives beside a SQLite database (`PATH.journal`), or in the
//! working directory for PostgreSQL; `--journal` puts it elsewhere. It must not be put
//! back with the database: it is what the database's copy lacks.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sync_protocol::{RecordState, ReplicaId};
use tracing::{info, warn};

use crate::store::{DatabaseUrl, Store, StoreError};

/// One thing a restore must not roll back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "snake_case")]
pub enum Entry {
    /// A device enrolled (or enrolled again, with a new token).
    Enrolled {
        /// HMAC of the username (which names the organisation too).
        user: String,
        /// The device's replica id.
        device: ReplicaId,
        /// SHA-256 of its token, hex.
        token_hash: String,
    },
    /// A device took a new replica id (§6a).
    Rekeyed {
        /// The retired replica.
        predecessor: ReplicaId,
        /// The new one.
        device: ReplicaId,
        /// SHA-256 of its token, hex.
        token_hash: String,
    },
    /// A coordinator revoked a device.
    Revoked {
        /// The device.
        device: ReplicaId,
    },
    /// A coordinator disabled or enabled a user.
    Disabled {
        /// HMAC of the username.
        user: String,
        /// Disabled (true) or enabled again.
        disabled: bool,
    },
    /// An enrolment used a one-time enrolment code: a restored database never accepts it
    /// again.
    CodeUsed {
        /// SHA-256 of the code's canonical form, hex (as the database keeps it).
        code_hash: String,
    },
    /// The server erased a record (§5): its own edit, byte for byte.
    Erased {
        /// The organisation's row id (a restore keeps them).
        org: crate::store::OrgId,
        /// The erased state: id, kind, vv, nothing else.
        state: RecordState,
    },
}

/// A line of the journal.
#[derive(Debug, Serialize, Deserialize)]
struct Line {
    /// When, RFC 3339.
    at: String,
    #[serde(flatten)]
    entry: Entry,
}

/// The journal file, open for appending.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    key: [u8; 32],
}

/// Why the journal failed. Nothing is answered as done until its entry is on disk.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The file could not be opened, written or synced.
    #[error("the journal {path} could not be written: {error}")]
    Io {
        /// The journal's path.
        path: String,
        /// What failed.
        error: std::io::Error,
    },
    /// The database failed while the journal was applied.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where the journal of `database` lives unless `--journal` says otherwise.
pub fn default_path(database: &DatabaseUrl) -> PathBuf {
    match database {
        DatabaseUrl::Sqlite(path) => {
            let mut name = path.as_os_str().to_owned();
            name.push(".journal");
            PathBuf::from(name)
        }
        DatabaseUrl::Postgres(_) => PathBuf::from("passerelle-server.journal"),
    }
}

/// HMAC-SHA256 of a username under the database's journal key, hex.
pub fn user_mac(key: &[u8; 32], username: &str) -> String {
    // A key shorter than SHA-256's 64-byte block is padded with zeros by HMAC itself:
    // padding it here gives the same MAC, with the constructor that cannot fail.
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
    mac.update(username.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if text.len() != 64 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Cuts a last line that a crash left unfinished (no newline at its end), so that the next
/// entry starts a line of its own and stays readable.
fn cut_partial_line(path: &Path) -> std::io::Result<()> {
    let text = std::fs::read(path)?;
    if text.is_empty() || text.ends_with(b"\n") {
        return Ok(());
    }
    let keep = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    warn!(
        bytes = text.len() - keep,
        "the journal's last line was cut by a crash: it is removed"
    );
    let file = OpenOptions::new().write(true).open(path)?;
    file.set_len(keep as u64)?;
    file.sync_all()
}

impl Journal {
    /// Opens (creating, for its owner alone) the journal at `path`, keyed by the
    /// database's journal key.
    pub fn open(path: &Path, key: [u8; 32]) -> Result<Self, JournalError> {
        let io = |error| JournalError::Io {
            path: path.display().to_string(),
            error,
        };
        let existed = path.exists();
        if existed {
            cut_partial_line(path).map_err(io)?;
        }
        let mut options = OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path).map_err(io)?;
        if !existed {
            // The new file's name must survive a crash too.
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        Ok(Self {
            path: path.to_owned(),
            file: Mutex::new(file),
            key,
        })
    }

    /// The HMAC naming a user in this journal.
    pub fn user(&self, username: &str) -> String {
        user_mac(&self.key, username)
    }

    /// The database's secret, for the keyed hashes that stand for usernames and client
    /// addresses elsewhere (the limits on failed enrolments, the logs).
    pub fn secret(&self) -> &[u8; 32] {
        &self.key
    }

    /// Appends an entry and syncs it to disk.
    pub fn append(&self, entry: Entry) -> Result<(), JournalError> {
        self.append_all(&[entry])
    }

    /// Appends entries in one write and syncs them to disk. A crash may keep the first
    /// ones without the last, never the other way round: put first what must not be lost.
    pub fn append_all(&self, entries: &[Entry]) -> Result<(), JournalError> {
        let at = crate::store::rfc3339(crate::store::unix_now());
        let io = |error| JournalError::Io {
            path: self.path.display().to_string(),
            error,
        };
        let mut text = String::new();
        for entry in entries {
            let line = Line {
                at: at.clone(),
                entry: entry.clone(),
            };
            text.push_str(&serde_json::to_string(&line).map_err(|e| io(e.into()))?);
            text.push('\n');
        }
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(io)
    }

    /// Applies every entry of the journal to `store`, in order (see the module's docs).
    /// Answers how many entries changed the database.
    pub async fn replay<S: Store>(&self, store: &S) -> Result<u64, JournalError> {
        let io = |error| JournalError::Io {
            path: self.path.display().to_string(),
            error,
        };
        let file = File::open(&self.path).map_err(io)?;
        let mut entries = Vec::new();
        let mut unreadable = 0;
        for line in BufReader::new(file).lines() {
            let line = line.map_err(io)?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Line>(&line) {
                Ok(line) => entries.push(line.entry),
                Err(_) => unreadable += 1,
            }
        }
        if unreadable > 0 {
            warn!(
                lines = unreadable,
                "journal lines could not be read (a line cut by a crash): skipped"
            );
        }
        let users: HashMap<String, (i64, crate::store::OrgId, String)> = store
            .users()
            .await?
            .into_iter()
            .map(|(id, org, name)| (self.user(&name), (id, org, name)))
            .collect();
        // Only the last disable or enable of each user is applied: applying them all would
        // disable, for a moment at every start, a user enabled since (and audit it).
        let last_disabled: HashMap<&str, usize> = entries
            .iter()
            .enumerate()
            .filter_map(|(i, entry)| match entry {
                Entry::Disabled { user, .. } => Some((user.as_str(), i)),
                _ => None,
            })
            .collect();
        let last_disabled: HashSet<usize> = last_disabled.into_values().collect();
        let mut changed = 0;
        for (i, entry) in entries.into_iter().enumerate() {
            let did = match entry {
                Entry::Enrolled {
                    user,
                    device,
                    token_hash,
                } => match (users.get(&user), unhex(&token_hash)) {
                    (Some((user_id, org, _)), Some(hash)) => {
                        store.restore_device(*user_id, *org, device, hash).await?
                    }
                    _ => {
                        warn!(device = %device, "an enrolment of a user the database lacks: enrol the device again once the user is added");
                        false
                    }
                },
                Entry::Rekeyed {
                    predecessor,
                    device,
                    token_hash,
                } => match unhex(&token_hash) {
                    Some(hash) => store.restore_rekey(predecessor, device, hash).await?,
                    None => false,
                },
                Entry::Revoked { device } => store.revoke(device).await?,
                Entry::CodeUsed { code_hash } => match unhex(&code_hash) {
                    Some(hash) => store.restore_code_used(hash).await?,
                    None => false,
                },
                Entry::Disabled { .. } if !last_disabled.contains(&i) => false,
                Entry::Disabled { user, disabled } => match users.get(&user) {
                    Some((_, _, name)) => store.set_disabled(name, disabled).await?,
                    None => false,
                },
                Entry::Erased { org, state } => {
                    if users.values().any(|(_, o, _)| *o == org) {
                        store.restore_erased(org, state).await?
                    } else {
                        false
                    }
                }
            };
            changed += u64::from(did);
        }
        info!(changed, "journal applied");
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_cut_by_a_crash_is_removed_before_the_next_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let journal = Journal::open(&path, [1; 32]).unwrap();
        journal
            .append(Entry::Revoked {
                device: ReplicaId::from_u128(1),
            })
            .unwrap();
        drop(journal);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(r#"{"at":"2026-11-30T10:00:00Z","entry":"revo"#);
        std::fs::write(&path, &text).unwrap();
        let journal = Journal::open(&path, [1; 32]).unwrap();
        journal
            .append(Entry::Revoked {
                device: ReplicaId::from_u128(2),
            })
            .unwrap();
        let lines: Vec<Line> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            lines.iter().map(|l| l.entry.clone()).collect::<Vec<_>>(),
            [
                Entry::Revoked {
                    device: ReplicaId::from_u128(1)
                },
                Entry::Revoked {
                    device: ReplicaId::from_u128(2)
                }
            ],
            "every whole entry reads, the one after the cut line too"
        );
    }

    #[test]
    fn a_user_is_named_by_a_keyed_hash_and_lines_round_trip() {
        let key = [7u8; 32];
        let mac = user_mac(&key, "marie");
        assert_eq!(mac.len(), 64);
        assert_ne!(mac, user_mac(&[8u8; 32], "marie"), "keyed");
        assert!(!mac.contains("marie"));
        let line = Line {
            at: "2026-11-30T10:00:00Z".into(),
            entry: Entry::Revoked {
                device: ReplicaId::from_u128(5),
            },
        };
        let text = serde_json::to_string(&line).unwrap();
        assert_eq!(
            text,
            r#"{"at":"2026-11-30T10:00:00Z","entry":"revoked","device":"00000000-0000-0000-0000-000000000005"}"#
        );
        assert_eq!(unhex(&hex(&[9u8; 32])), Some([9u8; 32]));
        // The padded key gives the MAC of the 32-byte key itself.
        let mut short = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
        short.update(b"marie");
        assert_eq!(mac, hex(&short.finalize().into_bytes()));
        assert_eq!(unhex("zz"), None);
    }
}
