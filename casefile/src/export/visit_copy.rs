//! A person's own copy of a visit ([`CaseFile::visit_copy`]) and an appointment slip for
//! one of their steps ([`CaseFile::step_slip`]), in French and, side by side, in Romanian
//! or Bulgarian ([`CopyLang`], chosen from the person's `languages` unless given).
//!
//! A copy is one person's: a group visit never shows one person another's steps or name.
//! It holds the visit's date and place, the steps decided at it for that person alone
//! (steps whose every `person_id` entry names them), what was decided only when the visit
//! met that person alone, the next visit, and how to reach the counsellors. Never the
//! observations, which may speak of others, nor a step's notes, which are the
//! counsellor's own. What the counsellor wrote (titles, decisions, place names) prints as
//! written, the same in both columns; the labels and the step categories are translated
//! (`bilingual.rs`). Dates come as `dd/mm/yyyy`; the renderer prints them as `dd.mm.yyyy` in the Romanian or Bulgarian column.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use serde_json::Value;
use sync_protocol::{RecordId, RecordState};
use tracing::info_span;

use super::bilingual::{self, Bilingual, BilingualField, CopyLang, Phrase};
use super::cv::{PersonTable, every, list};
use super::{TimeZone, french_date, person_name, refs, text, values};
use crate::error::{Error, Result};
use crate::organisation::Organisation;
use crate::store::CaseFile;

/// What a person's copy of a visit prints, every value as printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VisitCopy {
    /// The language beside French.
    pub lang: CopyLang,
    /// The organisation's name.
    pub org: String,
    /// The day the copy was made, `dd/mm/yyyy`.
    pub printed_on: String,
    /// The paper's title.
    pub title: Bilingual,
    /// Whose copy it is: the person's name.
    pub person: BilingualField,
    /// The day of the visit, in the organisation's time zone.
    pub date: BilingualField,
    /// Where it took place: the site's name and commune; empty when the visit names no
    /// site.
    pub place: BilingualField,
    /// The heading of the steps.
    pub steps_heading: Bilingual,
    /// The column labels of the steps: the step, its category, its due date.
    pub step_columns: [Bilingual; 3],
    /// The steps decided at the visit for this person, by due date (cancelled ones left
    /// out).
    pub steps: Vec<CopyStep>,
    /// What to print when there is no step.
    pub no_steps: Bilingual,
    /// What was decided, as the counsellor wrote it: only when the visit met this person
    /// alone (a group visit's decisions may speak of others).
    pub decisions: Option<BilingualField>,
    /// The day of the next visit, or "to be set".
    pub next_visit: BilingualField,
    /// The counsellors listed on the visit.
    pub counsellors: BilingualField,
    /// How to reach the organisation (its address and contact, one a line).
    pub contact: BilingualField,
}

/// A step on a person's copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopyStep {
    /// What is to be done, as the counsellor wrote it.
    pub title: String,
    /// Its category, translated.
    pub category: Bilingual,
    /// When it is due, `dd/mm/yyyy`; empty when it has no due date.
    pub due_on: String,
}

/// What an appointment slip for a step prints. The place, the time, whom to see and
/// what to bring are not fields of a step: the slip leaves them empty, to be written by
/// hand, unless the category names whom to see (France Travail, a social worker).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slip {
    /// The language beside French.
    pub lang: CopyLang,
    /// The organisation's name.
    pub org: String,
    /// The slip's title.
    pub title: Bilingual,
    /// Whose appointment it is: the person's name.
    pub person: BilingualField,
    /// What: the step's title, as the counsellor wrote it.
    pub what: BilingualField,
    /// The step's category, translated.
    pub category: BilingualField,
    /// When: the step's due date, or "to be set".
    pub when: BilingualField,
    /// At what time: to fill by hand.
    pub time: BilingualField,
    /// Where: to fill by hand.
    pub place: BilingualField,
    /// With whom: from the category when it names it, else to fill by hand.
    pub with_whom: BilingualField,
    /// What to bring: to fill by hand.
    pub bring: BilingualField,
    /// How to reach the organisation (its address and contact, one a line).
    pub contact: BilingualField,
}

impl CaseFile {
    /// The copy of `visit` for `person`, in French and in `lang` (when `None`: Romanian
    /// or Bulgarian, whichever the person's `languages` name first).
    ///
    /// Errors: [`Error::NotFound`]; [`Error::Invalid`] naming `visit_id` when the record
    /// is not a visit, `person_id` when it is not a person or the visit did not meet
    /// them, and `lang` when none is given and the person's languages name neither
    /// Romanian nor Bulgarian.
    pub fn visit_copy(
        &self,
        visit: RecordId,
        person: RecordId,
        lang: Option<CopyLang>,
    ) -> Result<VisitCopy> {
        let _span = info_span!("casefile.visit_copy", %visit).entered();
        let state = self.get(visit)?;
        if state.kind().as_str() != "visit" {
            return Err(Error::invalid("visit_id", "the id of a visit"));
        }
        // Read through tombstones: the visit may have met a file since merged.
        let person = self.survivor(person)?;
        let who = self.person_record(person)?;
        let met = refs(&state, "person_ids")
            .into_iter()
            .map(|p| self.survivor(p))
            .collect::<Result<Vec<_>>>()?;
        if !met.contains(&person) {
            return Err(Error::invalid(
                "person_id",
                "a person met at this visit (one of its person_ids)",
            ));
        }
        let lang = copy_lang(&who, lang)?;
        let zone = self.time_zone()?;
        let org = self.organisation()?;

        let mut steps: Vec<RecordState> = self
            .about_person(PersonTable::Step, person)?
            .into_iter()
            .filter(|s| refs(s, "visit_id").contains(&visit))
            .filter(|s| !every(s, "status", |v| v == "cancelled"))
            .collect();
        steps.sort_by_key(|s| {
            let due = text(s, "due_on");
            (due.is_empty(), due, s.id())
        });
        let steps = steps
            .iter()
            .map(|s| CopyStep {
                title: text(s, "title"),
                category: categories(s, lang),
                due_on: dates(s, "due_on"),
            })
            .collect();

        let mut places = Vec::new();
        for site in refs(&state, "site_id") {
            if let Some(site) = self.state_if_any(site)? {
                let (name, commune) = (text(&site, "name"), text(&site, "commune"));
                places.push(if commune.is_empty() {
                    name
                } else {
                    format!("{name} ({commune})")
                });
            }
        }
        let decisions = text(&state, "decisions");
        let decisions = (met == [person] && !decisions.trim().is_empty())
            .then(|| BilingualField::new(Phrase::Decisions, lang, Bilingual::same(decisions)));
        let day = values(&state, "occurred_at")
            .into_iter()
            .filter_map(Value::as_str)
            .map(|t| local_day(t, zone))
            .collect::<Vec<_>>()
            .join(" / ");

        Ok(VisitCopy {
            lang,
            org: org_name(&org),
            printed_on: today(zone),
            title: Phrase::CopyTitle.bilingual(lang),
            person: BilingualField::new(Phrase::For, lang, Bilingual::same(person_name(&who))),
            date: BilingualField::new(Phrase::VisitDate, lang, Bilingual::same(day)),
            place: BilingualField::new(Phrase::Place, lang, Bilingual::same(places.join(" / "))),
            steps_heading: Phrase::StepsDecided.bilingual(lang),
            step_columns: [
                Phrase::Step.bilingual(lang),
                Phrase::Category.bilingual(lang),
                Phrase::DueOn.bilingual(lang),
            ],
            steps,
            no_steps: Phrase::NoSteps.bilingual(lang),
            decisions,
            next_visit: BilingualField::new(
                Phrase::NextVisit,
                lang,
                date_or_to_be_set(&state, "next_visit_on", lang),
            ),
            counsellors: BilingualField::new(
                Phrase::YourCounsellor,
                lang,
                Bilingual::same(list(&state, "counsellors").join(", ")),
            ),
            contact: BilingualField::new(Phrase::Contact, lang, Bilingual::same(contact(&org))),
        })
    }

    /// An appointment slip for `step`, in French and in `lang` (when `None`: Romanian or
    /// Bulgarian, whichever the languages of the step's person name first).
    ///
    /// Errors: [`Error::NotFound`]; [`Error::Invalid`] naming `step_id` when the record
    /// is not a step, `person_id` when the step is not about one person (its person in
    /// conflict: resolve it first), and `lang` as for [`CaseFile::visit_copy`].
    pub fn step_slip(&self, step: RecordId, lang: Option<CopyLang>) -> Result<Slip> {
        let _span = info_span!("casefile.step_slip", %step).entered();
        let state = self.get(step)?;
        if state.kind().as_str() != "step" {
            return Err(Error::invalid("step_id", "the id of a step"));
        }
        let persons = refs(&state, "person_id");
        let [person] = persons.as_slice() else {
            return Err(Error::invalid(
                "person_id",
                "one person: the step's person is in conflict, resolve it first",
            ));
        };
        let who = self.person_record(*person)?;
        let lang = copy_lang(&who, lang)?;
        let org = self.organisation()?;
        let category = categories(&state, lang);
        let with_whom = match values(&state, "category").as_slice() {
            [only] if *only == "france_travail" || *only == "social_worker" => category.clone(),
            _ => Bilingual::same(""),
        };
        let blank = || Bilingual::same("");
        Ok(Slip {
            lang,
            org: org_name(&org),
            title: Phrase::SlipTitle.bilingual(lang),
            person: BilingualField::new(Phrase::For, lang, Bilingual::same(person_name(&who))),
            what: BilingualField::new(Phrase::What, lang, Bilingual::same(text(&state, "title"))),
            category: BilingualField::new(Phrase::Category, lang, category),
            when: BilingualField::new(
                Phrase::When,
                lang,
                date_or_to_be_set(&state, "due_on", lang),
            ),
            time: BilingualField::new(Phrase::Time, lang, blank()),
            place: BilingualField::new(Phrase::Where, lang, blank()),
            with_whom: BilingualField::new(Phrase::WithWhom, lang, with_whom),
            bring: BilingualField::new(Phrase::Bring, lang, blank()),
            contact: BilingualField::new(Phrase::Contact, lang, Bilingual::same(contact(&org))),
        })
    }
}

/// `lang`, else the first of Romanian and Bulgarian the person's languages name.
fn copy_lang(person: &RecordState, lang: Option<CopyLang>) -> Result<CopyLang> {
    if let Some(lang) = lang {
        return Ok(lang);
    }
    let languages = list(person, "languages");
    CopyLang::from_languages(languages.iter().map(String::as_str)).ok_or_else(|| {
        Error::invalid(
            "lang",
            "ro (Romanian) or bg (Bulgarian): the person's languages name neither, so say which",
        )
    })
}

/// A step's category translated (every value, in a conflict, joined with ` / `).
fn categories(step: &RecordState, lang: CopyLang) -> Bilingual {
    let each: Vec<Bilingual> = values(step, "category")
        .into_iter()
        .filter_map(Value::as_str)
        .map(|c| bilingual::category(c, lang))
        .collect();
    Bilingual {
        fr: each
            .iter()
            .map(|b| b.fr.as_str())
            .collect::<Vec<_>>()
            .join(" / "),
        other: each
            .iter()
            .map(|b| b.other.as_str())
            .collect::<Vec<_>>()
            .join(" / "),
    }
}

/// A date field as `dd/mm/yyyy` (every value, in a conflict, joined with ` / `).
fn dates(state: &RecordState, field: &str) -> String {
    values(state, field)
        .into_iter()
        .filter_map(Value::as_str)
        .map(french_date)
        .collect::<Vec<_>>()
        .join(" / ")
}

fn date_or_to_be_set(state: &RecordState, field: &str, lang: CopyLang) -> Bilingual {
    let day = dates(state, field);
    if day.is_empty() {
        Phrase::ToBeSet.bilingual(lang)
    } else {
        Bilingual::same(day)
    }
}

/// The local day of an RFC 3339 time, `dd/mm/yyyy`; anything else as written.
fn local_day(text: &str, zone: TimeZone) -> String {
    match sync_protocol::dates::parse_rfc3339(text) {
        Some(at) => day_text(zone.local_date(at)),
        None => text.to_owned(),
    }
}

fn day_text(day: NaiveDate) -> String {
    format!("{:02}/{:02}/{:04}", day.day(), day.month(), day.year())
}

fn today(zone: TimeZone) -> String {
    day_text(zone.local_date(chrono::Utc::now()))
}

fn org_name(org: &Organisation) -> String {
    org.name.clone().unwrap_or_else(|| "Passerelle".to_owned())
}

/// The organisation's address and contact, one a line.
fn contact(org: &Organisation) -> String {
    [&org.address, &org.contact]
        .into_iter()
        .flatten()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}
