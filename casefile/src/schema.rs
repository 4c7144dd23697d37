//! The field schemas of the record kinds: one table, read by validation, by the command
//! line's `--set FIELD=VALUE`, by the derived tables and by exports.
//!
//! Required fields (a choice this module makes, DOMAIN.md leaves it open): a site's and a
//! household's `name`; a person's `family_name`; the person, site and start of a `stay`;
//! a visit's `occurred_at` and `setting`; and the `person_id` of every record about one
//! person, with the title or service that says what it is. Some fields get a default on
//! creation: a person's and a site's `status` is `active`, a step's is `planned`.
//!
//! The `organisation` kind is the organisation's settings (name, contacts, purposes,
//! recipients, retention), one record with a well-known id: see [`crate::organisation`].
//!
//! ## Beyond DOMAIN.md v1: what a CV needs
//! - A person has an `email` (checked loosely: one `@` with text on each side, no
//!   spaces), `skills` and `certifications` (lists of texts as a CV prints them:
//!   "cariste", "CACES R489 cat. 3", "permis C"). The situation's `skills` stays free text.
//! - A language's level is not a field of its own: `french_level` says French's, and a
//!   CV's `languages` lines say each level as the counsellor writes it ("Romani : langue
//!   maternelle"). A list of `code:level` pairs beside `languages` would be a second list
//!   to keep in step with it, for a level the CV's line holds already.
//! - The kind `cv` is a person's CV as a counsellor prepared it, so that another
//!   counsellor can print it again: `person_id`, a `headline` ("Agent de propreté —
//!   disponible immédiatement"), the `contact` as printed, and the lists `languages`
//!   (only those the counsellor ticked), `skills`, `certifications`, `experience`,
//!   `trainings` and `interests`, each item as printed, in the CV's order. An item of
//!   `experience` or `trainings` is a first line (`2023 – 2024 · Agent de propreté · Elior
//!   (CDD)`) and, on further lines, its description. A CV names its person in
//!   `person_id`: erasing the person erases it (`sync_protocol::persons`). See
//!   [`crate::export::Cv`] for what is printed from it.
//!
//! ## Beyond DOMAIN.md v1: one person, one file
//! A person's record may hold three fields that no form writes and `edit` refuses (they
//! are not in the table below): `merged_into` (the person this file was merged into: its
//! tombstone), `merged_seen` (the file's version vector when it was merged) and
//! `not_duplicates` (the persons this one is marked as not being). Only
//! `CaseFile::merge_persons` and `CaseFile::mark_not_duplicates` write them; the rules
//! that read them are `sync_protocol::merges`'s, and [`crate::duplicates`] says how the
//! case file reads every reference through a tombstone. No kind is added.

use serde_json::Value;

use crate::kinds::{
    AttachmentCategory, Constraint, Contract, FrenchLevel, HealthCover, LeftBecause, NoticeLang,
    PersonStatus, ReferralStatus, Setting, Sex, SiteStatus, SiteType, StepCategory, StepStatus,
    TrainingStatus,
};

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldType {
    /// Any text.
    Text,
    /// A date `YYYY-MM-DD`.
    Date,
    /// A possibly approximate date: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    ApproxDate,
    /// An RFC 3339 timestamp with its offset.
    DateTime,
    /// A number between `min` and `max`.
    Number {
        /// Smallest accepted value.
        min: f64,
        /// Largest accepted value.
        max: f64,
    },
    /// `true` or `false`.
    Bool,
    /// An ISO 3166 alpha-2 country code (`RO`, `BG`).
    Country,
    /// A list of texts.
    TextList,
    /// One of the listed values.
    Choice(&'static [&'static str]),
    /// The id of a record of the named kind in this case file.
    Ref(&'static str),
    /// A list of ids of records of the named kind.
    RefList(&'static str),
}

/// One field of a kind.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// The field's name in record states.
    pub name: &'static str,
    /// What it holds.
    pub ty: FieldType,
    /// Whether a record of this kind must have it.
    pub required: bool,
    /// For a [`FieldType::Number`]: whether only whole numbers are accepted (written as
    /// JSON integers, such as `24`, never `24.5`).
    pub whole: bool,
    /// For a [`FieldType::Text`]: the form the text must take, if any.
    pub form: Option<TextForm>,
}

/// A form a text field's value must take, checked beside its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextForm {
    /// An e-mail address, checked loosely: one `@` with text on each side, and no space.
    Email,
    /// A SHA-256 digest: 64 lowercase hex digits.
    Sha256,
}

impl TextForm {
    /// Whether `text` takes this form.
    pub fn accepts(self, text: &str) -> bool {
        match self {
            Self::Email => {
                let mut parts = text.split('@');
                let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next())
                else {
                    return false;
                };
                !local.is_empty() && !domain.is_empty() && !text.contains(char::is_whitespace)
            }
            Self::Sha256 => sync_protocol::blobs::is_sha256(text),
        }
    }

    /// The form in words, for error messages.
    pub fn expected(self) -> &'static str {
        match self {
            Self::Email => "an e-mail address such as prenom.nom@example.org (one @, no spaces)",
            Self::Sha256 => "a SHA-256 digest: 64 lowercase hexadecimal digits",
        }
    }
}

impl FieldSpec {
    /// Whether `value` (not null) has the right shape for this field: its type's rule,
    /// and a JSON integer for a whole number.
    pub fn accepts(&self, value: &Value) -> bool {
        self.ty.accepts(value)
            && (!self.whole || value.is_u64() || value.is_i64())
            && self
                .form
                .is_none_or(|form| value.as_str().is_some_and(|t| form.accepts(t)))
    }

    /// What the field expects, in words, for error messages.
    pub fn expected(&self) -> String {
        match (self.whole, self.ty, self.form) {
            (_, _, Some(form)) => form.expected().to_owned(),
            (true, FieldType::Number { min, max }, _) => {
                format!("a whole number from {min} to {max}")
            }
            _ => self.ty.expected(),
        }
    }
}

/// A record kind and its fields.
#[derive(Debug, Clone, Copy)]
pub struct KindSpec {
    /// The kind's name.
    pub kind: &'static str,
    /// Its fields, in the order people read them.
    pub fields: &'static [FieldSpec],
    /// Values set on creation when the field is not given.
    pub defaults: &'static [(&'static str, &'static str)],
}

impl KindSpec {
    /// The field named `name`, if the kind has it.
    pub fn field(&self, name: &str) -> Option<&'static FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }
}

const fn f(name: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        required: false,
        whole: false,
        form: None,
    }
}

const fn req(name: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        required: true,
        whole: false,
        form: None,
    }
}

/// An optional whole number from `min` to `max`.
const fn whole(name: &'static str, min: u32, max: u32) -> FieldSpec {
    FieldSpec {
        name,
        ty: FieldType::Number {
            min: min as f64,
            max: max as f64,
        },
        required: false,
        whole: true,
        form: None,
    }
}

/// An optional text of the given form.
const fn formed(name: &'static str, form: TextForm) -> FieldSpec {
    FieldSpec {
        name,
        ty: FieldType::Text,
        required: false,
        whole: false,
        form: Some(form),
    }
}

use FieldType::{ApproxDate, Bool, Choice, Country, Date, DateTime, Ref, RefList, Text, TextList};

/// The largest document kept (SYNC-PROTOCOL.md §6b), as the `size` field's bound.
const MAX_ATTACHMENT_BYTES: u32 = sync_protocol::blobs::MAX_BLOB_BYTES as u32;

const HOURS_IN_A_WEEK: FieldType = FieldType::Number {
    min: 0.0,
    max: 168.0,
};

/// Every kind this build knows.
pub static KINDS: &[KindSpec] = &[
    KindSpec {
        kind: "site",
        fields: &[
            req("name", Text),
            f("type", Choice(SiteType::VALUES)),
            f("commune", Text),
            f("address", Text),
            f(
                "lat",
                FieldType::Number {
                    min: -90.0,
                    max: 90.0,
                },
            ),
            f(
                "lon",
                FieldType::Number {
                    min: -180.0,
                    max: 180.0,
                },
            ),
            f("status", Choice(SiteStatus::VALUES)),
            f("status_since", Date),
            f("notes", Text),
        ],
        defaults: &[("status", "active")],
    },
    KindSpec {
        kind: "household",
        fields: &[
            req("name", Text),
            f("site_id", Ref("site")),
            f("notes", Text),
        ],
        defaults: &[],
    },
    KindSpec {
        kind: "person",
        fields: &[
            req("family_name", Text),
            f("given_names", Text),
            f("aliases", TextList),
            f("sex", Choice(Sex::VALUES)),
            f("birth_date", ApproxDate),
            f("birth_place", Text),
            f("nationality", Country),
            f("languages", TextList),
            f("french_level", Choice(FrenchLevel::VALUES)),
            f("skills", TextList),
            f("certifications", TextList),
            f("phone", Text),
            formed("email", TextForm::Email),
            f("household_id", Ref("household")),
            f("site_id", Ref("site")),
            f("referent", Text),
            f("status", Choice(PersonStatus::VALUES)),
            f("closed_on", Date),
            f("closed_reason", Text),
            f("keep_until", Date),
            f("keep_reason", Text),
            f("consent_on", Date),
            f("consent_scope", Text),
            f("notice_on", Date),
            f("notice_lang", Choice(NoticeLang::VALUES)),
            f("notice_interpreter", Bool),
            f("notes", Text),
        ],
        defaults: &[("status", "active")],
    },
    KindSpec {
        kind: "situation",
        fields: &[
            req("person_id", Ref("person")),
            f("id_document", Text),
            f("health_cover", Choice(HealthCover::VALUES)),
            f("social_security_number", Text),
            f("bank_account", Bool),
            f("domiciliation", Text),
            f("france_travail_number", Text),
            f("france_travail_since", Date),
            f("cv_on", Date),
            f("driving_licence", Bool),
            f("education_level", Text),
            f("work_experience", Text),
            f("skills", Text),
        ],
        defaults: &[],
    },
    KindSpec {
        kind: "stay",
        fields: &[
            req("person_id", Ref("person")),
            req("site_id", Ref("site")),
            req("from_on", Date),
            f("to_on", Date),
            f("left_because", Choice(LeftBecause::VALUES)),
        ],
        defaults: &[],
    },
    KindSpec {
        kind: "visit",
        fields: &[
            req("occurred_at", DateTime),
            req("setting", Choice(Setting::VALUES)),
            f("site_id", Ref("site")),
            f("person_ids", RefList("person")),
            f("counsellors", TextList),
            f("purpose", Text),
            f("observations", Text),
            f("decisions", Text),
            f("next_visit_on", Date),
            f("interpreter", Bool),
            f(
                "duration_minutes",
                FieldType::Number {
                    min: 0.0,
                    max: 1440.0,
                },
            ),
        ],
        defaults: &[],
    },
    KindSpec {
        kind: "step",
        fields: &[
            req("person_id", Ref("person")),
            f("visit_id", Ref("visit")),
            req("category", Choice(StepCategory::VALUES)),
            req("title", Text),
            f("status", Choice(StepStatus::VALUES)),
            f("due_on", Date),
            f("done_on", Date),
            f("notes", Text),
        ],
        defaults: &[("status", "planned")],
    },
    KindSpec {
        kind: "employment",
        fields: &[
            req("person_id", Ref("person")),
            req("employer", Text),
            f("job_title", Text),
            f("sector", Text),
            f("contract", Choice(Contract::VALUES)),
            f("hours_per_week", HOURS_IN_A_WEEK),
            f("start_on", Date),
            f("end_on", Date),
            f("end_reason", Text),
        ],
        defaults: &[],
    },
    KindSpec {
        kind: "training",
        fields: &[
            req("person_id", Ref("person")),
            f("provider", Text),
            req("title", Text),
            f("start_on", Date),
            f("end_on", Date),
            f("status", Choice(TrainingStatus::VALUES)),
            f("certification", Text),
        ],
        defaults: &[],
    },
    KindSpec {
        kind: "referral",
        fields: &[
            req("person_id", Ref("person")),
            req("to_service", Text),
            f("constraint", Choice(Constraint::VALUES)),
            f("status", Choice(ReferralStatus::VALUES)),
            f("sent_on", Date),
            f("notes", Text),
        ],
        defaults: &[],
    },
    // A person's CV as a counsellor prepared it (see the module's docs).
    KindSpec {
        kind: "cv",
        fields: &[
            req("person_id", Ref("person")),
            f("headline", Text),
            f("contact", Text),
            f("languages", TextList),
            f("skills", TextList),
            f("certifications", TextList),
            f("experience", TextList),
            f("trainings", TextList),
            f("interests", TextList),
        ],
        defaults: &[],
    },
    // A document or photo (see the module's docs): written by `CaseFile::attach`, which
    // stores its bytes; the generic create refuses this kind, and an edit may change the
    // description (title, category, taken_on, visit, step), never the bytes it names.
    KindSpec {
        kind: "attachment",
        fields: &[
            req("person_id", Ref("person")),
            f("visit_id", Ref("visit")),
            f("step_id", Ref("step")),
            req("title", Text),
            req("category", Choice(AttachmentCategory::VALUES)),
            f("taken_on", Date),
            req("media_type", Text),
            FieldSpec {
                required: true,
                ..whole("size", 1, MAX_ATTACHMENT_BYTES)
            },
            FieldSpec {
                required: true,
                ..formed("sha256", TextForm::Sha256)
            },
            f("file_name", Text),
        ],
        defaults: &[],
    },
    // The organisation's settings: one record, whose id is
    // `sync_protocol::organisation::SETTINGS_ID`, written by `CaseFile::set_organisation`
    // (the generic create refuses this kind).
    KindSpec {
        kind: sync_protocol::organisation::SETTINGS_KIND,
        fields: &[
            f("name", Text),
            f("address", Text),
            f("contact", Text),
            f("dpo_contact", Text),
            f("purposes", Text),
            f("recipients", Text),
            whole(
                sync_protocol::organisation::RETENTION_FIELD,
                1,
                sync_protocol::organisation::MAX_RETENTION_MONTHS,
            ),
        ],
        defaults: &[],
    },
];

/// The schema of `kind`, if this build knows it.
pub fn kind(kind: &str) -> Option<&'static KindSpec> {
    KINDS.iter().find(|k| k.kind == kind)
}

/// Whether `name` is a free extension field (`x_…`, kept as text).
pub fn is_extension(name: &str) -> bool {
    name.starts_with("x_")
}

impl FieldType {
    /// What the field expects, in words, for error messages.
    pub fn expected(&self) -> String {
        match self {
            Text => "text".to_owned(),
            Date => "a date YYYY-MM-DD".to_owned(),
            ApproxDate => "a date YYYY, YYYY-MM or YYYY-MM-DD".to_owned(),
            DateTime => "an RFC 3339 timestamp with its offset, such as 2026-11-02T10:14:00+01:00"
                .to_owned(),
            FieldType::Number { min, max } => format!("a number from {min} to {max}"),
            Bool => "true or false".to_owned(),
            Country => "an ISO 3166 alpha-2 country code such as RO or BG".to_owned(),
            TextList => "a JSON list of texts, such as [\"ro\", \"fr\"]".to_owned(),
            Choice(values) => format!("one of {}", values.join(", ")),
            Ref(kind) => format!("the id of a {kind} of this case file"),
            RefList(kind) => format!("a JSON list of ids of {kind} records of this case file"),
        }
    }

    /// Whether `value` (not null) has the right shape. References are checked against
    /// the case file elsewhere; here only their form.
    pub fn accepts(&self, value: &Value) -> bool {
        match self {
            Text => value.is_string(),
            Date => value.as_str().is_some_and(is_date),
            ApproxDate => value.as_str().is_some_and(is_approx_date),
            DateTime => value
                .as_str()
                .is_some_and(|t| sync_protocol::dates::parse_rfc3339(t).is_some()),
            FieldType::Number { min, max } => value
                .as_f64()
                .is_some_and(|n| n.is_finite() && n >= *min && n <= *max),
            Bool => value.is_boolean(),
            Country => value
                .as_str()
                .is_some_and(|t| t.len() == 2 && t.bytes().all(|b| b.is_ascii_uppercase())),
            TextList => value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_string)),
            Choice(values) => value.as_str().is_some_and(|t| values.contains(&t)),
            Ref(_) => value.as_str().is_some_and(is_id),
            RefList(_) => value
                .as_array()
                .is_some_and(|items| items.iter().all(|i| i.as_str().is_some_and(is_id))),
        }
    }

    /// Reads a command-line VALUE by the field's type: numbers, booleans and lists as
    /// JSON, everything else as written. An empty VALUE clears the field (JSON null).
    pub fn parse_text(&self, text: &str) -> Option<Value> {
        if text.is_empty() {
            return Some(Value::Null);
        }
        match self {
            FieldType::Number { .. } | Bool | TextList | RefList(_) => {
                serde_json::from_str(text).ok()
            }
            _ => Some(Value::String(text.to_owned())),
        }
    }
}

fn is_id(text: &str) -> bool {
    text.parse::<sync_protocol::RecordId>().is_ok()
}

/// `YYYY-MM-DD`, a real calendar date.
pub fn is_date(text: &str) -> bool {
    sync_protocol::dates::parse_date(text).is_some()
}

/// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
pub fn is_approx_date(text: &str) -> bool {
    let year = |t: &str| t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit());
    match text.len() {
        4 => year(text),
        7 => {
            year(&text[..4])
                && text.as_bytes()[4] == b'-'
                && text[5..]
                    .parse::<u8>()
                    .is_ok_and(|m| (1..=12).contains(&m) && text[5..].len() == 2)
        }
        10 => is_date(text),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::*;
    use serde_json::json;

    #[test]
    fn approximate_birth_dates() {
        for good in ["1991", "1991-04", "1991-04-30"] {
            assert!(is_approx_date(good), "{good} should be accepted");
        }
        for bad in [
            "91",
            "1991-4",
            "1991-13",
            "1991-02-30",
            "1991/04",
            "abcd",
            "1991-04-3",
        ] {
            assert!(!is_approx_date(bad), "{bad} should be refused");
        }
    }

    #[test]
    fn parse_text_reads_by_type() {
        assert_eq!(Text.parse_text("Ștefan"), Some(json!("Ștefan")));
        assert_eq!(Bool.parse_text("true"), Some(json!(true)));
        assert_eq!(Bool.parse_text("yes"), None);
        assert_eq!(TextList.parse_text("[\"ro\"]"), Some(json!(["ro"])));
        assert_eq!(Text.parse_text(""), Some(Value::Null));
    }

    fn sample(ty: FieldType) -> Value {
        match ty {
            Text => json!("t"),
            Date => json!("2026-11-02"),
            ApproxDate => json!("1991"),
            DateTime => json!("2026-11-02T10:00:00Z"),
            FieldType::Number { min, .. } => json!(min),
            Bool => json!(true),
            Country => json!("RO"),
            TextList => json!(["a"]),
            Choice(values) => json!(values[0]),
            Ref(_) => json!("5b0e4f7e-2f3a-4d8c-9a3e-0c1d2e3f4a5b"),
            RefList(_) => json!(["5b0e4f7e-2f3a-4d8c-9a3e-0c1d2e3f4a5b"]),
        }
    }

    fn sample_of(field: &FieldSpec) -> Value {
        match (field.ty, field.form) {
            (_, Some(TextForm::Email)) => json!("ana@example.org"),
            (_, Some(TextForm::Sha256)) => json!("ab".repeat(32)),
            (FieldType::Number { min, .. }, _) if field.whole => json!(min as u64),
            (ty, _) => sample(ty),
        }
    }

    fn check<R: Record>() {
        let spec = kind(R::KIND).unwrap();
        let object: serde_json::Map<String, Value> = spec
            .fields
            .iter()
            .map(|f| (f.name.to_owned(), sample_of(f)))
            .collect();
        for f in spec.fields {
            assert!(f.accepts(&sample_of(f)), "sample of {}.{}", R::KIND, f.name);
        }
        let typed: R = serde_json::from_value(Value::Object(object.clone()))
            .unwrap_or_else(|e| panic!("{} does not read its schema: {e}", R::KIND));
        let back = serde_json::to_value(&typed).unwrap();
        assert_eq!(
            back,
            Value::Object(object),
            "the struct of {} must have exactly the schema's fields",
            R::KIND
        );
    }

    #[test]
    fn typed_structs_match_the_schema() {
        check::<Site>();
        check::<Household>();
        check::<Person>();
        check::<Situation>();
        check::<Stay>();
        check::<Visit>();
        check::<Step>();
        check::<Employment>();
        check::<Training>();
        check::<Referral>();
        check::<Cv>();
        check::<Attachment>();
        check::<OrganisationSettings>();
        assert_eq!(
            KINDS.len(),
            13,
            "the ten kinds of DOMAIN.md v1, the CV, attachments and the organisation's settings"
        );
    }

    #[test]
    fn an_email_is_checked_loosely() {
        let spec = kind("person").unwrap().field("email").unwrap();
        for good in ["ana@example.org", "a.b+cv@x", "ștefan@exemplu.ro"] {
            assert!(spec.accepts(&json!(good)), "{good} should be accepted");
        }
        for bad in [
            json!("ana.example.org"),
            json!("ana@@example.org"),
            json!("a@b@c"),
            json!("@example.org"),
            json!("ana@"),
            json!("ana @example.org"),
            json!("ana@example.org\n"),
            json!(["ana@example.org"]),
        ] {
            assert!(!spec.accepts(&bad), "{bad} should be refused");
        }
        assert!(
            spec.expected().contains("one @, no spaces"),
            "the message says the rule"
        );
    }

    #[test]
    fn retention_is_a_whole_number_of_months_from_1_to_240() {
        let spec = kind("organisation")
            .unwrap()
            .field("retention_months")
            .unwrap();
        for good in [json!(1), json!(24), json!(240)] {
            assert!(spec.accepts(&good), "{good} months should be accepted");
        }
        for bad in [
            json!(0),
            json!(241),
            json!(24.5),
            json!(24.0),
            json!("24"),
            json!(-3),
        ] {
            assert!(!spec.accepts(&bad), "{bad} should be refused");
        }
        assert_eq!(spec.expected(), "a whole number from 1 to 240");
        let hours = kind("employment").unwrap().field("hours_per_week").unwrap();
        assert!(
            hours.accepts(&json!(17.5)),
            "other numbers keep their decimals"
        );
    }
}
