//! # sync-protocol
//!
//! The sync semantics of Passerelle, as `SYNC-PROTOCOL.md` (version 1) sets them out:
//! the one place they live. The device's case file, the server and the app all call this
//! crate; none writes merge or validation again.
//!
//! ## Terms
//! - A **replica** ([`ReplicaId`]) is the server or one device.
//! - A **record** ([`RecordState`]) is one versioned object with an id ([`RecordId`]) and a
//!   [`Kind`]. Its fields each hold one or more **entries** ([`Entry`]) `{dot, at, value}`.
//! - A **dot** ([`Dot`]) `[replica, n]` names the n-th edit `replica` made to a record.
//! - A **version vector** ([`VersionVector`]) says which edits a copy includes.
//!
//! ## Operations
//! - Local edits ([`RecordState::create`], [`edit`](RecordState::edit),
//!   [`delete`](RecordState::delete), [`restore`](RecordState::restore),
//!   [`resolve`](RecordState::resolve)): one dot each, however many fields.
//! - [`merge`] of two copies; [`RecordState::erase`] (server only).
//! - Validation of every rule of §2 when reading JSON ([`RecordState::from_value`]).
//! - [`RecordState::conflicts`]: fields with several entries and deletions concurrent
//!   with edits.
//! - [`check_dots`]: the server's forged-dot rule; [`check_no_drop`]: its no-drop rule
//!   (§4); [`reused_dot`]: one dot given to two edits (§6a).
//! - [`redot`]: after a re-key (§6a), the edits of a replica's reused id that the server
//!   does not hold take dots of the new id, so that both lives of a case file survive.
//! - The size cap of one edit, [`MAX_EDIT_BYTES`], checked by every decode and refused by
//!   every local edit that would pass it.
//! - Erasing persons (§5): [`forget`] takes erased persons out of a record, or erases it,
//!   by field names (`person_id`, `merged_into`, `*_person_id`, `person_ids`), never by a
//!   list of kinds; [`prose_fields`] names the free text to read again.
//! - Two files of one person merged, read through the merged-away file's tombstone
//!   (`merged_into`), and pairs marked "not the same person": the rules in [`merges`].
//! - The organisation's settings record and the retention rule, in [`organisation`].
//! - The wire messages of §6 in [`wire`]; documents' constants (§6b) in [`blobs`].
//!
//! ## Invariants
//! Every state this crate hands out is valid by §2, with entries in dot order and fields
//! in name order, so equal states serialise to equal bytes ([`RecordState::to_json`]).
//! Merge is commutative, associative and idempotent; an entry disappears only when a
//! replica that had seen it wrote over it. The crate does no I/O and reads no clock: the
//! caller passes times ([`Timestamp`]) and ids in, so everything here is deterministic.
//!
//! Numbers round-trip exactly: serde_json reads with `float_roundtrip` (the workspace
//! enables it), so every double reads as the nearest IEEE 754 value and writes back as
//! its shortest text; a replica never changes a value it did not edit.
//!
//! ## Choices the protocol leaves open
//! - `erased` may only be `true`; an erased record holds no fields, and merging with it
//!   keeps the joined `vv`.
//! - `_deleted` entries must be `null` or `{"seen": vv}` (§5); anything else is invalid.
//! - Concurrent deletions agree, so `_deleted` with several non-null entries is not listed
//!   as a field conflict (it is still deleted, and a new delete merges them).
//! - An edit refuses `_deleted` (delete and restore write it) and an empty change.
//! - The server also refuses, as forged, a pushed entry whose dot it holds with another
//!   content.
//! - A pull may ask for several pages in one answer (`pages=P`, 1 to
//!   [`wire::MAX_PULL_PAGES`], default 1): the server then answers them back to back as
//!   newline-delimited JSON ([`wire::PULL_STREAM_TYPE`]), each line a whole page exactly
//!   as one pull would answer it (`records`, `next`, `more`, `epoch`), the next page
//!   starting at the line's `next`. The stream ends after a page whose `more` is false,
//!   after P pages, or early at a page's end when the server chooses (it stops after about
//!   20 s); the last line's `more` says whether to ask again. A client commits its
//!   checkpoint line by line, as after separate pulls, so a stream cut anywhere resumes
//!   at the last page applied: nothing is skipped or applied twice. A server that does not
//!   stream ignores the parameter (§6: other parameters are ignored) and answers one page
//!   as `application/json`; a client reads that as a stream of one page. The point is the
//!   round trip: on a 300 ms link, each page of a paged pull waits one.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod blobs;
mod conflict;
pub mod dates;
mod decode;
mod edit;
mod forged;
mod id;
mod merge;
pub mod merges;
mod no_drop;
pub mod organisation;
mod persons;
mod record;
mod rekey;
mod size;
mod validate;
mod vv;
pub mod wire;

pub use conflict::Conflicts;
pub use edit::EditError;
pub use forged::{ForgedDot, check_dots, reused_dot};
pub use id::{Epoch, InvalidUuid, RecordId, ReplicaId};
pub use merge::{MergeError, merge};
pub use no_drop::{DroppedEntry, MergeRefused, check_no_drop, merge_checked};
pub use persons::{Forgotten, PERSONS_FIELD, forget, names_one_person, prose_fields};
pub use record::{
    DELETED_FIELD, Entry, FieldName, InvalidName, InvalidTimestamp, Kind, RecordState, Timestamp,
};
pub use rekey::redot;
pub use size::MAX_EDIT_BYTES;
pub use validate::ValidationError;
pub use vv::{Dot, MAX_COUNTER, VersionVector};
