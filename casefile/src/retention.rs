//! Files past their retention: the persons whose file was closed longer ago than the
//! organisation keeps files (its settings' `retention_months`, 24 by default), and who
//! have no coordinator's reason to keep them (`keep_until`, from the day on). The rule
//! is `sync_protocol::organisation::past_retention`, the one the server's `retention`
//! command follows, so the app's coordinator view and the server list the same files.

use serde::Serialize;
use sync_protocol::RecordState;
use sync_protocol::organisation::{past_retention, retention_months};
use tracing::info_span;

use crate::error::{Error, Result};
use crate::records::load_many;
use crate::store::CaseFile;

/// A person's file past its retention: to erase, or to keep with a recorded reason.
#[derive(Debug, Clone, Serialize)]
pub struct RetentionDue {
    /// The person record.
    pub person: RecordState,
    /// The day the file was closed, `YYYY-MM-DD`.
    pub closed_on: String,
    /// The last day it was to be kept, `YYYY-MM-DD`: `closed_on` plus the retention.
    pub kept_until: String,
}

impl CaseFile {
    /// The persons whose file is past its retention on `today` (`YYYY-MM-DD`), the
    /// longest overdue first (by `kept_until`, then id).
    ///
    /// Errors: [`Error::Invalid`] naming `today` when it is not a date.
    pub fn past_retention(&self, today: &str) -> Result<Vec<RetentionDue>> {
        let _span = info_span!("casefile.past_retention").entered();
        let today = sync_protocol::dates::parse_date(today)
            .ok_or_else(|| Error::invalid("today", "a date YYYY-MM-DD"))?;
        let months = retention_months(self.settings_record()?.as_ref());
        let ids = {
            let mut stmt = self
                .conn
                // A file merged into another is kept as long as that one: not listed.
                .prepare_cached(
                    "SELECT id FROM person p WHERE closed_on IS NOT NULL
                     AND NOT EXISTS (SELECT 1 FROM person_survivor s WHERE s.id = p.id)
                     ORDER BY id",
                )?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut due: Vec<(chrono::NaiveDate, RetentionDue)> = Vec::new();
        for person in load_many(&self.conn, &ids)? {
            if let Some(past) = past_retention(&person, months, today) {
                due.push((
                    past.kept_until,
                    RetentionDue {
                        closed_on: past.closed_on.to_string(),
                        kept_until: past.kept_until.to_string(),
                        person,
                    },
                ));
            }
        }
        due.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| a.1.person.id().cmp(&b.1.person.id()))
        });
        Ok(due.into_iter().map(|(_, d)| d).collect())
    }
}
