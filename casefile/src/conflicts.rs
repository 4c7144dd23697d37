//! Records that need a person's choice: fields with several entries, and deletions
//! concurrent with edits (SYNC-PROTOCOL.md §5). Resolving is an ordinary edit
//! ([`CaseFile::resolve`], [`CaseFile::delete`], [`CaseFile::restore`]).

use serde::Serialize;
use sync_protocol::{RecordId, RecordState};

use crate::error::Result;
use crate::store::CaseFile;

/// One record needing a choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// The record.
    pub id: RecordId,
    /// Its kind.
    pub kind: String,
    /// Fields with several entries.
    pub fields: Vec<String>,
    /// Deleted while edited elsewhere: confirm the deletion or restore.
    pub deleted_with_edits: bool,
}

impl CaseFile {
    /// Every record needing a person's choice, in id order. A person merged into another
    /// is not listed: its file takes no change, and each device re-applies its own edits
    /// of it to the file that stays, where their conflicts, if any, are decided.
    pub fn conflicts(&self) -> Result<Vec<Conflict>> {
        let _span = tracing::info_span!("casefile.conflicts").entered();
        let mut stmt = self.conn.prepare_cached(
            "SELECT state FROM records WHERE conflicted = 1
               AND NOT EXISTS (SELECT 1 FROM person_survivor s WHERE s.id = records.id)
             ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for text in rows {
            let state = RecordState::from_json(&text?)?;
            let c = state.conflicts();
            if !c.is_empty() {
                out.push(Conflict {
                    id: state.id(),
                    kind: state.kind().to_string(),
                    fields: c.fields,
                    deleted_with_edits: c.deleted_with_edits,
                });
            }
        }
        Ok(out)
    }
}
