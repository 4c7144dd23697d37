//! What the UI sees of the case file's types: plain, serialisable mirrors with TypeScript
//! types (record states with their entries, the schema of the kinds). Conversions only:
//! every decision stays in `casefile` and `sync-protocol`.

use std::collections::BTreeMap;

use casefile::schema::{FieldType, KINDS};
use casefile::sync_protocol::wire::{ErasePersonResponse, TouchedRecord};
use casefile::sync_protocol::{RecordId, RecordState};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use specta::Type;

use crate::error::{AppError, AppResult};

/// One entry of a field: a value, with which device wrote it and when.
#[derive(Debug, Clone, Serialize, Type)]
pub struct EntryView {
    /// The replica (device or server) that wrote it.
    pub replica: String,
    /// Its edit counter for the record.
    pub counter: f64,
    /// When, by the editing device's clock (RFC 3339).
    pub at: String,
    /// The value.
    pub value: Value,
}

/// A record as the UI shows it.
#[derive(Debug, Clone, Serialize, Type)]
pub struct RecordView {
    /// The record's id.
    pub id: String,
    /// Its kind (`person`, `visit`…).
    pub kind: String,
    /// Each field's value; in a conflict, the most recent entry's (by the device clock).
    pub values: BTreeMap<String, Value>,
    /// Each field's entries: one, or several while a conflict awaits a choice.
    pub entries: BTreeMap<String, Vec<EntryView>>,
    /// Whether the record is deleted.
    pub deleted: bool,
    /// Fields holding several entries.
    pub conflict_fields: Vec<String>,
    /// Deleted on one device while edited on another.
    pub deleted_with_edits: bool,
}

impl From<&RecordState> for RecordView {
    fn from(state: &RecordState) -> Self {
        let mut values = BTreeMap::new();
        let mut entries = BTreeMap::new();
        for (name, list) in state.fields() {
            let shown = list
                .iter()
                .max_by(|a, b| (a.at.to_datetime(), a.dot).cmp(&(b.at.to_datetime(), b.dot)))
                .map(|e| e.value.clone());
            if let Some(value) = shown {
                values.insert(name.to_string(), value);
            }
            entries.insert(
                name.to_string(),
                list.iter()
                    .map(|e| EntryView {
                        replica: e.dot.replica.to_string(),
                        counter: e.dot.counter as f64,
                        at: e.at.as_str().to_owned(),
                        value: e.value.clone(),
                    })
                    .collect(),
            );
        }
        let conflicts = state.conflicts();
        Self {
            id: state.id().to_string(),
            kind: state.kind().to_string(),
            values,
            entries,
            deleted: state.is_deleted(),
            conflict_fields: conflicts.fields,
            deleted_with_edits: conflicts.deleted_with_edits,
        }
    }
}

/// One entry of a record's history: a field, its value, and which edit wrote it.
#[derive(Debug, Clone, Serialize, Type)]
pub struct HistoryEntryView {
    /// The field.
    pub field: String,
    /// The replica (device or server) that wrote it.
    pub replica: String,
    /// Its edit counter for the record.
    pub counter: f64,
    /// When, by the editing device's clock (RFC 3339).
    pub at: String,
    /// The value written.
    pub value: Value,
    /// The field holds several entries: a conflict awaiting a choice.
    pub conflict: bool,
}

/// The history of a record, oldest first, each entry marked when its field is in
/// conflict.
pub fn history(entries: &[casefile::HistoryEntry]) -> Vec<HistoryEntryView> {
    let mut per_field: BTreeMap<&str, usize> = BTreeMap::new();
    for entry in entries {
        *per_field.entry(entry.field.as_str()).or_default() += 1;
    }
    entries
        .iter()
        .map(|e| HistoryEntryView {
            field: e.field.clone(),
            replica: e.dot.replica.to_string(),
            counter: e.dot.counter as f64,
            at: e.at.as_str().to_owned(),
            value: e.value.clone(),
            conflict: per_field.get(e.field.as_str()).is_some_and(|n| *n > 1),
        })
        .collect()
}

/// Views of many states.
pub fn views(states: &[RecordState]) -> Vec<RecordView> {
    states.iter().map(RecordView::from).collect()
}

/// A site with its counts.
#[derive(Debug, Clone, Serialize, Type)]
pub struct SiteSummaryView {
    /// The site.
    pub site: RecordView,
    /// Active persons who live there now.
    pub persons: u32,
    /// Households there now.
    pub households: u32,
}

impl From<&casefile::SiteSummary> for SiteSummaryView {
    fn from(s: &casefile::SiteSummary) -> Self {
        Self {
            site: RecordView::from(&s.site),
            persons: u32::try_from(s.persons).unwrap_or(u32::MAX),
            households: u32::try_from(s.households).unwrap_or(u32::MAX),
        }
    }
}

/// The day's plan, each list cut to a length the screen shows, with its full count.
#[derive(Debug, Clone, Serialize, Type)]
pub struct TodayView {
    /// Visits whose follow-up is due, most overdue first.
    pub visits_due: Vec<RecordView>,
    /// How many visits are due in all.
    pub visits_due_total: u32,
    /// Steps due on the day.
    pub steps_due: Vec<RecordView>,
    /// How many steps are due on the day in all.
    pub steps_due_total: u32,
    /// Steps due before the day, most overdue first.
    pub steps_overdue: Vec<RecordView>,
    /// How many steps are overdue in all.
    pub steps_overdue_total: u32,
}

impl TodayView {
    /// The plan, with at most `limit` records in each list.
    pub fn new(t: &casefile::Today, limit: usize) -> Self {
        let cut = |states: &[RecordState]| views(&states[..states.len().min(limit)]);
        let count = |states: &[RecordState]| u32::try_from(states.len()).unwrap_or(u32::MAX);
        Self {
            visits_due: cut(&t.visits_due),
            visits_due_total: count(&t.visits_due),
            steps_due: cut(&t.steps_due),
            steps_due_total: count(&t.steps_due),
            steps_overdue: cut(&t.steps_overdue),
            steps_overdue_total: count(&t.steps_overdue),
        }
    }
}

/// One dated item of a person's file.
#[derive(Debug, Clone, Serialize, Type)]
pub struct TimelineItemView {
    /// The date it is shown at (a day, or a timestamp for visits); may be empty.
    pub date: String,
    /// The record.
    pub record: RecordView,
}

/// A person's file.
#[derive(Debug, Clone, Serialize, Type)]
pub struct TimelineView {
    /// The person.
    pub person: RecordView,
    /// The administrative situation, if recorded.
    pub situation: Option<RecordView>,
    /// Stays, visits, steps, jobs, trainings and referrals, most recent first (those of
    /// the files merged into this one too).
    pub items: Vec<TimelineItemView>,
    /// The files merged into this one, by id.
    pub merged: Vec<RecordView>,
}

impl From<&casefile::Timeline> for TimelineView {
    fn from(t: &casefile::Timeline) -> Self {
        Self {
            person: RecordView::from(&t.person),
            situation: t.situation.as_ref().map(RecordView::from),
            items: t
                .items
                .iter()
                .map(|i| TimelineItemView {
                    date: i.date.clone(),
                    record: RecordView::from(&i.state),
                })
                .collect(),
            merged: views(&t.merged),
        }
    }
}

/// What a field holds, for the UI's forms.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldTypeView {
    /// Any text.
    Text,
    /// A day `YYYY-MM-DD`.
    Date,
    /// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    ApproxDate,
    /// An RFC 3339 timestamp.
    DateTime,
    /// A number in a range.
    Number {
        /// Smallest accepted.
        min: f64,
        /// Largest accepted.
        max: f64,
    },
    /// Yes or no.
    Bool,
    /// An ISO 3166 alpha-2 code.
    Country,
    /// A list of texts.
    TextList,
    /// One of the values.
    Choice {
        /// The values, as stored.
        values: Vec<String>,
    },
    /// The id of a record of `kind`.
    Ref {
        /// The kind referred to.
        kind: String,
    },
    /// Ids of records of `kind`.
    RefList {
        /// The kind referred to.
        kind: String,
    },
}

impl From<FieldType> for FieldTypeView {
    fn from(ty: FieldType) -> Self {
        match ty {
            FieldType::Text => Self::Text,
            FieldType::Date => Self::Date,
            FieldType::ApproxDate => Self::ApproxDate,
            FieldType::DateTime => Self::DateTime,
            FieldType::Number { min, max } => Self::Number { min, max },
            FieldType::Bool => Self::Bool,
            FieldType::Country => Self::Country,
            FieldType::TextList => Self::TextList,
            FieldType::Choice(values) => Self::Choice {
                values: values.iter().map(|v| (*v).to_owned()).collect(),
            },
            FieldType::Ref(kind) => Self::Ref {
                kind: kind.to_owned(),
            },
            FieldType::RefList(kind) => Self::RefList {
                kind: kind.to_owned(),
            },
        }
    }
}

/// One field of a kind.
#[derive(Debug, Clone, Serialize, Type)]
pub struct FieldSpecView {
    /// The field's name.
    pub name: String,
    /// What it holds.
    pub ty: FieldTypeView,
    /// Whether a record must have it.
    pub required: bool,
}

/// A kind and its fields, in reading order.
#[derive(Debug, Clone, Serialize, Type)]
pub struct KindSpecView {
    /// The kind.
    pub kind: String,
    /// Its fields.
    pub fields: Vec<FieldSpecView>,
}

/// The schema of every kind this build knows.
pub fn schema() -> Vec<KindSpecView> {
    KINDS
        .iter()
        .map(|k| KindSpecView {
            kind: k.kind.to_owned(),
            fields: k
                .fields
                .iter()
                .map(|f| FieldSpecView {
                    name: f.name.to_owned(),
                    ty: f.ty.into(),
                    required: f.required,
                })
                .collect(),
        })
        .collect()
}

/// An eviction, as the sites screen asks for it.
#[derive(Debug, Clone, Deserialize, Type)]
pub struct EvictionInput {
    /// The evicted site.
    pub site: String,
    /// The day, `YYYY-MM-DD`.
    pub on: String,
    /// Where the households and persons now live.
    pub to_site: String,
    /// Households that move with their members.
    pub households: Vec<String>,
    /// Further persons who move.
    pub persons: Vec<String>,
}

impl EvictionInput {
    /// The case file's eviction, once every id reads as one.
    pub fn to_eviction(&self) -> AppResult<casefile::Eviction> {
        Ok(casefile::Eviction {
            site: record_id(&self.site)?,
            on: self.on.clone(),
            to_site: record_id(&self.to_site)?,
            households: self
                .households
                .iter()
                .map(|id| record_id(id))
                .collect::<AppResult<_>>()?,
            persons: self
                .persons
                .iter()
                .map(|id| record_id(id))
                .collect::<AppResult<_>>()?,
        })
    }
}

/// What an eviction changed.
#[derive(Debug, Clone, Serialize, Type)]
pub struct EvictionReportView {
    /// Persons moved.
    pub persons: u32,
    /// Stays closed.
    pub stays_closed: u32,
    /// Stays opened.
    pub stays_opened: u32,
}

impl From<&casefile::EvictionReport> for EvictionReportView {
    fn from(r: &casefile::EvictionReport) -> Self {
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Self {
            persons: count(r.persons.len()),
            stays_closed: count(r.stays_closed),
            stays_opened: count(r.stays_opened),
        }
    }
}

/// Which persons to list.
#[derive(Debug, Clone, Deserialize, Type)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
pub enum PersonFilterInput {
    /// Persons living on the site now.
    Site(String),
    /// Members of the household.
    Household(String),
    /// Persons of that status.
    Status(String),
}

/// A record id from the UI.
pub fn record_id(text: &str) -> AppResult<RecordId> {
    text.parse()
        .map_err(|_| AppError::invalid("id", "a record id"))
}

/// Field changes from the UI, in the case file's form.
pub fn changes(fields: BTreeMap<String, Value>) -> Vec<(String, Value)> {
    fields.into_iter().collect()
}

/// Who a replica is: a device's name and its owner's username.
#[derive(Debug, Clone, Serialize, Type)]
pub struct ReplicaView {
    /// The device's name.
    pub device_name: String,
    /// The username of the device's owner.
    pub user: String,
}

impl From<casefile::sync_protocol::wire::ReplicaInfo> for ReplicaView {
    fn from(info: casefile::sync_protocol::wire::ReplicaInfo) -> Self {
        Self {
            device_name: info.device_name,
            user: info.user,
        }
    }
}

/// What a sync did.
#[derive(Debug, Clone, Copy, Serialize, Type)]
pub struct SyncReportView {
    /// States sent and accepted by the server.
    pub pushed: u32,
    /// Records received that changed the case file.
    pub pulled: u32,
    /// Records needing a person's choice afterwards.
    pub conflicts: u32,
    /// Records set aside afterwards (refused, held, too large to send, or pulled states
    /// that could not be merged): listed by `commands.setAside()`.
    pub set_aside: u32,
}

impl From<casefile::SyncReport> for SyncReportView {
    fn from(report: casefile::SyncReport) -> Self {
        let count = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        Self {
            pushed: count(report.pushed),
            pulled: count(report.pulled),
            conflicts: count(report.conflicts),
            set_aside: count(report.set_aside),
        }
    }
}

/// A record kept out of the sync, as the set-aside list shows it. The UI explains `why`
/// in the person's language; `message` is the case file's (or the server's) English
/// sentence, for support.
#[derive(Debug, Clone, Serialize, Type)]
pub struct SetAsideView {
    /// The record's id; absent for a received state whose id could not be read.
    pub id: Option<String>,
    /// The kind of the state set aside (for two records under one id, the server's).
    pub kind: Option<String>,
    /// Why, as a code: `kind_clash`, `too_large`, `record_too_large`, `held`, or the
    /// server's refusal (`forged_dot`, `dropped_entry`, `invalid_record`…).
    pub why: String,
    /// Details for support.
    pub message: String,
}

impl From<casefile::SetAside> for SetAsideView {
    fn from(record: casefile::SetAside) -> Self {
        Self {
            id: record.id.map(|id| id.to_string()),
            kind: record.kind,
            why: record.why,
            message: record.message,
        }
    }
}

/// The indicators of a period (DOMAIN.md), as the dashboard shows them.
#[derive(Debug, Clone, Serialize, Type)]
pub struct IndicatorsView {
    /// Persons met or with a step, job, training or referral dated in the period.
    pub people_followed: u32,
    /// Persons created in the period.
    pub new_people: u32,
    /// Visits of the period by setting.
    pub visits_by_setting: BTreeMap<String, u32>,
    /// Steps done in the period.
    pub steps_done: u32,
    /// Steps done in the period, by category.
    pub steps_done_by_category: BTreeMap<String, u32>,
    /// Jobs started in the period, by contract.
    pub jobs_by_contract: BTreeMap<String, u32>,
    /// Trainings started in the period.
    pub trainings_started: u32,
    /// Trainings completed in the period.
    pub trainings_completed: u32,
    /// Persons whose stay ended in the period because they were housed.
    pub people_housed: u32,
}

fn count(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn counts(map: &BTreeMap<String, u64>) -> BTreeMap<String, u32> {
    map.iter().map(|(k, v)| (k.clone(), count(*v))).collect()
}

impl From<&casefile::Indicators> for IndicatorsView {
    fn from(i: &casefile::Indicators) -> Self {
        Self {
            people_followed: count(i.people_followed),
            new_people: count(i.new_people),
            visits_by_setting: counts(&i.visits_by_setting),
            steps_done: count(i.steps_done),
            steps_done_by_category: counts(&i.steps_done_by_category),
            jobs_by_contract: counts(&i.jobs_by_contract),
            trainings_started: count(i.trainings_started),
            trainings_completed: count(i.trainings_completed),
            people_housed: count(i.people_housed),
        }
    }
}

/// One point of the series of people in work.
#[derive(Debug, Clone, Serialize, Type)]
pub struct WorkPointView {
    /// The day, `YYYY-MM-DD` (a month's end, or the period's).
    pub on: String,
    /// Persons in work that day.
    pub people: u32,
}

/// The dashboard of a period: its indicators and people in work month by month.
#[derive(Debug, Clone, Serialize, Type)]
pub struct DashboardView {
    /// The period's first day, `YYYY-MM-DD`.
    pub from: String,
    /// The period's last day, `YYYY-MM-DD`.
    pub to: String,
    /// The indicators.
    pub indicators: IndicatorsView,
    /// People in work at each month's end.
    pub people_in_work: Vec<WorkPointView>,
}

impl DashboardView {
    /// The view of `period`'s indicators and series.
    pub fn new(
        period: &casefile::Period,
        indicators: &casefile::Indicators,
        work: &[casefile::WorkPoint],
    ) -> Self {
        Self {
            from: period.from_text(),
            to: period.to_text(),
            indicators: IndicatorsView::from(indicators),
            people_in_work: work
                .iter()
                .map(|p| WorkPointView {
                    on: p.on.clone(),
                    people: count(p.people),
                })
                .collect(),
        }
    }
}

/// One record a person's erasure touches, by id and kind only: the confirmation finds
/// what to call it in the local case file.
#[derive(Debug, Clone, Serialize, Type)]
pub struct TouchedRecordView {
    /// The record's id.
    pub id: String,
    /// Its kind.
    pub kind: String,
    /// For a record kept: its fields of free text to read again, since they may still
    /// speak of the erased person.
    pub reread: Vec<String>,
}

impl From<&TouchedRecord> for TouchedRecordView {
    fn from(record: &TouchedRecord) -> Self {
        Self {
            id: record.id.to_string(),
            kind: record.kind.to_string(),
            reread: record.reread.iter().map(ToString::to_string).collect(),
        }
    }
}

/// What a person's erasure does (a dry run) or did.
#[derive(Debug, Clone, Serialize, Type)]
pub struct ErasureView {
    /// Whether it was a dry run: nothing changed yet.
    pub dry_run: bool,
    /// The records erased: the person, what is about them alone, the visits that met
    /// only them.
    pub erased: Vec<TouchedRecordView>,
    /// The records kept: shared ones the person is taken out of, and those whose free
    /// text should be read again.
    pub kept: Vec<TouchedRecordView>,
}

impl From<&ErasePersonResponse> for ErasureView {
    fn from(response: &ErasePersonResponse) -> Self {
        Self {
            dry_run: response.dry_run,
            erased: response
                .erased
                .iter()
                .map(TouchedRecordView::from)
                .collect(),
            kept: response.kept.iter().map(TouchedRecordView::from).collect(),
        }
    }
}

/// The organisation's settings, as the settings screen edits them: what the information
/// notice and the access export print, and how long a closed file is kept.
#[derive(Debug, Clone, Serialize, Type)]
pub struct OrganisationView {
    /// The organisation's name.
    pub name: Option<String>,
    /// Its postal address.
    pub address: Option<String>,
    /// How to reach it (phone, e-mail).
    pub contact: Option<String>,
    /// Its data protection contact.
    pub dpo_contact: Option<String>,
    /// What the data is for.
    pub purposes: Option<String>,
    /// Who receives the data.
    pub recipients: Option<String>,
    /// Months a person's file is kept after it is closed.
    pub retention_months: u32,
}

impl From<casefile::organisation::Organisation> for OrganisationView {
    fn from(o: casefile::organisation::Organisation) -> Self {
        Self {
            name: o.name,
            address: o.address,
            contact: o.contact,
            dpo_contact: o.dpo_contact,
            purposes: o.purposes,
            recipients: o.recipients,
            retention_months: o.retention_months,
        }
    }
}

/// A person's file past the organisation's retention.
#[derive(Debug, Clone, Serialize, Type)]
pub struct RetentionDueView {
    /// The person.
    pub person: RecordView,
    /// When the file was closed, `YYYY-MM-DD`.
    pub closed_on: String,
    /// The last day it was to be kept, `YYYY-MM-DD`.
    pub kept_until: String,
}

impl From<&casefile::retention::RetentionDue> for RetentionDueView {
    fn from(due: &casefile::retention::RetentionDue) -> Self {
        Self {
            person: RecordView::from(&due.person),
            closed_on: due.closed_on.clone(),
            kept_until: due.kept_until.clone(),
        }
    }
}

/// A language the information notice is printed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum NoticeLangInput {
    /// French.
    Fr,
    /// Romanian.
    Ro,
    /// Bulgarian.
    Bg,
}

impl NoticeLangInput {
    /// The language's code, as a person's `notice_lang` holds it.
    pub fn code(self) -> &'static str {
        match self {
            Self::Fr => "fr",
            Self::Ro => "ro",
            Self::Bg => "bg",
        }
    }
}

impl From<NoticeLangInput> for casefile::export::NoticeLang {
    fn from(lang: NoticeLangInput) -> Self {
        match lang {
            NoticeLangInput::Fr => Self::Fr,
            NoticeLangInput::Ro => Self::Ro,
            NoticeLangInput::Bg => Self::Bg,
        }
    }
}

/// Persons, cut to a length the screen shows, with their full count.
#[derive(Debug, Clone, Serialize, Type)]
pub struct PersonsView {
    /// The persons shown.
    pub persons: Vec<RecordView>,
    /// How many there are in all.
    pub total: u32,
}

impl PersonsView {
    /// At most `limit` of `states`, with their count.
    pub fn new(states: &[RecordState], limit: usize) -> Self {
        Self {
            persons: views(&states[..states.len().min(limit)]),
            total: u32::try_from(states.len()).unwrap_or(u32::MAX),
        }
    }
}

/// An access export saved, and how the sync before it went.
#[derive(Debug, Clone, Serialize, Type)]
pub struct AccessExportView {
    /// The files written: the PDF, then the JSON.
    pub paths: Vec<String>,
    /// Whether a sync ran to its end just before the export.
    pub synced: bool,
    /// Why the sync before the export failed, when it did (the export was made from
    /// this device's copy all the same).
    pub sync_error: Option<AppError>,
    /// When the case file last synced (RFC 3339), if ever: what the export covers.
    pub last_sync_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use casefile::sync_protocol::{FieldName, Kind, ReplicaId, Timestamp, merge};
    use serde_json::json;

    use super::*;

    fn replica(n: u8) -> ReplicaId {
        format!("0193a1f0-0000-7000-8000-0000000000{n:02x}")
            .parse()
            .unwrap()
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn name(text: &str) -> FieldName {
        text.parse().unwrap()
    }

    #[test]
    fn a_conflict_shows_every_entry_and_the_latest_value() {
        let id: RecordId = "0193a1f0-0000-7000-8000-0000000000ff".parse().unwrap();
        let kind: Kind = "person".parse().unwrap();
        let base = RecordState::create(
            id,
            kind,
            replica(1),
            at("2026-11-01T10:00:00Z"),
            [(name("family_name"), json!("Lăcătuș"))],
        )
        .unwrap();
        let mut mine = base.clone();
        mine.edit(
            replica(1),
            at("2026-11-02T10:00:00Z"),
            [(name("phone"), json!("06"))],
        )
        .unwrap();
        let mut theirs = base;
        theirs
            .edit(
                replica(2),
                at("2026-11-03T10:00:00Z"),
                [(name("phone"), json!("07"))],
            )
            .unwrap();

        let view = RecordView::from(&merge(&mine, &theirs).unwrap());

        assert_eq!(view.conflict_fields, ["phone"], "phone is in conflict");
        assert_eq!(view.entries["phone"].len(), 2, "both entries side by side");
        assert_eq!(
            view.values["phone"],
            json!("07"),
            "the most recent entry shows"
        );
        assert_eq!(view.values["family_name"], json!("Lăcătuș"));
        assert!(!view.deleted && !view.deleted_with_edits);
    }

    #[test]
    fn the_day_is_cut_to_the_limit_with_its_counts() {
        let state = |n: u8| {
            RecordState::create(
                format!("0193a1f0-0000-7000-8000-0000000001{n:02x}")
                    .parse()
                    .unwrap(),
                "step".parse().unwrap(),
                replica(1),
                at("2026-11-01T10:00:00Z"),
                [(name("title"), json!("Candidature"))],
            )
            .unwrap()
        };
        let today = casefile::Today {
            visits_due: Vec::new(),
            steps_due: vec![state(1)],
            steps_overdue: (0..5).map(state).collect(),
        };

        let view = TodayView::new(&today, 2);

        assert_eq!(view.steps_overdue.len(), 2, "cut to the limit");
        assert_eq!(view.steps_overdue_total, 5, "with the full count");
        assert_eq!((view.steps_due.len(), view.steps_due_total), (1, 1));
        assert_eq!((view.visits_due.len(), view.visits_due_total), (0, 0));
    }

    #[test]
    fn the_schema_offers_every_kind_with_its_choices() {
        let schema = schema();
        let visit = schema.iter().find(|k| k.kind == "visit").unwrap();
        let setting = visit.fields.iter().find(|f| f.name == "setting").unwrap();
        assert!(setting.required, "a visit's setting is required");
        match &setting.ty {
            FieldTypeView::Choice { values } => assert!(values.contains(&"home_visit".to_owned())),
            other => panic!("expected the setting to be a choice, got {other:?}"),
        }
    }

    #[test]
    fn an_erasure_names_each_record_by_id_and_kind_with_the_fields_to_reread() {
        let person: RecordId = "0193a1f0-0000-7000-8000-0000000000a1".parse().unwrap();
        let visit: RecordId = "0193a1f0-0000-7000-8000-0000000000a2".parse().unwrap();
        let response = ErasePersonResponse {
            server_seq: 12,
            dry_run: true,
            erased: vec![TouchedRecord {
                id: person,
                kind: "person".parse().unwrap(),
                reread: Vec::new(),
            }],
            kept: vec![TouchedRecord {
                id: visit,
                kind: "visit".parse().unwrap(),
                reread: vec![name("observations"), name("decisions")],
            }],
        };
        let view = ErasureView::from(&response);
        assert!(view.dry_run);
        assert_eq!(view.erased.len(), 1);
        assert_eq!(
            (view.erased[0].id.as_str(), view.erased[0].kind.as_str()),
            ("0193a1f0-0000-7000-8000-0000000000a1", "person")
        );
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(
            json["kept"][0]["reread"],
            json!(["observations", "decisions"]),
            "the UI names the fields to read again: {json}"
        );
        assert_eq!(json["kept"][0]["kind"], "visit", "{json}");
        assert_eq!(json["erased"][0]["reread"], json!([]), "{json}");
    }

    #[test]
    fn an_eviction_refuses_an_id_that_is_not_one() {
        let input = EvictionInput {
            site: "not an id".to_owned(),
            on: "2026-11-28".to_owned(),
            to_site: "0193a1f0-0000-7000-8000-0000000000ff".to_owned(),
            households: Vec::new(),
            persons: Vec::new(),
        };
        assert!(matches!(
            input.to_eviction(),
            Err(AppError::Invalid { ref field, .. }) if field == "id"
        ));
    }
}
