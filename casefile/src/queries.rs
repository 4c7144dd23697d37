//! What the app asks of the case file: persons by site, household or status; a person's
//! file as a timeline; today's plan; sites with their counts; persons with no consent
//! recorded; the deleted records, to restore one.

use rusqlite::params;
use serde::Serialize;
use sync_protocol::{DELETED_FIELD, RecordId, RecordState};
use tracing::info_span;

use crate::duplicates;
use crate::error::{Error, Result};
use crate::records::load_many;
use crate::store::CaseFile;

/// Leaves out persons merged into another (read as the file that stays).
const NOT_MERGED: &str = "NOT EXISTS (SELECT 1 FROM person_survivor s WHERE s.id = person.id)";
/// The person `?1` and the persons merged into it.
const ONE_PERSON: &str = "SELECT ?1 UNION ALL SELECT id FROM person_survivor WHERE survivor = ?1";

/// Which persons to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonFilter<'a> {
    /// Persons who live on the site now.
    Site(RecordId),
    /// Members of the household.
    Household(RecordId),
    /// Persons of that status (`active`, `closed`).
    Status(&'a str),
}

/// One dated item of a person's file.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineItem {
    /// The date it is shown at (`YYYY-MM-DD`, or a timestamp for visits); may be empty.
    pub date: String,
    /// The record.
    pub state: RecordState,
}

/// A person's file: the person, the situation, and every stay, visit, step, job,
/// training and referral, most recent first.
#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    /// The person.
    pub person: RecordState,
    /// The administrative situation, if recorded.
    pub situation: Option<RecordState>,
    /// Everything dated, most recent first.
    pub items: Vec<TimelineItem>,
    /// The files merged into this one (their tombstones), by id: their records are in
    /// `items`.
    pub merged: Vec<RecordState>,
}

/// The day's plan.
#[derive(Debug, Clone, Serialize)]
pub struct Today {
    /// For each active person, their latest visit when its next visit falls on or before
    /// the day: the follow-up is due.
    pub visits_due: Vec<RecordState>,
    /// Steps planned or in progress, due on the day.
    pub steps_due: Vec<RecordState>,
    /// Steps planned or in progress, due before the day.
    pub steps_overdue: Vec<RecordState>,
}

/// A site and its counts.
#[derive(Debug, Clone, Serialize)]
pub struct SiteSummary {
    /// The site.
    pub site: RecordState,
    /// Active persons who live there now.
    pub persons: u64,
    /// Households there now.
    pub households: u64,
}

impl CaseFile {
    /// Persons (not deleted) by site, household or status, by family name.
    pub fn persons(&self, filter: PersonFilter<'_>) -> Result<Vec<RecordState>> {
        let _span = info_span!("casefile.persons").entered();
        let (sql, arg) = match filter {
            PersonFilter::Site(id) => ("site_id = ?1", id.to_string()),
            PersonFilter::Household(id) => ("household_id = ?1", id.to_string()),
            PersonFilter::Status(status) => ("status = ?1", status.to_owned()),
        };
        let ids = self.ids(
            &format!(
                "SELECT id FROM person WHERE {sql} AND {NOT_MERGED}
                 ORDER BY family_name, given_names, id"
            ),
            &arg,
        )?;
        load_many(&self.conn, &ids)
    }

    /// The persons still followed (not closed, not deleted) with no consent recorded
    /// (`consent_on` unset), by family name: to ask before anything else is written.
    pub fn without_consent(&self) -> Result<Vec<RecordState>> {
        let _span = info_span!("casefile.without_consent").entered();
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT id FROM person WHERE status IS NOT 'closed' AND consent_on IS NULL
                   AND {NOT_MERGED}
                 ORDER BY family_name, given_names, id"
        ))?;
        let ids = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        load_many(&self.conn, &ids)
    }

    /// A person's file as a timeline, with the records of the files merged into it; a
    /// person merged into another answers the timeline of the file that stays.
    pub fn timeline(&self, person: RecordId) -> Result<Timeline> {
        let _span = info_span!("casefile.timeline").entered();
        let state = self.get(person)?;
        if state.kind().as_str() != "person" {
            return Err(Error::invalid("person_id", "the id of a person"));
        }
        let person = duplicates::survivor(&self.conn, person)?;
        let state = if person == state.id() {
            state
        } else {
            self.get(person)?
        };
        let id = person.to_string();
        let merged = load_many(
            &self.conn,
            &duplicates::merged_into_one(&self.conn, person)?
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
        )?;
        // Its own situation first, then those of the files merged into it.
        let situation = self.ids(
            &format!(
                "SELECT id FROM situation WHERE person_id IN ({ONE_PERSON})
                 ORDER BY person_id = ?1 DESC, id"
            ),
            &id,
        )?;
        let situation = load_many(&self.conn, &situation)?.into_iter().next();
        let mut dated: Vec<(String, String)> = Vec::new();
        for sql in [
            "SELECT id, coalesce(from_on, '') FROM stay WHERE person_id IN",
            "SELECT DISTINCT v.id, coalesce(v.occurred_at, '') FROM visit_person p
               JOIN visit v ON v.id = p.visit_id WHERE p.person_id IN",
            "SELECT id, coalesce(done_on, due_on, '') FROM step WHERE person_id IN",
            "SELECT id, coalesce(start_on, '') FROM employment WHERE person_id IN",
            "SELECT id, coalesce(start_on, '') FROM training WHERE person_id IN",
            "SELECT id, coalesce(sent_on, '') FROM referral WHERE person_id IN",
            "SELECT id, coalesce(taken_on, '') FROM attachment WHERE person_id IN",
        ] {
            let mut stmt = self.conn.prepare_cached(&format!("{sql} ({ONE_PERSON})"))?;
            let rows = stmt.query_map([&id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            for row in rows {
                dated.push(row?);
            }
        }
        dated.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
        let mut items = Vec::with_capacity(dated.len());
        for (id, date) in dated {
            if let Some(state) = load_many(&self.conn, std::slice::from_ref(&id))?.pop() {
                items.push(TimelineItem { date, state });
            }
        }
        Ok(Timeline {
            person: state,
            situation,
            items,
            merged,
        })
    }

    /// The plan of the day `on` (`YYYY-MM-DD`).
    pub fn today(&self, on: &str) -> Result<Today> {
        let _span = info_span!("casefile.today").entered();
        if !crate::schema::is_date(on) {
            return Err(Error::invalid("on", "a date YYYY-MM-DD"));
        }
        // Each person's latest visit (SQLite takes the bare columns from the row of the
        // max), kept when its next visit is due and the person still followed.
        let visits = self.ids(
            "SELECT l.visit_id FROM (
               SELECT coalesce(s.survivor, v.person_id) AS person_id, v.visit_id,
                      max(v.occurred_at) AS last, v.next_visit_on AS next
               FROM visit_person v LEFT JOIN person_survivor s ON s.id = v.person_id
               GROUP BY coalesce(s.survivor, v.person_id)
             ) l JOIN person p ON p.id = l.person_id AND p.status = 'active'
             WHERE l.next <= ?1
             GROUP BY l.visit_id ORDER BY min(l.next), l.visit_id",
            on,
        )?;
        let due = self.ids(
            "SELECT id FROM step WHERE status IN ('planned', 'in_progress') AND due_on = ?1
             ORDER BY id",
            on,
        )?;
        let overdue = self.ids(
            "SELECT id FROM step WHERE status IN ('planned', 'in_progress') AND due_on < ?1
             ORDER BY due_on, id",
            on,
        )?;
        Ok(Today {
            visits_due: load_many(&self.conn, &visits)?,
            steps_due: load_many(&self.conn, &due)?,
            steps_overdue: load_many(&self.conn, &overdue)?,
        })
    }

    /// Every site (not deleted), by name, with its counts.
    pub fn sites(&self) -> Result<Vec<SiteSummary>> {
        let _span = info_span!("casefile.sites").entered();
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.id,
               (SELECT count(*) FROM person p WHERE p.site_id = s.id AND p.status = 'active'
                  AND NOT EXISTS (SELECT 1 FROM person_survivor m WHERE m.id = p.id)),
               (SELECT count(*) FROM household h WHERE h.site_id = s.id)
             FROM site s ORDER BY s.name, s.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?.max(0) as u64,
                r.get::<_, i64>(2)?.max(0) as u64,
            ))
        })?;
        let mut counts = Vec::new();
        for row in rows {
            counts.push(row?);
        }
        let mut out = Vec::with_capacity(counts.len());
        for (id, persons, households) in counts {
            if let Some(site) = load_many(&self.conn, std::slice::from_ref(&id))?.pop() {
                out.push(SiteSummary {
                    site,
                    persons,
                    households,
                });
            }
        }
        Ok(out)
    }

    /// Every deleted record of the kinds this build knows (not erased), most recently
    /// deleted first (by the time of its latest deletion, then by id): to restore one.
    /// A person merged into another is left out: its file takes no change.
    pub fn deleted(&self) -> Result<Vec<RecordState>> {
        let _span = info_span!("casefile.deleted").entered();
        // One kind at a time: each is one look-up in `records_by_kind`, not a scan of
        // every state.
        let mut stmt = self.conn.prepare_cached(
            "SELECT state FROM records WHERE kind = ?1 AND deleted = 1 AND erased = 0
               AND NOT EXISTS (SELECT 1 FROM person_survivor s WHERE s.id = records.id)",
        )?;
        let mut out = Vec::new();
        for spec in crate::schema::KINDS {
            let rows = stmt.query_map([spec.kind], |r| r.get::<_, String>(0))?;
            for text in rows {
                out.push(RecordState::from_json(&text?)?);
            }
        }
        out.sort_by_cached_key(|s| std::cmp::Reverse((deleted_at(s), s.id())));
        Ok(out)
    }

    fn ids(&self, sql: &str, arg: &str) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params![arg], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// When `state` was last deleted: the latest time among its deleting `_deleted` entries
/// (by the deleting device's clock); `None` when none reads as a time.
fn deleted_at(state: &RecordState) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    state
        .entries(DELETED_FIELD)
        .iter()
        .filter(|e| !e.value.is_null())
        .filter_map(|e| e.at.to_datetime())
        .max()
}
