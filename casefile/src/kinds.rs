//! The record kinds of DOMAIN.md as typed Rust structs, and their enumerations.
//!
//! Every field is optional in the struct (a record may lack any field, and a pulled
//! record may come from another version); which fields are required on creation, and
//! what each field accepts, is said once, in [`crate::schema`]. Fields this build does
//! not know (from a newer version, or `x_` fields) are kept in `extra`.
//!
//! Beside DOMAIN.md's ten kinds: a person's `email`, `skills` and `certifications`, and
//! the kind `cv` ([`Cv`]), which a CV needs; the kind `attachment` ([`Attachment`]), a
//! document or photo in a person's file (person, optional visit or step, title,
//! category, taken on, media type, size, SHA-256), whose bytes are kept apart
//! ([`crate::attachments`]); and the organisation's settings ([`OrganisationSettings`]).
//! [`crate::schema`] says what each holds.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sync_protocol::RecordId;

/// A typed record kind.
pub trait Record: Serialize + DeserializeOwned {
    /// The kind's name in record states.
    const KIND: &'static str;
}

macro_rules! choice {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(
                #[doc = concat!("`", $text, "`")]
                #[serde(rename = $text)]
                $variant,
            )+
        }

        impl $name {
            /// Every value, as written in record states.
            pub const VALUES: &'static [&'static str] = &[$($text),+];

            /// The value as written in record states.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }
    };
}

choice!(
    /// A site's type.
    SiteType { Bidonville = "bidonville", Squat = "squat", Hotel = "hotel", Shelter = "shelter",
    DayCentre = "day_centre", TravellersArea = "travellers_area", Housing = "housing",
    Other = "other" }
);
choice!(
    /// A site's status.
    SiteStatus { Active = "active", Evicted = "evicted", Closed = "closed" }
);
choice!(
    /// A person's sex.
    Sex { F = "f", M = "m", X = "x" }
);
choice!(
    /// A person's level of French.
    FrenchLevel { None = "none", A1 = "a1", A2 = "a2", B1 = "b1", B2Plus = "b2_plus" }
);
choice!(
    /// Whether a person is followed.
    PersonStatus { Active = "active", Closed = "closed" }
);
choice!(
    /// The language an information notice (GDPR articles 13 and 14) was given in:
    /// French, Romanian or Bulgarian. Also the language of `documents::notice_pdf`.
    NoticeLang { Fr = "fr", Ro = "ro", Bg = "bg" }
);
impl std::str::FromStr for NoticeLang {
    type Err = crate::Error;

    /// Reads `fr`, `ro` or `bg`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "fr" => Ok(Self::Fr),
            "ro" => Ok(Self::Ro),
            "bg" => Ok(Self::Bg),
            _ => Err(crate::Error::invalid(
                "lang",
                "fr (French), ro (Romanian) or bg (Bulgarian)",
            )),
        }
    }
}

impl std::fmt::Display for NoticeLang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

choice!(
    /// A person's health cover.
    HealthCover { None = "none", Ame = "ame", Puma = "puma", Css = "css", Other = "other" }
);
choice!(
    /// Why a stay ended.
    LeftBecause { Eviction = "eviction", Moved = "moved", Housed = "housed",
    ReturnedAbroad = "returned_abroad", Unknown = "unknown" }
);
choice!(
    /// Where a visit took place.
    Setting { HomeVisit = "home_visit", CareCentre = "care_centre",
    OfficeInterview = "office_interview", Phone = "phone", Accompaniment = "accompaniment",
    Other = "other" }
);
choice!(
    /// A step's category.
    StepCategory { JobSearch = "job_search", JobApplication = "job_application",
    Training = "training", FranceTravail = "france_travail", Documents = "documents",
    Health = "health", Housing = "housing", Childcare = "childcare", Transport = "transport",
    Language = "language", SocialWorker = "social_worker", Other = "other" }
);
choice!(
    /// What a document is (an attachment's `category`).
    AttachmentCategory { Identity = "identity", Cv = "cv", FranceTravail = "france_travail",
    Payslip = "payslip", Training = "training", Housing = "housing", Health = "health",
    Other = "other" }
);
choice!(
    /// A step's progress.
    StepStatus { Planned = "planned", InProgress = "in_progress", Done = "done",
    Cancelled = "cancelled" }
);
choice!(
    /// A job's contract.
    Contract { Cdi = "cdi", Cdd = "cdd", Interim = "interim", Iae = "iae",
    Apprenticeship = "apprenticeship", Seasonal = "seasonal", Other = "other" }
);
choice!(
    /// A training's progress.
    TrainingStatus { Applied = "applied", Enrolled = "enrolled", Completed = "completed",
    Dropped = "dropped" }
);
choice!(
    /// The social constraint a referral works on.
    Constraint { Health = "health", Childcare = "childcare", Housing = "housing",
    Documents = "documents", Transport = "transport", Language = "language", Debt = "debt",
    Legal = "legal", Other = "other" }
);
choice!(
    /// A referral's progress.
    ReferralStatus { Sent = "sent", Accepted = "accepted", Done = "done", Refused = "refused" }
);

macro_rules! record {
    ($(#[$meta:meta])* $name:ident = $kind:literal {
        $($(#[$fmeta:meta])* $field:ident : $ty:ty),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            $(
                #[doc = concat!("The `", stringify!($field), "` field (see `schema`).")]
                $(#[$fmeta])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )+
            /// Fields this build does not know: `x_` fields and fields of newer versions.
            #[serde(flatten)]
            pub extra: BTreeMap<String, Value>,
        }

        impl Record for $name {
            const KIND: &'static str = $kind;
        }
    };
}

record!(
    /// A site (lieu de vie): a shantytown, a squat, a shelter…
    Site = "site" {
        name: String,
        #[serde(rename = "type")]
        site_type: SiteType,
        commune: String,
        address: String,
        lat: f64,
        lon: f64,
        status: SiteStatus,
        status_since: String,
        notes: String,
    }
);
record!(
    /// A household (ménage).
    Household = "household" { name: String, site_id: RecordId, notes: String }
);
record!(
    /// A person (personne) the programme follows.
    Person = "person" {
        family_name: String,
        given_names: String,
        aliases: Vec<String>,
        sex: Sex,
        birth_date: String,
        birth_place: String,
        nationality: String,
        languages: Vec<String>,
        french_level: FrenchLevel,
        skills: Vec<String>,
        certifications: Vec<String>,
        phone: String,
        email: String,
        household_id: RecordId,
        site_id: RecordId,
        referent: String,
        status: PersonStatus,
        closed_on: String,
        closed_reason: String,
        keep_until: String,
        keep_reason: String,
        consent_on: String,
        consent_scope: String,
        notice_on: String,
        notice_lang: NoticeLang,
        notice_interpreter: bool,
        notes: String,
    }
);
record!(
    /// A person's administrative situation (one per person).
    Situation = "situation" {
        person_id: RecordId,
        id_document: String,
        health_cover: HealthCover,
        social_security_number: String,
        bank_account: bool,
        domiciliation: String,
        france_travail_number: String,
        france_travail_since: String,
        cv_on: String,
        driving_licence: bool,
        education_level: String,
        work_experience: String,
        skills: String,
    }
);
record!(
    /// A stay (séjour) of a person on a site.
    Stay = "stay" {
        person_id: RecordId,
        site_id: RecordId,
        from_on: String,
        to_on: String,
        left_because: LeftBecause,
    }
);
record!(
    /// A visit or interview (visite / entretien).
    Visit = "visit" {
        occurred_at: String,
        setting: Setting,
        site_id: RecordId,
        person_ids: Vec<RecordId>,
        counsellors: Vec<String>,
        purpose: String,
        observations: String,
        decisions: String,
        next_visit_on: String,
        interpreter: bool,
        duration_minutes: f64,
    }
);
record!(
    /// A step (démarche).
    Step = "step" {
        person_id: RecordId,
        visit_id: RecordId,
        category: StepCategory,
        title: String,
        status: StepStatus,
        due_on: String,
        done_on: String,
        notes: String,
    }
);
record!(
    /// A job (emploi).
    Employment = "employment" {
        person_id: RecordId,
        employer: String,
        job_title: String,
        sector: String,
        contract: Contract,
        hours_per_week: f64,
        start_on: String,
        end_on: String,
        end_reason: String,
    }
);
record!(
    /// A training (formation).
    Training = "training" {
        person_id: RecordId,
        provider: String,
        title: String,
        start_on: String,
        end_on: String,
        status: TrainingStatus,
        certification: String,
    }
);
record!(
    /// A referral (orientation) to another service.
    Referral = "referral" {
        person_id: RecordId,
        to_service: String,
        constraint: Constraint,
        status: ReferralStatus,
        sent_on: String,
        notes: String,
    }
);
record!(
    /// A person's CV as a counsellor prepared it: each list's items as printed, in the
    /// CV's order (see [`crate::schema`]). What is printed from it is
    /// [`crate::export::Cv`].
    Cv = "cv" {
        person_id: RecordId,
        headline: String,
        contact: String,
        languages: Vec<String>,
        skills: Vec<String>,
        certifications: Vec<String>,
        experience: Vec<String>,
        trainings: Vec<String>,
        interests: Vec<String>,
    }
);
record!(
    /// A document or photo in a person's file: its description, and the SHA-256 of its
    /// bytes, which are kept apart (see [`crate::attachments`]).
    Attachment = "attachment" {
        person_id: RecordId,
        visit_id: RecordId,
        step_id: RecordId,
        title: String,
        category: AttachmentCategory,
        taken_on: String,
        media_type: String,
        size: u64,
        sha256: String,
        file_name: String,
    }
);
record!(
    /// The organisation's settings (one record per organisation, whose id is
    /// `sync_protocol::organisation::SETTINGS_ID`): who keeps the case files, how to
    /// reach them and their data protection contact, why the files are kept and who
    /// receives them, and for how long after a person's file is closed. Read through
    /// [`crate::organisation::Organisation`].
    OrganisationSettings = "organisation" {
        name: String,
        address: String,
        contact: String,
        dpo_contact: String,
        purposes: String,
        recipients: String,
        retention_months: u32,
    }
);
