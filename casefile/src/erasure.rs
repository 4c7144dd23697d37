//! Erasure on the device (SYNC-PROTOCOL.md §5): what a pulled erased state does to the
//! case file, and a coordinator's erasures over HTTP.
//!
//! ## A pulled erased state
//! The server erased the record: nothing of it may stay here, not even its id. The
//! record's row goes from `records` with every row keyed by its id (its typed row, the
//! persons met in a visit, the search terms, set-aside rows, the re-key's list), in the
//! transaction of the page that brought it; no tombstone is kept. A later pull of the
//! same erased state finds nothing and changes nothing; a local edit of the id finds no
//! record ([`crate::Error::NotFound`]); nothing can push it again.
//!
//! When the erased record is a person, the local records **about that person alone**
//! (`RecordState::about_alone`: `person_id`, `merged_into`, `*_person_id`, of any kind)
//! go with it, pushed or not: those the server holds are erased there too, and one made
//! offline would be erased on arrival. They are found by a prefilter on the state text
//! (the id appears in it), then checked with the rule, once per page. A person the case
//! file never held is not looked for: no local record can name them but pulled ones,
//! which the server erased with them. Records shared with others (`person_ids`) are left
//! to the server's edit, which a pull brings like any edit.
//!
//! `secure_delete` is on (see [`crate::store`]): the freed cells and pages are zeroed,
//! and the sync checkpoints and truncates the WAL after a page that erased something.
//! The person search is a plain table (`person_terms`), whose rows go with the person.
//!
//! ## Erasing from the device
//! [`CaseFile::erase_person`] and [`CaseFile::erase_record`] ask the server to erase
//! (coordinators only); the case file learns of it at its next sync.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;

use reqwest::header::CONTENT_TYPE;
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sync_protocol::wire::{
    ErasePersonRequest, ErasePersonResponse, EraseRequest, EraseResponse, ErrorCode,
};
use sync_protocol::{RecordId, RecordState};
use tracing::{info, info_span};

use crate::client::{Http, SyncError, SyncOptions};
use crate::error::Result;
use crate::store::CaseFile;
use crate::{recovery, schema, set_aside};

/// The kind whose erasure takes the records about it alone with it.
const PERSON: &str = "person";

/// Deletes the record `id` and every row keyed by its id, within the caller's
/// transaction. Answers whether the case file held the record.
pub(crate) fn wipe(conn: &Connection, id: RecordId) -> Result<bool> {
    let key = id.to_string();
    let kind: Option<String> = conn
        .prepare_cached("SELECT kind FROM records WHERE id = ?1")?
        .query_row([&key], |r| r.get(0))
        .optional()?;
    if let Some(spec) = kind.as_deref().and_then(schema::kind) {
        conn.prepare_cached(&format!("DELETE FROM \"{}\" WHERE id = ?1", spec.kind))?
            .execute([&key])?;
    }
    for sql in [
        "DELETE FROM records WHERE id = ?1",
        // As a visit, and as a person met in visits: the visits themselves stay until the
        // server's edit takes the person out of them.
        "DELETE FROM visit_person WHERE visit_id = ?1",
        "DELETE FROM visit_person WHERE person_id = ?1",
        "DELETE FROM person_terms WHERE person_id = ?1",
        "DELETE FROM person_keys WHERE person_id = ?1",
        "DELETE FROM person_merge WHERE id = ?1 OR merged_into = ?1",
        "DELETE FROM person_survivor WHERE id = ?1 OR survivor = ?1",
        "DELETE FROM not_duplicate WHERE holder = ?1 OR other = ?1",
        "DELETE FROM merge_reapplied WHERE id = ?1",
    ] {
        conn.prepare_cached(sql)?.execute([&key])?;
    }
    set_aside::forget(conn, id)?;
    recovery::forget_redotted(conn, id)?;
    // A form being typed about them goes too.
    crate::drafts::forget_naming(conn, &key)?;
    if kind.as_deref() == Some(crate::attachments::ATTACHMENT_KIND) {
        // Its bytes go with it, unless another attachment names them.
        crate::attachments::forget_unnamed(conn)?;
    }
    Ok(kind.is_some())
}

/// Whether the erasure of `state` takes the records about it alone with it.
pub(crate) fn takes_dependants(state: &RecordState) -> bool {
    state.kind().as_str() == PERSON
}

/// Deletes, within the caller's transaction, every local record about one of `persons`
/// alone, with every row keyed by its id. Answers how many went.
pub(crate) fn wipe_about(conn: &Connection, persons: &BTreeSet<RecordId>) -> Result<usize> {
    if persons.is_empty() {
        return Ok(0);
    }
    let _span = info_span!("casefile.wipe_about", persons = persons.len()).entered();
    let needles: Vec<String> = persons.iter().map(ToString::to_string).collect();
    let mut doomed = Vec::new();
    {
        let mut stmt = conn.prepare_cached("SELECT state FROM records")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let text: String = row.get(0)?;
            if !needles.iter().any(|needle| text.contains(needle.as_str())) {
                continue;
            }
            let state = RecordState::from_json(&text)?;
            if state.about_alone().iter().any(|p| persons.contains(p)) {
                doomed.push(state.id());
            }
        }
    }
    for id in &doomed {
        wipe(conn, *id)?;
    }
    Ok(doomed.len())
}

impl CaseFile {
    /// Asks the server to erase the person `id` (SYNC-PROTOCOL.md §5, `POST
    /// /v1/persons/erase`, coordinators only): the person, every record about them alone
    /// and the visits that met only them go; the records they share lose them by an edit
    /// of the server. With `dry_run`, only says what would go; nothing changes. Answers
    /// the server's list of what goes and what stays (with the free-text fields a
    /// coordinator should read again). The case file learns of it at its next sync.
    ///
    /// Errors: [`SyncError::NotEnrolled`]; [`SyncError::Forbidden`] when this device's
    /// user is not a coordinator; [`SyncError::NotFound`] when the organisation holds no
    /// such person; a refusal with code `slow_down` past the organisation's erasures of
    /// the hour; the errors of a sync request.
    pub fn erase_person(
        &self,
        id: RecordId,
        dry_run: bool,
    ) -> Result<ErasePersonResponse, SyncError> {
        self.erase_person_cancellable(id, dry_run, &AtomicBool::new(false))
    }

    /// [`erase_person`](Self::erase_person), abandoned within 50 ms once `cancel` is set
    /// ([`SyncError::Cancelled`]). The server may have erased all the same: the next
    /// sync says.
    pub fn erase_person_cancellable(
        &self,
        id: RecordId,
        dry_run: bool,
        cancel: &AtomicBool,
    ) -> Result<ErasePersonResponse, SyncError> {
        let _span = info_span!("casefile.erase_person", dry_run).entered();
        let answer: ErasePersonResponse = self.ask_erasure(
            "/v1/persons/erase",
            &ErasePersonRequest { id, dry_run },
            cancel,
        )?;
        info!(
            dry_run,
            erased = answer.erased.len(),
            kept = answer.kept.len(),
            "the server answered a person's erasure"
        );
        Ok(answer)
    }

    /// Asks the server to erase the record `id` (SYNC-PROTOCOL.md §5, `POST /v1/erase`,
    /// coordinators only). Answers the organisation's highest sequence once stored.
    ///
    /// Errors: as [`erase_person`](Self::erase_person).
    pub fn erase_record(&self, id: RecordId) -> Result<EraseResponse, SyncError> {
        let _span = info_span!("casefile.erase_record").entered();
        self.ask_erasure("/v1/erase", &EraseRequest { id }, &AtomicBool::new(false))
    }

    /// Posts an erasure request to `path` with the device token. A 429 (the erasures of
    /// the hour are spent) is answered at once, not waited out.
    fn ask_erasure<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        cancel: &AtomicBool,
    ) -> Result<T, SyncError> {
        let options = SyncOptions {
            retry_slow_down: false,
            ..SyncOptions::default()
        };
        let http = self.enrolled_http(options, cancel)?;
        let body = serde_json::to_string(body).map_err(|e| SyncError::BadAnswer(e.to_string()))?;
        let reply = http.send(|c| {
            c.post(http.url(path))
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone())
        })?;
        match Http::answer::<T>(reply)? {
            Ok(answer) => Ok(answer),
            Err(refusal) => {
                let code = refusal.detail.as_ref().map(|d| d.code);
                Err(match (refusal.status, code) {
                    (403, _) => SyncError::Forbidden,
                    (404, Some(ErrorCode::NotFound)) => SyncError::NotFound,
                    _ => refusal.into_error(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sync_protocol::{FieldName, Kind, ReplicaId, Timestamp};

    use super::*;
    use crate::KdfParams;

    fn state(kind: &str, id: u128, fields: serde_json::Value) -> RecordState {
        let replica: ReplicaId = "00000000-0000-7000-8000-00000000abcd".parse().unwrap();
        let at: Timestamp = "2026-11-02T10:14:00Z".parse().unwrap();
        RecordState::create(
            RecordId::from_u128(id),
            kind.parse::<Kind>().unwrap(),
            replica,
            at,
            fields
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.parse::<FieldName>().unwrap(), v.clone())),
        )
        .unwrap()
    }

    fn count(file: &CaseFile, sql: &str, id: RecordId) -> i64 {
        file.conn
            .query_row(sql, [id.to_string()], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_wipe_leaves_no_row_keyed_by_the_id_and_the_dependants_go_with_a_person() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = CaseFile::init_with(
            dir.path().join("c.db"),
            "correct horse battery staple",
            KdfParams::INSECURE_FOR_TESTS,
        )
        .unwrap();
        let person = state("person", 7, json!({"family_name": "Zqxw", "phone": "0611"}));
        let p = person.id().to_string();
        let step = state("step", 8, json!({"person_id": p, "title": "CV"}));
        let mark = state("duplicate", 9, json!({"other_person_id": p}));
        let visit = state("visit", 10, json!({"person_ids": [p]}));
        let other = state(
            "step",
            11,
            json!({"person_id": RecordId::from_u128(3).to_string()}),
        );
        file.apply_pulled(
            &[
                person.clone(),
                step.clone(),
                mark.clone(),
                visit.clone(),
                other.clone(),
            ],
            1,
        )
        .unwrap();
        file.write(|tx| {
            tx.execute("INSERT INTO rekey_done (id) VALUES (?1)", [&p])?;
            crate::set_aside::set_aside_local(tx, person.id(), "person", "held", "…")?;
            Ok(())
        })
        .unwrap();
        // A visit being typed about them, and another about someone else.
        file.save_draft("visit", &format!(r#"{{"met":["{p}"],"purpose":"Zqxw"}}"#))
            .unwrap();
        file.save_draft("form.site", r#"{"name":"Terrain"}"#)
            .unwrap();
        // Their own form, whose text need not hold their id.
        file.save_draft(&format!("form.person.{p}"), r#"{"family_name":"Zqxw"}"#)
            .unwrap();

        let (gone, dependants) = file
            .write(|tx| {
                let gone = wipe(tx, person.id())?;
                Ok((gone, wipe_about(tx, &BTreeSet::from([person.id()]))?))
            })
            .unwrap();
        assert!(gone, "the case file held the person");
        assert_eq!(
            dependants, 2,
            "the step and the duplicate mark are about them alone"
        );
        for sql in [
            "SELECT count(*) FROM records WHERE id = ?1",
            "SELECT count(*) FROM person WHERE id = ?1",
            "SELECT count(*) FROM person_terms WHERE person_id = ?1",
            "SELECT count(*) FROM visit_person WHERE person_id = ?1",
            "SELECT count(*) FROM set_aside WHERE id = ?1",
            "SELECT count(*) FROM rekey_done WHERE id = ?1",
            "SELECT count(*) FROM meta WHERE instr(value, ?1) > 0 OR instr(key, ?1) > 0",
        ] {
            assert_eq!(count(&file, sql, person.id()), 0, "{sql} must find nothing");
        }
        assert_eq!(
            file.draft("visit").unwrap(),
            None,
            "the draft naming them goes"
        );
        assert_eq!(
            file.draft(&format!("form.person.{p}")).unwrap(),
            None,
            "and the draft of their own form"
        );
        assert!(
            file.draft("form.site").unwrap().is_some(),
            "a draft about others stays"
        );
        for gone in [step.id(), mark.id()] {
            assert!(file.get(gone).is_err(), "a record about them alone goes");
        }
        assert!(
            file.get(visit.id()).is_ok(),
            "a shared record waits for the server's edit"
        );
        assert!(file.get(other.id()).is_ok(), "another person's step stays");
        assert!(
            !file.write(|tx| wipe(tx, person.id())).unwrap(),
            "wiping again finds nothing"
        );
    }
}
