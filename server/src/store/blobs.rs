//! Documents (blobs, SYNC-PROTOCOL.md §6b): what the server holds of each, decided once
//! for both backends; the SQL is in each backend's `blobs` module.
//!
//! ## Storage
//! A document is a row of `blobs` (its length, how many bytes are held, whether it is
//! whole) and its bytes, one row of `blob_chunks` per chunk received (at most
//! [`CHUNK_BYTES`](sync_protocol::blobs::CHUNK_BYTES)), in the same database as the
//! records, so that backups carry them.
//! Everything is per organisation: the same digest in two organisations is two
//! documents, and no answer tells one organisation what another holds.
//!
//! ## Rules
//! - The server takes bytes only for a document that a non-erased attachment record of
//!   the organisation names (field [`SHA256_FIELD`], any entry, the record deleted or
//!   not): [`plan_chunk`] answers [`Put::NotNamed`] otherwise.
//! - Chunks come in order, without gaps: each starts where the held part ends. The chunk
//!   that completes the document has the SHA-256 of all its bytes checked; on a mismatch
//!   every byte of it is deleted.
//! - The organisation's quota counts the bytes of whole documents and of the parts of
//!   uploads under way; a chunk that would pass it stores nothing.
//! - A document no attachment names any more is deleted, in the same transaction as
//!   every erasure (of a record, of a person, on arrival in a push, from the journal) and
//!   every push whose attachments stopped naming one; [`Store::sweep_blobs`], at start
//!   and every hour, deletes what any other path left, and the parts of uploads untouched
//!   for [`STALE_UPLOAD_SECONDS`].
//!
//! [`Store::sweep_blobs`]: crate::store::Store::sweep_blobs

use sha2::{Digest, Sha256};
use sync_protocol::RecordState;
use sync_protocol::blobs::{ATTACHMENT_KIND, SHA256_FIELD, is_sha256};

/// A part of an upload untouched for this long is dropped: 7 days.
pub const STALE_UPLOAD_SECONDS: i64 = 7 * 86_400;

/// The organisation's quota for documents unless `--blob-quota-mib` says otherwise:
/// 10 GiB.
pub const DEFAULT_QUOTA_MIB: u64 = 10_240;

/// The most bytes a `GET` reads from the database at a time where a backend reads part
/// of a piece without the rest (PostgreSQL; see [`Store::READ_BYTES`]): 1 MiB.
///
/// [`Store::READ_BYTES`]: crate::store::Store::READ_BYTES
pub const READ_BYTES: u64 = 1024 * 1024;

/// What the server holds of one document of an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blob {
    /// The whole document's length.
    pub size: u64,
    /// How many of its bytes are held, from byte 0.
    pub received: u64,
    /// Whether it is whole, its SHA-256 checked.
    pub whole: bool,
}

/// One chunk of a `PUT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The document's SHA-256, 64 lowercase hex digits.
    pub sha256: String,
    /// Where the chunk starts in the document.
    pub offset: u64,
    /// The whole document's length (`Blob-Length`).
    pub length: u64,
    /// The chunk's bytes.
    pub data: Vec<u8>,
}

impl Chunk {
    /// The offset just past the chunk.
    pub fn end(&self) -> u64 {
        self.offset.saturating_add(self.data.len() as u64)
    }
}

/// What a chunk did, once durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// Stored (or nothing to store): the server holds this many bytes of the document,
    /// all of them when it is whole.
    Received(u64),
    /// No attachment of the organisation names the document (404).
    NotNamed,
    /// The chunk does not start where the held part ends (409).
    WrongOffset {
        /// The bytes held.
        held: u64,
    },
    /// The upload under way has another length (400).
    OtherLength {
        /// Its length.
        length: u64,
    },
    /// The chunk ends past the document's length (400).
    PastLength,
    /// The chunk would pass the organisation's quota (507): nothing was stored.
    QuotaFull {
        /// The bytes the organisation holds.
        used: u64,
        /// Its quota.
        quota: u64,
    },
    /// The completed document does not have its SHA-256 (422): every byte of it was
    /// deleted.
    HashMismatch,
}

/// What to write for a chunk, decided by [`plan_chunk`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChunkPlan {
    /// Nothing to write: answer this.
    Answer(Put),
    /// Store the chunk.
    Write {
        /// The document has no row yet.
        create: bool,
        /// The chunk completes it: check the hash of every byte first.
        completes: bool,
    },
}

/// Decides a chunk from what its transaction read: the document's row (`held`), whether
/// an attachment names it, and the organisation's bytes (`used`) and `quota`. A document
/// with a row is named (every path that stops naming one deletes its row in the same
/// transaction), so the caller reads the names only when there is no row. The order:
/// not named (404), whole already (200, nothing stored), another length (400), a wrong
/// offset (409), past the length (400), nothing to store (200), over the quota (507).
pub(crate) fn plan_chunk(
    chunk: &Chunk,
    held: Option<Blob>,
    named: bool,
    used: u64,
    quota: u64,
) -> ChunkPlan {
    use ChunkPlan::Answer;
    if !named {
        return Answer(Put::NotNamed);
    }
    if let Some(blob) = held {
        if blob.whole {
            return Answer(Put::Received(blob.size));
        }
        if blob.size != chunk.length {
            return Answer(Put::OtherLength { length: blob.size });
        }
    }
    let received = held.map_or(0, |b| b.received);
    if chunk.offset != received {
        return Answer(Put::WrongOffset { held: received });
    }
    if chunk.end() > chunk.length {
        return Answer(Put::PastLength);
    }
    let completes = chunk.end() == chunk.length;
    if chunk.data.is_empty() && !completes {
        return Answer(Put::Received(received));
    }
    let bytes = chunk.data.len() as u64;
    if used.saturating_add(bytes) > quota {
        return Answer(Put::QuotaFull { used, quota });
    }
    ChunkPlan::Write {
        create: held.is_none(),
        completes,
    }
}

/// The SHA-256 of `hasher`'s bytes, as the protocol writes it.
pub(crate) fn hex_digest(hasher: Sha256) -> String {
    crate::journal::hex(&hasher.finalize())
}

/// A new hasher, for the completing chunk's check.
pub(crate) fn hasher() -> Sha256 {
    Sha256::new()
}

/// A count or an offset read from the database (a `BIGINT`, never negative as written).
pub(crate) fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A count or an offset as the database stores it (documents are far below `i64::MAX`).
pub(crate) fn to_sql(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The documents a state names: for an attachment, every digest among the entries of its
/// field [`SHA256_FIELD`]; nothing for another kind or an erased record.
pub(crate) fn digests(state: &RecordState) -> Vec<String> {
    if state.kind().as_str() != ATTACHMENT_KIND || state.is_erased() {
        return Vec::new();
    }
    state
        .entries(SHA256_FIELD)
        .iter()
        .filter_map(|e| e.value.as_str())
        .filter(|d| is_sha256(d))
        .map(str::to_owned)
        .collect()
}

/// The digests among `old` (what a record named before a write) that its new `state`
/// does not name: the documents the write may have left unnamed.
pub(crate) fn no_longer_named(old: &[String], state: &RecordState) -> Vec<String> {
    if old.is_empty() {
        return Vec::new();
    }
    let now = digests(state);
    old.iter().filter(|d| !now.contains(d)).cloned().collect()
}

/// The digests the `stored` copy of a record named that its new `state` does not.
pub(crate) fn unnamed_by(stored: Option<&RecordState>, state: &RecordState) -> Vec<String> {
    no_longer_named(&stored.map(digests).unwrap_or_default(), state)
}

/// What an organisation holds (`blobs status`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    /// Whole documents.
    pub documents: u64,
    /// Bytes counted against the quota: whole documents and parts of uploads under way.
    pub bytes: u64,
    /// Uploads under way (parts held).
    pub uploads_under_way: u64,
}

/// What a sweep deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Parts of uploads untouched for [`STALE_UPLOAD_SECONDS`].
    pub stale: u64,
    /// Documents (whole or not) that no attachment names.
    pub unnamed: u64,
}

/// One stored chunk of a document: where it starts, and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// Its first byte's offset in the document.
    pub start: u64,
    /// Its length.
    pub len: u64,
}

/// One read of a `GET`: `take` bytes of the piece that starts at `piece`, from `skip`
/// bytes into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read {
    /// The piece's start.
    pub piece: u64,
    /// Bytes of the piece to skip.
    pub skip: u64,
    /// Bytes to read.
    pub take: u64,
}

/// The reads that give the bytes `from..to` of a document stored as `pieces` (in order),
/// each at most `step` bytes.
pub(crate) fn reads(pieces: &[Piece], from: u64, to: u64, step: u64) -> Vec<Read> {
    let step = step.max(1);
    let mut out = Vec::new();
    for piece in pieces {
        let (start, end) = (piece.start.max(from), (piece.start + piece.len).min(to));
        let mut at = start;
        while at < end {
            let take = (end - at).min(step);
            out.push(Read {
                piece: piece.start,
                skip: at - piece.start,
                take,
            });
            at += take;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(offset: u64, length: u64, bytes: usize) -> Chunk {
        Chunk {
            sha256: "0".repeat(64),
            offset,
            length,
            data: vec![7; bytes],
        }
    }

    fn part(size: u64, received: u64) -> Option<Blob> {
        Some(Blob {
            size,
            received,
            whole: false,
        })
    }

    #[test]
    fn a_chunk_is_refused_in_the_documented_order() {
        use ChunkPlan::{Answer, Write};
        let quota = 100;
        assert_eq!(
            plan_chunk(&chunk(5, 10, 5), None, false, 0, quota),
            Answer(Put::NotNamed),
            "not named comes first"
        );
        let whole = Some(Blob {
            size: 10,
            received: 10,
            whole: true,
        });
        assert_eq!(
            plan_chunk(&chunk(3, 99, 5), whole, true, 0, 0),
            Answer(Put::Received(10)),
            "a whole document answers its length, whatever the chunk"
        );
        assert_eq!(
            plan_chunk(&chunk(4, 11, 5), part(10, 4), true, 0, quota),
            Answer(Put::OtherLength { length: 10 })
        );
        assert_eq!(
            plan_chunk(&chunk(5, 10, 5), part(10, 4), true, 0, quota),
            Answer(Put::WrongOffset { held: 4 })
        );
        assert_eq!(
            plan_chunk(&chunk(3, 10, 1), None, true, 0, quota),
            Answer(Put::WrongOffset { held: 0 }),
            "a new upload starts at 0"
        );
        assert_eq!(
            plan_chunk(&chunk(4, 10, 7), part(10, 4), true, 0, quota),
            Answer(Put::PastLength)
        );
        assert_eq!(
            plan_chunk(&chunk(4, 10, 0), part(10, 4), true, 0, quota),
            Answer(Put::Received(4)),
            "an empty chunk stores nothing"
        );
        assert_eq!(
            plan_chunk(&chunk(4, 10, 6), part(10, 4), true, 95, quota),
            Answer(Put::QuotaFull {
                used: 95,
                quota: 100
            })
        );
        assert_eq!(
            plan_chunk(&chunk(4, 10, 6), part(10, 4), true, 94, quota),
            Write {
                create: false,
                completes: true
            },
            "exactly at the quota"
        );
        assert_eq!(
            plan_chunk(&chunk(0, 10, 4), None, true, 0, quota),
            Write {
                create: true,
                completes: false
            }
        );
        assert_eq!(
            plan_chunk(&chunk(0, 0, 0), None, true, 0, 0),
            Write {
                create: true,
                completes: true
            },
            "an empty document is whole at once"
        );
    }

    #[test]
    fn reads_cover_a_range_in_steps_within_pieces() {
        let pieces = [
            Piece { start: 0, len: 10 },
            Piece { start: 10, len: 10 },
            Piece { start: 20, len: 3 },
        ];
        assert_eq!(
            reads(&pieces, 8, 21, 4),
            vec![
                Read {
                    piece: 0,
                    skip: 8,
                    take: 2
                },
                Read {
                    piece: 10,
                    skip: 0,
                    take: 4
                },
                Read {
                    piece: 10,
                    skip: 4,
                    take: 4
                },
                Read {
                    piece: 10,
                    skip: 8,
                    take: 2
                },
                Read {
                    piece: 20,
                    skip: 0,
                    take: 1
                },
            ]
        );
        let total: u64 = reads(&pieces, 0, 23, 5).iter().map(|r| r.take).sum();
        assert_eq!(total, 23);
        assert!(reads(&pieces, 23, 23, 5).is_empty());
    }

    #[test]
    fn an_attachment_names_every_digest_of_its_entries() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let replica = sync_protocol::ReplicaId::from_u128(1);
        let other = sync_protocol::ReplicaId::from_u128(2);
        let state = RecordState::from_value(&serde_json::json!({
            "id": sync_protocol::RecordId::from_u128(9), "kind": "attachment",
            "vv": {replica.to_string(): 1, other.to_string(): 1},
            "fields": {"sha256": [
                {"dot": [replica, 1], "at": "2026-11-02T10:14:00Z", "value": a},
                {"dot": [other, 1], "at": "2026-11-02T10:14:00Z", "value": b},
            ], "title": [{"dot": [replica, 1], "at": "2026-11-02T10:14:00Z", "value": "x"}]}
        }))
        .unwrap();
        assert_eq!(digests(&state), vec![a.clone(), b]);
        assert!(digests(&state.clone().erase()).is_empty());
    }
}
