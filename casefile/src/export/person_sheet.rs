//! A person's summary sheet: their file on about two A4 pages, for a counsellor who
//! hands it over or takes it to an appointment. Identity and situation, where they
//! lived, the steps under way, jobs, trainings and referrals, and the latest visits.
//! This module reads it; the `documents` crate lays it out.

use serde::Serialize;
use sync_protocol::{RecordId, RecordState};
use tracing::info_span;

use super::{Field, labels, person_name, printed, refs, text};
use crate::error::Result;
use crate::export::period::TimeZone;
use crate::store::CaseFile;

/// How many of the latest visits the summary lists.
const LATEST_VISITS: usize = 6;

/// What a person's summary sheet prints, every value as printed (see
/// [`super::VisitSheet`]).
#[derive(Debug, Clone, Serialize)]
pub struct PersonSheet {
    /// The organisation's name.
    pub org: String,
    /// When the sheet was made.
    pub printed_on: String,
    /// The person's name: family name, then given names.
    pub name: String,
    /// Their identity, follow-up and consent, labelled, in the sheet's order; a field
    /// that holds nothing is there with an empty value.
    pub identity: Vec<Field>,
    /// Their administrative situation, when the file holds one: the fields that hold a
    /// value.
    pub situation: Option<Vec<Field>>,
    /// The steps planned or under way.
    pub steps: Vec<OpenStep>,
    /// Their jobs.
    pub jobs: Vec<JobRow>,
    /// Their trainings.
    pub trainings: Vec<TrainingRow>,
    /// Their referrals.
    pub referrals: Vec<ReferralRow>,
    /// Where they lived, one stay each.
    pub stays: Vec<StayRow>,
    /// The latest visits that met them, the most recent first.
    pub visits: Vec<SheetVisit>,
    /// The file's notes.
    pub notes: String,
}

/// A step planned or under way.
#[derive(Debug, Clone, Serialize)]
pub struct OpenStep {
    /// What is to be done.
    pub title: String,
    /// Its category, labelled.
    pub category: String,
    /// When it is due.
    pub due_on: String,
    /// Its status, labelled.
    pub status: String,
}

/// A job.
#[derive(Debug, Clone, Serialize)]
pub struct JobRow {
    /// The employer.
    pub employer: String,
    /// The position.
    pub job_title: String,
    /// The contract, labelled.
    pub contract: String,
    /// Its first day.
    pub start_on: String,
    /// Its last day.
    pub end_on: String,
}

/// A training.
#[derive(Debug, Clone, Serialize)]
pub struct TrainingRow {
    /// The training.
    pub title: String,
    /// Who gives it.
    pub provider: String,
    /// Its status, labelled.
    pub status: String,
    /// Its first day.
    pub start_on: String,
    /// Its last day.
    pub end_on: String,
}

/// A referral to another service.
#[derive(Debug, Clone, Serialize)]
pub struct ReferralRow {
    /// The service.
    pub to_service: String,
    /// The barrier it addresses, labelled.
    pub constraint: String,
    /// Its status, labelled.
    pub status: String,
    /// When it was sent.
    pub sent_on: String,
}

/// A stay on a site.
#[derive(Debug, Clone, Serialize)]
pub struct StayRow {
    /// The site's name.
    pub site: String,
    /// Its first day.
    pub from_on: String,
    /// Its last day.
    pub to_on: String,
    /// Why they left, labelled.
    pub left_because: String,
}

/// A visit, in a person's list of latest visits.
#[derive(Debug, Clone, Serialize)]
pub struct SheetVisit {
    /// When it took place.
    pub occurred_at: String,
    /// Where, labelled.
    pub setting: String,
    /// Its purpose.
    pub purpose: String,
    /// The day of the next visit.
    pub next_visit_on: String,
}

impl CaseFile {
    /// What the summary sheet of `person` prints.
    ///
    /// Errors: [`crate::Error::NotFound`]; [`crate::Error::Invalid`] naming `person_id`
    /// when the record is not a person.
    pub fn person_sheet(&self, person: RecordId) -> Result<PersonSheet> {
        let _span = info_span!("casefile.person_sheet").entered();
        let timeline = self.timeline(person)?;
        let zone = self.time_zone()?;
        let p = &timeline.person;

        let labelled =
            |field: &str| Field::new(labels::field("person", field), printed(p, field, zone));
        let mut identity: Vec<Field> = [
            "aliases",
            "sex",
            "birth_date",
            "birth_place",
            "nationality",
            "languages",
            "french_level",
            "phone",
        ]
        .into_iter()
        .map(labelled)
        .collect();
        identity.push(Field::new("Ménage", self.names(p, "household_id")?));
        identity.push(Field::new("Lieu de vie", self.names(p, "site_id")?));
        identity.extend(
            [
                "referent",
                "status",
                "consent_on",
                "consent_scope",
                "notice_on",
                "notice_lang",
                "notice_interpreter",
            ]
            .into_iter()
            .map(labelled),
        );

        let of = |kind: &str| -> Vec<&RecordState> {
            timeline
                .items
                .iter()
                .map(|i| &i.state)
                .filter(|s| s.kind().as_str() == kind)
                .collect()
        };
        let steps = of("step")
            .into_iter()
            .filter(|step| matches!(text(step, "status").as_str(), "planned" | "in_progress"))
            .map(|step| OpenStep {
                title: text(step, "title"),
                category: printed(step, "category", zone),
                due_on: printed(step, "due_on", zone),
                status: printed(step, "status", zone),
            })
            .collect();
        let jobs = of("employment")
            .into_iter()
            .map(|j| JobRow {
                employer: text(j, "employer"),
                job_title: text(j, "job_title"),
                contract: printed(j, "contract", zone),
                start_on: printed(j, "start_on", zone),
                end_on: printed(j, "end_on", zone),
            })
            .collect();
        let trainings = of("training")
            .into_iter()
            .map(|t| TrainingRow {
                title: text(t, "title"),
                provider: text(t, "provider"),
                status: printed(t, "status", zone),
                start_on: printed(t, "start_on", zone),
                end_on: printed(t, "end_on", zone),
            })
            .collect();
        let referrals = of("referral")
            .into_iter()
            .map(|r| ReferralRow {
                to_service: text(r, "to_service"),
                constraint: printed(r, "constraint", zone),
                status: printed(r, "status", zone),
                sent_on: printed(r, "sent_on", zone),
            })
            .collect();
        let mut stays = Vec::new();
        for stay in of("stay") {
            stays.push(StayRow {
                site: self.names(stay, "site_id")?,
                from_on: printed(stay, "from_on", zone),
                to_on: printed(stay, "to_on", zone),
                left_because: printed(stay, "left_because", zone),
            });
        }
        let visits = of("visit")
            .into_iter()
            .take(LATEST_VISITS)
            .map(|v| SheetVisit {
                occurred_at: printed(v, "occurred_at", zone),
                setting: printed(v, "setting", zone),
                purpose: text(v, "purpose"),
                next_visit_on: printed(v, "next_visit_on", zone),
            })
            .collect();

        Ok(PersonSheet {
            org: self.org_name()?,
            printed_on: super::now_text(zone),
            name: person_name(p),
            identity,
            situation: timeline
                .situation
                .as_ref()
                .map(|situation| fields_of(situation, zone, &["person_id"])),
            steps,
            jobs,
            trainings,
            referrals,
            stays,
            visits,
            notes: text(p, "notes"),
        })
    }

    /// The names the references of `field` point to, joined.
    pub(crate) fn names(&self, state: &RecordState, field: &str) -> Result<String> {
        let mut out = Vec::new();
        for id in refs(state, field) {
            out.push(self.name_of(id)?);
        }
        Ok(out.join(" / "))
    }
}

/// Every field of `state` that holds a value, labelled in French, but those in `skip`:
/// the schema's fields in its order, then the others the record holds. References print
/// as the names they point to only where the caller resolves them; here they print as
/// ids.
pub(crate) fn fields_of(state: &RecordState, zone: TimeZone, skip: &[&str]) -> Vec<Field> {
    let mut names: Vec<&str> = crate::schema::kind(state.kind().as_str())
        .map(|k| k.fields.iter().map(|f| f.name).collect())
        .unwrap_or_default();
    for (name, _) in state.fields() {
        if !names.contains(&name.as_str()) {
            names.push(name.as_str());
        }
    }
    names
        .into_iter()
        .filter(|name| !name.starts_with('_') && !skip.contains(name))
        .filter_map(|name| {
            let value = printed(state, name, zone);
            (!value.is_empty())
                .then(|| Field::new(labels::field(state.kind().as_str(), name), value))
        })
        .collect()
}
