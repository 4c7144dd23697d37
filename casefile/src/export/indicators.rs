//! The indicators of a period, for the programme's funders (DOMAIN.md), and the series
//! of people in work that the app's dashboard charts.
//!
//! Definitions, over records that are neither deleted nor erased, a period's days
//! included at both ends, in the organisation's time zone:
//! - *people followed*: persons met in a visit of the period, or with a step (due or
//!   done), job (started or ended), training (started or ended) or referral (sent) dated
//!   in it;
//! - *new people*: persons created in the period, by the creation time their id carries
//!   (ids are UUID v7), else by the earliest time written in their record;
//! - *visits by setting*: visits whose `occurred_at` falls in the period;
//! - *steps done*: steps `done` with `done_on` in the period, in all and by category;
//! - *jobs by contract*: jobs whose `start_on` falls in the period;
//! - *trainings started*: trainings whose `start_on` falls in the period, unless still
//!   only `applied`; *trainings completed*: `completed` with `end_on` in the period;
//! - *people housed*: persons with a stay that ended (`to_on`) in the period because
//!   `housed`.
//!
//! Every value of a choice is a key of its map, with 0 when none; a record without the
//! choice counts under `unspecified`.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, FixedOffset, Utc};
use rusqlite::params;
use serde::Serialize;
use sync_protocol::RecordState;
use tracing::info_span;

use super::period::{Period, date_text};
use crate::error::Result;
use crate::kinds::{Contract, Setting, StepCategory};
use crate::store::CaseFile;

/// The key under which records without the choice are counted.
pub const UNSPECIFIED: &str = "unspecified";

/// The indicators of a period. Serialised with the keys of CLI.md's `report`, in its
/// order, then `steps_done_by_category` and `trainings_completed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Indicators {
    /// Persons met or with a step, job, training or referral dated in the period.
    pub people_followed: u64,
    /// Persons created in the period.
    pub new_people: u64,
    /// Visits of the period by setting.
    pub visits_by_setting: BTreeMap<String, u64>,
    /// Steps done in the period.
    pub steps_done: u64,
    /// Jobs started in the period, by contract.
    pub jobs_by_contract: BTreeMap<String, u64>,
    /// Trainings started in the period.
    pub trainings_started: u64,
    /// Persons whose stay ended in the period because they were housed.
    pub people_housed: u64,
    /// Steps done in the period, by category.
    pub steps_done_by_category: BTreeMap<String, u64>,
    /// Trainings completed in the period.
    pub trainings_completed: u64,
}

/// One point of the series of people in work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkPoint {
    /// The day, `YYYY-MM-DD`.
    pub on: String,
    /// Persons (not deleted) with a job that started on or before the day and had not
    /// ended before it.
    pub people: u64,
}

/// The persons followed in a period, each read through its tombstone: a person merged
/// into another counts as the file that stays, once.
pub(crate) const FOLLOWED: &str = "
    SELECT coalesce(m.survivor, f.person_id) FROM (
      SELECT person_id FROM visit_person WHERE occurred_at >= ?1 AND occurred_at < ?2
      UNION SELECT person_id FROM step
        WHERE due_on BETWEEN ?3 AND ?4 OR done_on BETWEEN ?3 AND ?4
      UNION SELECT person_id FROM employment
        WHERE start_on BETWEEN ?3 AND ?4 OR end_on BETWEEN ?3 AND ?4
      UNION SELECT person_id FROM training
        WHERE start_on BETWEEN ?3 AND ?4 OR end_on BETWEEN ?3 AND ?4
      UNION SELECT person_id FROM referral WHERE sent_on BETWEEN ?3 AND ?4
    ) f LEFT JOIN person_survivor m ON m.id = f.person_id";

impl CaseFile {
    /// The indicators of `period`.
    pub fn indicators(&self, period: &Period) -> Result<Indicators> {
        let _span = info_span!("casefile.indicators").entered();
        let (start, end) = period.utc_bounds();
        let (from, to) = (period.from_text(), period.to_text());
        let days = params![from, to];

        let people_followed = self.count(
            &format!("SELECT count(*) FROM person WHERE id IN ({FOLLOWED})"),
            params![start, end, from, to],
        )?;
        let new_people = self.new_people(period)?.len() as u64;
        let visits_by_setting = self.by(
            Setting::VALUES,
            "SELECT setting, count(*) FROM visit
             WHERE occurred_at >= ?1 AND occurred_at < ?2 GROUP BY setting",
            params![start, end],
        )?;
        let steps_done_by_category = self.by(
            StepCategory::VALUES,
            "SELECT category, count(*) FROM step
             WHERE status = 'done' AND done_on BETWEEN ?1 AND ?2 GROUP BY category",
            days,
        )?;
        let jobs_by_contract = self.by(
            Contract::VALUES,
            "SELECT contract, count(*) FROM employment
             WHERE start_on BETWEEN ?1 AND ?2 GROUP BY contract",
            days,
        )?;
        Ok(Indicators {
            people_followed,
            new_people,
            visits_by_setting,
            steps_done: steps_done_by_category.values().sum(),
            jobs_by_contract,
            trainings_started: self.count(
                "SELECT count(*) FROM training WHERE start_on BETWEEN ?1 AND ?2
                 AND coalesce(status, '') <> 'applied'",
                days,
            )?,
            people_housed: self.count(
                "SELECT count(DISTINCT p.id) FROM stay s
                 LEFT JOIN person_survivor m ON m.id = s.person_id
                 JOIN person p ON p.id = coalesce(m.survivor, s.person_id)
                 WHERE s.left_because = 'housed' AND s.to_on BETWEEN ?1 AND ?2",
                days,
            )?,
            steps_done_by_category,
            trainings_completed: self.count(
                "SELECT count(*) FROM training WHERE status = 'completed'
                 AND end_on BETWEEN ?1 AND ?2",
                days,
            )?,
        })
    }

    /// People in work over `period`: one point at the end of each month the period
    /// covers (the last at the period's last day), for the dashboard's chart.
    pub fn people_in_work(&self, period: &Period) -> Result<Vec<WorkPoint>> {
        let _span = info_span!("casefile.people_in_work").entered();
        let mut stmt = self.conn.prepare_cached(
            "SELECT count(DISTINCT p.id) FROM employment e
             LEFT JOIN person_survivor m ON m.id = e.person_id
             JOIN person p ON p.id = coalesce(m.survivor, e.person_id)
             WHERE e.start_on <= ?1 AND (e.end_on IS NULL OR e.end_on >= ?1)",
        )?;
        let mut points = Vec::new();
        let mut cursor = period.from;
        loop {
            // The month's last day: the day before the next month's first.
            let month_end = cursor
                .with_day(1)
                .and_then(|first| first.checked_add_months(chrono::Months::new(1)))
                .and_then(|next| next.pred_opt())
                .unwrap_or(period.to);
            let on = month_end.min(period.to);
            let text = date_text(on);
            let people: i64 = stmt.query_row([&text], |r| r.get(0))?;
            points.push(WorkPoint {
                on: text,
                people: people.max(0) as u64,
            });
            match on.succ_opt() {
                Some(next) if on < period.to => cursor = next,
                _ => break,
            }
        }
        Ok(points)
    }

    /// The persons (not deleted) created in `period`: a person whose files were merged is
    /// new when the first of their files was created.
    pub(crate) fn new_people(&self, period: &Period) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM person p
                 WHERE NOT EXISTS (SELECT 1 FROM person_survivor m WHERE m.id = p.id) ORDER BY id",
        )?;
        let ids = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut merged: BTreeMap<String, Vec<String>> = BTreeMap::new();
        {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT id, survivor FROM person_survivor")?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            for row in rows {
                let (id, survivor) = row?;
                merged.entry(survivor).or_default().push(id);
            }
        }
        let mut out = Vec::new();
        for id in ids {
            let mut created = None;
            for file in std::iter::once(&id).chain(merged.get(&id).into_iter().flatten()) {
                let at = match created_by_id(file) {
                    Some(at) => Some(at),
                    None => crate::records::load_many(&self.conn, std::slice::from_ref(file))?
                        .first()
                        .and_then(earliest_time),
                };
                created = match (created, at) {
                    (Some(a), Some(b)) => Some(std::cmp::min(a, b)),
                    (a, b) => a.or(b),
                };
            }
            if created.is_some_and(|at| period.holds_instant(at)) {
                out.push(id);
            }
        }
        Ok(out)
    }

    fn count(&self, sql: &str, args: impl rusqlite::Params) -> Result<u64> {
        let n: i64 = self
            .conn
            .prepare_cached(sql)?
            .query_row(args, |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }

    fn by(
        &self,
        keys: &[&str],
        sql: &str,
        args: impl rusqlite::Params,
    ) -> Result<BTreeMap<String, u64>> {
        let mut out: BTreeMap<String, u64> = keys.iter().map(|k| ((*k).to_owned(), 0)).collect();
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(args, |r| {
            Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (key, n) = row?;
            *out.entry(key.unwrap_or_else(|| UNSPECIFIED.to_owned()))
                .or_insert(0) += n.max(0) as u64;
        }
        Ok(out)
    }
}

/// The creation time a UUID v7 id carries.
fn created_by_id(id: &str) -> Option<DateTime<FixedOffset>> {
    let uuid = uuid::Uuid::parse_str(id).ok()?;
    if uuid.get_version_num() != 7 {
        return None;
    }
    let (seconds, _) = uuid.get_timestamp()?.to_unix();
    DateTime::<Utc>::from_timestamp(i64::try_from(seconds).ok()?, 0).map(|t| t.fixed_offset())
}

/// The earliest time written in a record's entries.
fn earliest_time(state: &RecordState) -> Option<DateTime<FixedOffset>> {
    state
        .fields()
        .flat_map(|(_, entries)| entries.iter())
        .filter_map(|e| e.at.to_datetime())
        .min()
}
