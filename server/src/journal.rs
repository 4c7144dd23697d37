//! The journal (SYNC-PROTOCOL.md §6a): what a restore must not roll back, kept outside
//! the database.
//!
//! One JSON object a line, appended and synced to disk before the request or command that
//! made it is answered: enrolments with their token hashes and the hashes of the codes
//! they used, re-keyings, revocations, disables and enables, and the server replica's
//! own edits (§5): erasures, and the shared records it took an erased person out of.
//!
//! It holds no personal data, and no id of a person or of any record in clear:
//! - users are named by an HMAC of their username, keyed by a secret of the database
//!   (`server.journal_key`, which backups carry); organisations by their row id (a
//!   restore keeps them); devices by their replica ids;
//! - an erasure names its record by the HMAC-SHA256 of the record's id under the
//!   organisation's audit key (as the audit and the table `erased` do): whoever reads
//!   the journal learns that some record was erased, not which;
//! - an edit of a shared record is kept byte for byte (its state holds other people's
//!   data, the visit's observations, and must come back exactly), but sealed: encrypted
//!   with ChaCha20-Poly1305 under a key derived from the journal key
//!   (HMAC-SHA256(journal key, "passerelle journal edits v1")), a random 12-byte nonce
//!   before the ciphertext, hex; the organisation and the record's HMAC are its
//!   associated data, so a sealed state cannot be moved to another line. Without the
//!   database's key (a backup of it), the journal reads as nothing but HMACs and noise.
//!
//! A journal is opened with the database's journal key ([`Journal::open`]).
//!
//! A user added after the backup is not in it: their devices enrol again once the user
//! is added again.
//!
//! The server applies every entry the database lacks at start (`serve`) and after
//! `restore`, in order, each idempotently: a device enrolled after the backup keeps
//! working, a revoked one stays revoked, an erased record stays erased (its HMAC goes
//! into `erased`; the live record whose id has that HMAC, found by computing the HMAC
//! of every live id of the organisation once per replay, becomes a tombstone under a new
//! sequence, for the devices that may still hold it), and an edit of the server's is
//! merged into the stored copy (or stored, when the database lacks the record; an erased
//! record absorbs it). A last line cut by a crash is ignored.
//!
//! A journal written by an older server may hold erasures of the old shape,
//! `{"entry":"erased","org":N,"state":{…}}` (the erased state: id, kind, vv): they are read
//! and replayed as the new ones, by the mac of the state's id. The file is not rewritten,
//! so such a line keeps that id in clear until the journal is replaced.
//!
//! By default the journal lives beside a SQLite database (`PATH.journal`), or in the
//! working directory for PostgreSQL; `--journal` puts it elsewhere. It must not be put
//! back with the database: it is what the database's copy lacks.

use std::collections::hash_map::Entry as Slot;
use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac as _};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sync_protocol::{RecordState, ReplicaId};
use tracing::{info, warn};

use crate::store::{DatabaseUrl, Mac, OrgId, ServerEdit, Store, StoreError};

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
    /// The server erased a record (§5).
    Erased {
        /// The organisation's row id (a restore keeps them).
        org: OrgId,
        /// The HMAC of the record's id under the organisation's audit key, hex.
        record: String,
    },
    /// The server's replica edited a shared record to take an erased person out of it
    /// (§5): its new state, byte for byte, sealed.
    Edited {
        /// The organisation's row id.
        org: OrgId,
        /// The HMAC of the record's id under the organisation's audit key, hex.
        record: String,
        /// The state, encrypted (see the module's docs), hex.
        sealed: String,
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

/// An erasure as the journal wrote it before erasures named their record by mac only:
/// the erased state itself (`{"entry":"erased","org":N,"state":{id, kind, vv}}`). Read,
/// never written: replayed by the mac of the state's id, as an [`Entry::Erased`] is.
#[derive(Debug, Deserialize)]
#[serde(tag = "entry", rename_all = "snake_case")]
enum Legacy {
    Erased { org: OrgId, state: RecordState },
}

/// A line of the old shape.
#[derive(Debug, Deserialize)]
struct LegacyLine {
    #[serde(rename = "at")]
    _at: String,
    #[serde(flatten)]
    entry: Legacy,
}

/// An entry read back for replay.
#[derive(Debug)]
enum Read {
    /// An entry of the current shape.
    Entry(Entry),
    /// An erasure of the old shape: the organisation and the erased record's id.
    LegacyErased(OrgId, sync_protocol::RecordId),
}

impl Read {
    /// Reads one line: the current shape, else the old one; `None` when neither (a line
    /// cut by a crash).
    fn line(text: &str) -> Option<Self> {
        if let Ok(line) = serde_json::from_str::<Line>(text) {
            return Some(Self::Entry(line.entry));
        }
        let LegacyLine {
            entry: Legacy::Erased { org, state },
            ..
        } = serde_json::from_str(text).ok()?;
        Some(Self::LegacyErased(org, state.id()))
    }
}

/// What the replay knows of each organisation, read once when the journal first needs
/// it: the macs already erased, and the mac of every live record's id.
#[derive(Debug, Default)]
struct Known {
    erased: HashMap<OrgId, HashSet<Mac>>,
    live: HashMap<OrgId, HashMap<Mac, sync_protocol::RecordId>>,
}

impl Known {
    /// Applies the journal's erasure of the record with this `mac`: the mac into
    /// `erased` and the live record that has it erased, unless the mac was erased already.
    async fn erase<S: Store>(
        &mut self,
        store: &S,
        org: OrgId,
        mac: Mac,
    ) -> Result<bool, JournalError> {
        let macs = match self.erased.entry(org) {
            Slot::Occupied(slot) => slot.into_mut(),
            Slot::Vacant(slot) => slot.insert(store.erased_macs(org).await?),
        };
        if !macs.insert(mac) {
            return Ok(false);
        }
        let ids = match self.live.entry(org) {
            Slot::Occupied(slot) => slot.into_mut(),
            Slot::Vacant(slot) => slot.insert(store.record_macs(org).await?),
        };
        let id = ids.remove(&mac);
        Ok(store.restore_erased(org, mac, id).await?)
    }
}

/// The journal file, open for appending.
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    key: [u8; 32],
    /// Seals the server's edits: derived from `key`.
    edits: chacha20poly1305::ChaCha20Poly1305,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// What the key that seals the server's edits is derived from, with the journal key.
const EDITS_KEY_LABEL: &[u8] = b"passerelle journal edits v1";

/// HMAC-SHA256 of `data` under a 32-byte key.
fn mac32(key: &[u8; 32], data: &[u8]) -> [u8; 32] {
    // A key shorter than SHA-256's 64-byte block is padded with zeros by HMAC itself:
    // padding it here gives the same MAC, with the constructor that cannot fail.
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The associated data of a sealed edit: the line's organisation and record.
fn sealed_for(org: OrgId, record: &str) -> Vec<u8> {
    format!("{org}:{record}").into_bytes()
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
    /// A state could not be sealed for the journal (it passes the cipher's limits, which
    /// no record reaches).
    #[error("a record could not be sealed for the journal")]
    Seal,
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
    hex(&mac32(key, username.as_bytes()))
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    unhex_vec(text)?.try_into().ok()
}

fn unhex_vec(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// Whether the file at `path` is empty or ends with a newline.
fn ends_with_newline(path: &Path) -> std::io::Result<bool> {
    use std::io::{Read as _, Seek, SeekFrom};
    let mut file = File::open(path)?;
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
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
        let mut options = OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path).map_err(io)?;
        if existed {
            // Several server processes may share the journal (one database, one host): the
            // file's lock keeps this cut off another's append under way (see `append_all`).
            file.lock().map_err(io)?;
            let cut = cut_partial_line(path);
            file.unlock().map_err(io)?;
            cut.map_err(io)?;
        }
        if !existed {
            // The new file's name must survive a crash too.
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        let edits_key = mac32(&key, EDITS_KEY_LABEL);
        Ok(Self {
            path: path.to_owned(),
            file: Mutex::new(file),
            key,
            edits: <chacha20poly1305::ChaCha20Poly1305 as chacha20poly1305::KeyInit>::new(
                &edits_key.into(),
            ),
        })
    }

    /// The entries that keep the server's edits of the organisation `org`, in order (see
    /// the module's docs).
    pub fn server_edits(
        &self,
        org: OrgId,
        edits: &[ServerEdit],
    ) -> Result<Vec<Entry>, JournalError> {
        edits
            .iter()
            .map(|edit| match edit {
                ServerEdit::Erased { mac } => Ok(Entry::Erased {
                    org,
                    record: hex(mac),
                }),
                ServerEdit::Edited { mac, state } => {
                    let record = hex(mac);
                    let sealed = self.seal(org, &record, state)?;
                    Ok(Entry::Edited {
                        org,
                        record,
                        sealed,
                    })
                }
            })
            .collect()
    }

    /// Appends the entries of the server's edits of `org`, synced to disk.
    pub fn append_edits(&self, org: OrgId, edits: &[ServerEdit]) -> Result<(), JournalError> {
        if edits.is_empty() {
            return Ok(());
        }
        self.append_all(&self.server_edits(org, edits)?)
    }

    /// Seals a state for an `Edited` line of `org` and `record`.
    fn seal(&self, org: OrgId, record: &str, state: &RecordState) -> Result<String, JournalError> {
        use chacha20poly1305::aead::{Aead, Payload};
        let nonce: [u8; 12] = rand::random();
        let aad = sealed_for(org, record);
        let json = state.to_json();
        let sealed = self
            .edits
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: json.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| JournalError::Seal)?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(hex(&out))
    }

    /// The state of an `Edited` line; `None` when it cannot be opened (another database's
    /// journal key, a damaged or moved line).
    fn open_sealed(&self, org: OrgId, record: &str, sealed: &str) -> Option<RecordState> {
        use chacha20poly1305::aead::{Aead, Payload};
        let bytes = unhex_vec(sealed)?;
        if bytes.len() < 12 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        let aad = sealed_for(org, record);
        let json = self
            .edits
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .ok()?;
        RecordState::from_json(std::str::from_utf8(&json).ok()?).ok()
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
        // The file's lock, for the other processes sharing it: an append is never cut by
        // one that opens the journal meanwhile (`open`), nor interleaved with theirs.
        file.lock().map_err(io)?;
        // A line left unfinished since the journal was opened (a process killed as it
        // wrote, a full disk) must not swallow this entry: it starts a line of its own.
        let ends_a_line = ends_with_newline(&self.path);
        if !ends_a_line.as_ref().is_ok_and(|&ends| ends) {
            text.insert(0, '\n');
        }
        let written = ends_a_line
            .and_then(|_| file.write_all(text.as_bytes()))
            .and_then(|()| file.sync_data());
        let unlocked = file.unlock();
        written.and(unlocked).map_err(io)
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
            match Read::line(&line) {
                Some(read) => entries.push(read),
                None => unreadable += 1,
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
                Read::Entry(Entry::Disabled { user, .. }) => Some((user.as_str(), i)),
                _ => None,
            })
            .collect();
        let last_disabled: HashSet<usize> = last_disabled.into_values().collect();
        // Only a device's last token is applied: an older enrolment of a device enrolled
        // again (or re-keyed) since would set its token back, for as long as the replay
        // runs; with several processes on one database, one starting replays while the
        // others serve, and the device would be told to enrol again.
        let last_token: HashMap<ReplicaId, usize> = entries
            .iter()
            .enumerate()
            .filter_map(|(i, entry)| match entry {
                Read::Entry(Entry::Enrolled { device, .. } | Entry::Rekeyed { device, .. }) => {
                    Some((*device, i))
                }
                _ => None,
            })
            .collect();
        // An older enrolment is still needed where a re-key took that device as its
        // predecessor afterwards: the re-key copies the predecessor's row.
        let last_rekeyed_from: HashMap<ReplicaId, usize> = entries
            .iter()
            .enumerate()
            .filter_map(|(i, entry)| match entry {
                Read::Entry(Entry::Rekeyed { predecessor, .. }) => Some((*predecessor, i)),
                _ => None,
            })
            .collect();
        let superseded = |device: &ReplicaId, i: usize| {
            last_token.get(device).is_some_and(|&last| last > i)
                && last_rekeyed_from.get(device).is_none_or(|&j| j < i)
        };
        let mut changed = 0;
        let mut known = Known::default();
        let known_org = |org: OrgId| users.values().any(|(_, o, _)| *o == org);
        for (i, read) in entries.into_iter().enumerate() {
            let entry = match read {
                Read::Entry(entry) => entry,
                Read::LegacyErased(org, _) if !known_org(org) => continue,
                Read::LegacyErased(org, id) => {
                    let mac = store.record_mac(org, id).await?;
                    changed += u64::from(known.erase(store, org, mac).await?);
                    continue;
                }
            };
            let did = match entry {
                Entry::Enrolled { device, .. } if superseded(&device, i) => false,
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
                Entry::Erased { org, .. } | Entry::Edited { org, .. } if !known_org(org) => false,
                Entry::Erased { org, record } => {
                    let Some(mac) = unhex(&record) else {
                        warn!("a journaled erasure could not be read: skipped");
                        continue;
                    };
                    known.erase(store, org, mac).await?
                }
                Entry::Edited {
                    org,
                    record,
                    sealed,
                } => match (unhex(&record), self.open_sealed(org, &record, &sealed)) {
                    (Some(mac), Some(state)) => {
                        let id = state.id();
                        let did = store.restore_edited(org, state).await?;
                        if let Some(ids) = known.live.get_mut(&org) {
                            ids.insert(mac, id);
                        }
                        did
                    }
                    _ => {
                        warn!(
                            "a journaled edit could not be opened (a journal of another \
                             database, or a damaged line): skipped"
                        );
                        false
                    }
                },
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

    /// The revocation of device `n`, an entry as good as any.
    fn revoked(n: u128) -> Entry {
        Entry::Revoked {
            device: ReplicaId::from_u128(n),
        }
    }

    #[test]
    fn a_line_left_unfinished_by_another_process_does_not_swallow_the_next_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let journal = Journal::open(&path, [1; 32]).unwrap();
        journal.append(revoked(1)).unwrap();
        // Another process sharing the journal, killed as it wrote.
        let mut other = OpenOptions::new().append(true).open(&path).unwrap();
        other
            .write_all(br#"{"at":"2026-11-30T10:00:00Z","entry":"revo"#)
            .unwrap();
        journal.append(revoked(2)).unwrap();
        let read: Vec<Entry> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<Line>(l).ok())
            .map(|l| l.entry)
            .collect();
        assert_eq!(
            read,
            [revoked(1), revoked(2)],
            "the entry after the unfinished line reads"
        );
    }

    #[test]
    fn a_line_cut_by_a_crash_is_removed_before_the_next_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let journal = Journal::open(&path, [1; 32]).unwrap();
        journal.append(revoked(1)).unwrap();
        drop(journal);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(r#"{"at":"2026-11-30T10:00:00Z","entry":"revo"#);
        std::fs::write(&path, &text).unwrap();
        let journal = Journal::open(&path, [1; 32]).unwrap();
        journal.append(revoked(2)).unwrap();
        let lines: Vec<Line> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            lines.iter().map(|l| l.entry.clone()).collect::<Vec<_>>(),
            [revoked(1), revoked(2)],
            "every whole entry reads, the one after the cut line too"
        );
    }

    #[test]
    fn an_erasure_of_the_old_shape_reads_as_its_records_id() {
        let id = "0190a000-0000-7000-8000-000000000009";
        let old = format!(
            r#"{{"at":"2026-11-30T10:00:00Z","entry":"erased","org":3,"state":{{"id":"{id}","kind":"person","vv":{{"00000000-0000-0000-0000-000000000001":2}},"erased":true,"fields":{{}}}}}}"#
        );
        let read = Read::line(&old);
        assert!(
            matches!(read, Some(Read::LegacyErased(3, read_id)) if read_id.to_string() == id),
            "{read:?}"
        );
        let new = format!(
            r#"{{"at":"2026-11-30T10:00:00Z","entry":"erased","org":3,"record":"{}"}}"#,
            hex(&[9; 32])
        );
        assert!(
            matches!(
                Read::line(&new),
                Some(Read::Entry(Entry::Erased { org: 3, .. }))
            ),
            "the new shape reads as ever"
        );
        assert!(
            Read::line(&old[..old.len() - 3]).is_none(),
            "a cut line is still unreadable"
        );
    }

    fn visit() -> RecordState {
        RecordState::from_value(&serde_json::json!({
            "id": "0190a000-0000-7000-8000-000000000009", "kind": "visit",
            "vv": {"00000000-0000-0000-0000-000000000001": 1},
            "fields": {
                "person_ids": [{"dot": ["00000000-0000-0000-0000-000000000001", 1],
                                "at": "2026-11-30T10:00:00Z",
                                "value": ["0190a000-0000-7000-8000-000000000003"]}],
                "observations": [{"dot": ["00000000-0000-0000-0000-000000000001", 1],
                                  "at": "2026-11-30T10:00:00Z", "value": "Vu Zqxwvy au terrain"}]
            }
        }))
        .unwrap()
    }

    /// The `Edited` line of `journal` for the visit, as written to its file.
    fn edited_line(journal: &Journal, path: &Path) -> (Entry, String) {
        let edit = ServerEdit::Edited {
            mac: [5; 32],
            state: visit(),
        };
        journal.append_edits(7, &[edit]).unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        let line: Line = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        (line.entry, text)
    }

    #[test]
    fn a_servers_edit_round_trips_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let journal = Journal::open(&path, [1; 32]).unwrap();
        let (entry, _) = edited_line(&journal, &path);
        let Entry::Edited {
            org,
            record,
            sealed,
        } = entry
        else {
            panic!("expected an edited entry, got {entry:?}");
        };
        assert_eq!((org, record.as_str()), (7, hex(&[5; 32]).as_str()));
        assert_eq!(
            journal.open_sealed(org, &record, &sealed),
            Some(visit()),
            "byte for byte"
        );
        assert_eq!(
            journal.open_sealed(8, &record, &sealed),
            None,
            "a sealed state belongs to its line's organisation"
        );
        assert_eq!(
            journal.open_sealed(org, &hex(&[6; 32]), &sealed),
            None,
            "and to its line's record"
        );
        let again = journal.server_edits(
            7,
            &[ServerEdit::Edited {
                mac: [5; 32],
                state: visit(),
            }],
        );
        assert_ne!(
            again.unwrap()[0],
            Entry::Edited {
                org,
                record,
                sealed
            },
            "a fresh nonce each time"
        );
    }

    #[test]
    fn a_sealed_edit_does_not_open_under_another_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let journal = Journal::open(&path, [1; 32]).unwrap();
        let (entry, _) = edited_line(&journal, &path);
        let Entry::Edited {
            org,
            record,
            sealed,
        } = entry
        else {
            panic!("expected an edited entry, got {entry:?}");
        };
        let other = Journal::open(&dir.path().join("other"), [2; 32]).unwrap();
        assert_eq!(other.open_sealed(org, &record, &sealed), None);
        let mut damaged = sealed.clone();
        damaged.replace_range(30..32, if &sealed[30..32] == "00" { "01" } else { "00" });
        assert_eq!(journal.open_sealed(org, &record, &damaged), None);
    }

    #[test]
    fn the_journal_holds_no_record_id_or_content_in_clear() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let journal = Journal::open(&path, [1; 32]).unwrap();
        journal
            .append_edits(7, &[ServerEdit::Erased { mac: [9; 32] }])
            .unwrap();
        let (_, text) = edited_line(&journal, &path);
        assert!(
            text.contains(r#""entry":"erased","org":7,"record":"0909"#),
            "{text}"
        );
        for clear in [
            "0190a000-0000-7000-8000-000000000009",
            "0190a000-0000-7000-8000-000000000003",
            "Zqxwvy",
            "observations",
            "person_ids",
        ] {
            assert!(!text.contains(clear), "{clear} in clear: {text}");
        }
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
            entry: revoked(5),
        };
        let text = serde_json::to_string(&line).unwrap();
        assert_eq!(
            text,
            r#"{"at":"2026-11-30T10:00:00Z","entry":"revoked","device":"00000000-0000-0000-0000-000000000005"}"#
        );
        assert_eq!(unhex(&hex(&[9u8; 32])), Some([9u8; 32]));
        // The padded key gives the MAC of the 32-byte key itself.
        let mut short = <Hmac<Sha256> as hmac::Mac>::new_from_slice(&key).unwrap();
        short.update(b"marie");
        assert_eq!(mac, hex(&short.finalize().into_bytes()));
        assert_eq!(unhex("zz"), None);
    }
}
