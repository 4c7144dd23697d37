//! Drafts: what a form holds while it is being typed (a visit, a record's form), kept in
//! the case file, encrypted with the rest, so that a lock (by hand, or idle: the key
//! leaves memory), a crash or a wrong turn loses no note. The app saves a form's draft
//! as it changes and drops it once the form is saved or abandoned.
//!
//! A draft is the app's own text (JSON), under a short key of its choosing (`visit`,
//! `form.person.<id>`). The case file does not read it, with one exception: a draft
//! whose key or text names a record the case file erases goes with it, whole
//! (`erasure::wipe`), so an erasure leaves nothing of them here either; a visit drafted
//! with them and others goes too, since its notes may be about them.

use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::store::{CaseFile, clear_meta, get_meta, set_meta};

/// The most a draft holds: a form of the size one change may hold, with room.
pub const MAX_DRAFT_BYTES: usize = 512 * 1024;

const PREFIX: &str = "draft.";

/// The key of a draft as stored, or why `key` is refused.
fn stored_key(key: &str) -> Result<String> {
    let ok = !key.is_empty()
        && key.len() <= 100
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if ok {
        Ok(format!("{PREFIX}{key}"))
    } else {
        Err(Error::invalid(
            "key",
            "1 to 100 letters, digits, '.', '-' or '_'",
        ))
    }
}

impl CaseFile {
    /// Keeps `text` as the draft `key`, over any before it.
    ///
    /// Errors: [`Error::Invalid`] naming `key` for a key of other characters, or `draft`
    /// for a text over [`MAX_DRAFT_BYTES`]; nothing is written then.
    pub fn save_draft(&mut self, key: &str, text: &str) -> Result<()> {
        let key = stored_key(key)?;
        if text.len() > MAX_DRAFT_BYTES {
            return Err(Error::invalid("draft", "at most 512 KiB"));
        }
        set_meta(&self.conn, &key, &text)
    }

    /// The draft `key`, if one is kept.
    ///
    /// Errors: [`Error::Invalid`] naming `key` for a key of other characters.
    pub fn draft(&self, key: &str) -> Result<Option<String>> {
        get_meta(&self.conn, &stored_key(key)?)
    }

    /// Drops the draft `key` (nothing when none is kept).
    ///
    /// Errors: [`Error::Invalid`] naming `key` for a key of other characters.
    pub fn drop_draft(&mut self, key: &str) -> Result<()> {
        clear_meta(&self.conn, &stored_key(key)?)
    }
}

/// Drops, within the caller's transaction, every draft whose text names `id`.
pub(crate) fn forget_naming(conn: &Connection, id: &str) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM meta WHERE key LIKE 'draft.%' AND (instr(key, ?1) > 0 OR instr(value, ?1) > 0)",
        )?
        .execute([id])?)
}

#[cfg(test)]
mod tests {
    use crate::{CaseFile, Error, KdfParams};

    fn fresh() -> (tempfile::TempDir, CaseFile) {
        let dir = tempfile::tempdir().unwrap();
        let file = CaseFile::init_with(
            dir.path().join("t.casefile"),
            "une phrase secrète de test",
            KdfParams::INSECURE_FOR_TESTS,
        )
        .unwrap();
        (dir, file)
    }

    #[test]
    fn a_draft_is_kept_replaced_and_dropped_and_bad_keys_change_nothing() {
        let (dir, mut file) = fresh();
        assert_eq!(file.draft("visit").unwrap(), None);
        file.save_draft("visit", r#"{"purpose":"Point"}"#).unwrap();
        file.save_draft("visit", r#"{"purpose":"Point sur le CV"}"#)
            .unwrap();
        drop(file);
        // Kept across a close (a lock, a crash after the write).
        let mut file =
            CaseFile::open(dir.path().join("t.casefile"), "une phrase secrète de test").unwrap();
        assert_eq!(
            file.draft("visit").unwrap().as_deref(),
            Some(r#"{"purpose":"Point sur le CV"}"#)
        );
        for bad in ["", "a b", "../x", "visit;DROP", &"k".repeat(101)] {
            assert!(
                matches!(file.save_draft(bad, "{}"), Err(Error::Invalid { field, .. }) if field == "key"),
                "{bad:?}"
            );
        }
        assert!(matches!(
            file.save_draft("visit", &"x".repeat(super::MAX_DRAFT_BYTES + 1)),
            Err(Error::Invalid { field, .. }) if field == "draft"
        ));
        assert_eq!(
            file.draft("visit").unwrap().as_deref(),
            Some(r#"{"purpose":"Point sur le CV"}"#),
            "a refused draft changes nothing"
        );
        file.drop_draft("visit").unwrap();
        assert_eq!(file.draft("visit").unwrap(), None);
        file.drop_draft("visit").unwrap();
    }
}
