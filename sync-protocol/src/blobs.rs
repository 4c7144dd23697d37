//! Documents (blobs), SYNC-PROTOCOL.md §6b: what device and server agree on beside the
//! three calls.
//!
//! An attachment record names its bytes by their SHA-256, written as 64 lowercase hex
//! digits ([`is_sha256`]). The bytes travel apart from the records, after them.
//!
//! ## Choices the protocol leaves open
//! - `PUT /v1/blobs/{sha256}?offset=N` carries the whole document's length in the header
//!   [`BLOB_LENGTH`] (the server needs it to know when the last chunk completes the
//!   document); the same on every chunk, at most [`MAX_BLOB_BYTES`] (else 413
//!   `too_large`). A chunk holds at most [`CHUNK_BYTES`] and starts where the server's
//!   part ends: another `offset` is 409 `wrong_offset`, and the client asks `HEAD` again.
//!   A chunk of a document the server holds whole changes nothing and answers its length.
//! - `HEAD` answers `200` with `Content-Length` and [`BLOB_RECEIVED`] equal to the
//!   length when the organisation holds the whole document, `206` with [`BLOB_RECEIVED`]
//!   when part of an upload is there, `404` else.
//! - The server takes bytes only for a document that an attachment record of the
//!   caller's organisation names (else 404 `not_found`): the records go first, so this
//!   holds for an honest device, and a stolen token cannot make the server a store of
//!   anything else.
//! - An attachment *names* a document when its field [`SHA256_FIELD`] has an entry (one
//!   value, or one of a conflict's) with that digest, and the record is not erased. A
//!   deleted attachment still names it (it may be restored).

/// The kind of the records that name documents.
pub const ATTACHMENT_KIND: &str = "attachment";

/// The field of an attachment that names its document.
pub const SHA256_FIELD: &str = "sha256";

/// The largest document: 20 MiB.
pub const MAX_BLOB_BYTES: u64 = 20 * 1024 * 1024;

/// The largest chunk of one `PUT`, and what a client asks of one ranged `GET`: 4 MiB.
pub const CHUNK_BYTES: u64 = 4 * 1024 * 1024;

/// The header of a `PUT` that gives the whole document's length.
pub const BLOB_LENGTH: &str = "Blob-Length";

/// The header of a `HEAD` answer that says how many bytes the server holds.
pub const BLOB_RECEIVED: &str = "Blob-Received";

/// Whether `text` is a SHA-256 as the protocol writes it: 64 lowercase hex digits.
pub fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_is_64_lowercase_hex_digits() {
        let good = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert!(is_sha256(good));
        assert!(!is_sha256(&good.to_uppercase()));
        assert!(!is_sha256(&good[..63]));
        assert!(!is_sha256(&format!("{good}0")));
        assert!(!is_sha256(&good.replace('e', "g")));
        assert!(!is_sha256("../../etc/passwd"));
    }
}
