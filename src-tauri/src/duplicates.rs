//! One person, one file: the commands of possible duplicates, each a few lines over
//! `casefile` (whose `duplicates` and `names` modules hold every rule).
//!
//! - [`candidates`]: while a person is being entered, the persons already in the file who
//!   may be them, best first, each with why;
//! - [`duplicates`]: the possible duplicates of the whole file, or of one person, best
//!   first;
//! - [`not_duplicates`]: a pair marked "not the same person" (it syncs, and the pair is
//!   not proposed again);
//! - [`merge_preview`] and [`merge_persons`]: the two files side by side, field by field,
//!   then the merge itself: the file that stays takes the values the counsellor chose,
//!   the other is read as it from then on.

use std::collections::{BTreeMap, HashMap};

use casefile::CaseFile;
use casefile::names::Reason;
use casefile::sync_protocol::{RecordId, RecordState};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use specta::Type;
use tauri::State;

use crate::error::{AppError, AppResult};
use crate::state::Vault;
use crate::view::{self, RecordView, record_id};

/// Candidates shown at most while a person is being entered.
const CANDIDATE_LIMIT: usize = 5;
/// Pairs the duplicates screen shows at most (the best ones), with their full count.
const PAIR_LIMIT: usize = 200;
const PERSON: &str = "person";

/// Why two persons may be one, in the order a person reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum ReasonView {
    /// The names are the same once folded (case, diacritics and alphabet aside).
    SameName,
    /// A name is spelled closely.
    NameSpelling,
    /// A name sounds the same.
    NameSound,
    /// A name of one is an alias of the other.
    Alias,
    /// Birth years at most two years apart.
    BirthYear,
    /// The same household.
    Household,
    /// The same site.
    Site,
    /// A phone number in common.
    Phone,
}

impl From<Reason> for ReasonView {
    fn from(reason: Reason) -> Self {
        match reason {
            Reason::SameName => Self::SameName,
            Reason::NameSpelling => Self::NameSpelling,
            Reason::NameSound => Self::NameSound,
            Reason::Alias => Self::Alias,
            Reason::BirthYear => Self::BirthYear,
            Reason::Household => Self::Household,
            Reason::Site => Self::Site,
            Reason::Phone => Self::Phone,
        }
    }
}

fn reasons(list: &[Reason]) -> Vec<ReasonView> {
    list.iter().copied().map(ReasonView::from).collect()
}

/// A person who may be the one being entered.
#[derive(Debug, Clone, Serialize, Type)]
pub struct CandidateView {
    /// The person.
    pub person: RecordView,
    /// How alike, from 0 to 100.
    pub score: u32,
    /// Why.
    pub reasons: Vec<ReasonView>,
}

/// Two persons who may be one.
#[derive(Debug, Clone, Serialize, Type)]
pub struct DuplicatePairView {
    /// The one with the smaller id.
    pub a: RecordView,
    /// The other.
    pub b: RecordView,
    /// How alike, from 0 to 100.
    pub score: u32,
    /// Why.
    pub reasons: Vec<ReasonView>,
}

/// Possible duplicates, best first, cut to a length the screen shows, with their count.
#[derive(Debug, Clone, Serialize, Type)]
pub struct DuplicatesView {
    /// The pairs shown.
    pub pairs: Vec<DuplicatePairView>,
    /// How many pairs there are in all.
    pub total: u32,
}

/// One field of two persons side by side: the value each file shows.
#[derive(Debug, Clone, Serialize, Type)]
pub struct MergeFieldView {
    /// The field.
    pub field: String,
    /// The first person's value, if any.
    pub a: Option<Value>,
    /// The second person's value, if any.
    pub b: Option<Value>,
    /// Whether the values differ (the counsellor chooses which one the file keeps).
    pub differs: bool,
}

/// Two persons side by side, before a merge.
#[derive(Debug, Clone, Serialize, Type)]
pub struct MergePreviewView {
    /// The first person.
    pub a: RecordView,
    /// The second person.
    pub b: RecordView,
    /// The fields either holds, in the form's reading order.
    pub fields: Vec<MergeFieldView>,
    /// How alike they are, when the comparison finds them alike (absent for a pair
    /// marked "not the same person", or whose names are not alike).
    pub score: Option<u32>,
    /// Why.
    pub reasons: Vec<ReasonView>,
}

/// The persons already in the file who may be the person being entered (`fields` as
/// `create` takes them: names, aliases, birth date, phone, household, site), best first.
#[tauri::command]
#[specta::specta]
pub async fn candidates(
    vault: State<'_, Vault>,
    fields: BTreeMap<String, Value>,
) -> AppResult<Vec<CandidateView>> {
    candidates_in(&vault, fields).await
}

async fn candidates_in(
    vault: &Vault,
    fields: BTreeMap<String, Value>,
) -> AppResult<Vec<CandidateView>> {
    vault
        .with(move |file| {
            Ok(file
                .candidates(&view::changes(fields), CANDIDATE_LIMIT)?
                .iter()
                .map(|c| CandidateView {
                    person: RecordView::from(&c.person),
                    score: c.score,
                    reasons: reasons(&c.reasons),
                })
                .collect())
        })
        .await
}

/// Possible duplicate persons, best first: of the person `of`, or of the whole file.
/// Pairs marked "not the same person" and persons merged into another are left out.
#[tauri::command]
#[specta::specta]
pub async fn duplicates(vault: State<'_, Vault>, of: Option<String>) -> AppResult<DuplicatesView> {
    duplicates_in(&vault, of).await
}

async fn duplicates_in(vault: &Vault, of: Option<String>) -> AppResult<DuplicatesView> {
    let of = of.as_deref().map(record_id).transpose()?;
    vault
        .with(move |file| {
            let found = file.duplicates(of)?;
            let total = u32::try_from(found.len()).unwrap_or(u32::MAX);
            let mut states: HashMap<RecordId, RecordView> = HashMap::new();
            let mut pairs = Vec::with_capacity(found.len().min(PAIR_LIMIT));
            for pair in found.into_iter().take(PAIR_LIMIT) {
                pairs.push(DuplicatePairView {
                    a: cached(file, &mut states, pair.a)?,
                    b: cached(file, &mut states, pair.b)?,
                    score: pair.score,
                    reasons: reasons(&pair.reasons),
                });
            }
            Ok(DuplicatesView { pairs, total })
        })
        .await
}

/// The view of `id`, read once per answer.
fn cached(
    file: &CaseFile,
    views: &mut HashMap<RecordId, RecordView>,
    id: RecordId,
) -> AppResult<RecordView> {
    if let Some(view) = views.get(&id) {
        return Ok(view.clone());
    }
    let view = RecordView::from(&file.get(id)?);
    views.insert(id, view.clone());
    Ok(view)
}

/// Records that `a` and `b` are different people: the pair is no longer proposed, here
/// or on any device once synced.
#[tauri::command]
#[specta::specta]
pub async fn not_duplicates(vault: State<'_, Vault>, a: String, b: String) -> AppResult<()> {
    not_duplicates_in(&vault, a, b).await
}

async fn not_duplicates_in(vault: &Vault, a: String, b: String) -> AppResult<()> {
    let (a, b) = (record_id(&a)?, record_id(&b)?);
    vault
        .with(move |file| Ok(file.mark_not_duplicates(a, b)?))
        .await
}

/// The persons `a` and `b` side by side, field by field, before a merge.
#[tauri::command]
#[specta::specta]
pub async fn merge_preview(
    vault: State<'_, Vault>,
    a: String,
    b: String,
) -> AppResult<MergePreviewView> {
    merge_preview_in(&vault, a, b).await
}

async fn merge_preview_in(vault: &Vault, a: String, b: String) -> AppResult<MergePreviewView> {
    let (a, b) = (record_id(&a)?, record_id(&b)?);
    if a == b {
        return Err(AppError::invalid("b", "another person than the first"));
    }
    vault
        .with(move |file| {
            let (first, second) = (mergeable(file, a, "a")?, mergeable(file, b, "b")?);
            let likeness = file
                .duplicates(Some(a))?
                .into_iter()
                .find(|p| (p.a == a && p.b == b) || (p.a == b && p.b == a));
            let (first, second) = (RecordView::from(&first), RecordView::from(&second));
            Ok(MergePreviewView {
                fields: side_by_side(&first, &second),
                score: likeness.as_ref().map(|l| l.score),
                reasons: likeness.map(|l| reasons(&l.reasons)).unwrap_or_default(),
                a: first,
                b: second,
            })
        })
        .await
}

/// A person that can take part in a merge: held, not deleted, not merged into another.
fn mergeable(file: &CaseFile, id: RecordId, field: &str) -> AppResult<RecordState> {
    let state = file.get(id)?;
    if state.kind().as_str() != PERSON {
        return Err(AppError::invalid(field, "the id of a person"));
    }
    if state.is_deleted() {
        return Err(casefile::Error::Deleted(id).into());
    }
    if file.survivor(id)? != id {
        return Err(AppError::invalid(
            field,
            "a person not merged into another already",
        ));
    }
    Ok(state)
}

/// The fields either person holds, in the schema's reading order (then any extension
/// field), each with both values.
fn side_by_side(a: &RecordView, b: &RecordView) -> Vec<MergeFieldView> {
    let mut names: Vec<String> = casefile::schema::kind(PERSON)
        .map(|spec| spec.fields.iter().map(|f| f.name.to_owned()).collect())
        .unwrap_or_default();
    for name in a.values.keys().chain(b.values.keys()) {
        if casefile::schema::is_extension(name) && !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
        .into_iter()
        .filter_map(|field| {
            let held = |v: &RecordView| v.values.get(&field).filter(|v| !v.is_null()).cloned();
            let (a, b) = (held(a), held(b));
            if a.is_none() && b.is_none() {
                return None;
            }
            Some(MergeFieldView {
                differs: a != b,
                field,
                a,
                b,
            })
        })
        .collect()
}

/// Merges the person `other` into `keep`: `keep` takes `set` (the values chosen from
/// `other`, or written anew; a null clears a field), `other` is read as `keep` from then
/// on (its visits, steps and all that names it show in `keep`'s file).
#[tauri::command]
#[specta::specta]
pub async fn merge_persons(
    vault: State<'_, Vault>,
    keep: String,
    other: String,
    set: BTreeMap<String, Value>,
) -> AppResult<()> {
    merge_persons_in(&vault, keep, other, set).await
}

async fn merge_persons_in(
    vault: &Vault,
    keep: String,
    other: String,
    set: BTreeMap<String, Value>,
) -> AppResult<()> {
    let (keep, other) = (record_id(&keep)?, record_id(&other)?);
    vault
        .with(move |file| Ok(file.merge_persons(keep, other, view::changes(set))?))
        .await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::view::TimelineView;

    fn person(vault: &Vault, fields: Value) -> String {
        let Value::Object(fields) = fields else {
            panic!("fields are an object")
        };
        tauri::async_runtime::block_on(vault.with(move |file| {
            Ok(file
                .create("person", fields.into_iter().collect())?
                .to_string())
        }))
        .unwrap()
    }

    fn fields(value: Value) -> BTreeMap<String, Value> {
        let Value::Object(fields) = value else {
            panic!("fields are an object")
        };
        fields.into_iter().collect()
    }

    fn block<T>(f: impl std::future::Future<Output = T>) -> T {
        tauri::async_runtime::block_on(f)
    }

    #[test]
    fn a_person_being_entered_finds_the_one_already_there_by_another_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::state::open_test_vault(dir.path());
        let stefan = person(
            &vault,
            json!({"family_name": "Lăcătuș", "given_names": "Ștefan", "birth_date": "1991"}),
        );
        person(
            &vault,
            json!({"family_name": "Ivanova", "given_names": "Maria"}),
        );

        let found = block(candidates_in(
            &vault,
            fields(json!({"family_name": "Lacatush", "given_names": "Stefan", "birth_date": "1991-03"})),
        ))
        .unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].person.id, stefan);
        assert!(
            found[0].score >= 40 && found[0].score <= 100,
            "{}",
            found[0].score
        );
        assert!(
            found[0].reasons.contains(&ReasonView::NameSound),
            "{:?}",
            found[0].reasons
        );
        assert!(
            found[0].reasons.contains(&ReasonView::BirthYear),
            "{:?}",
            found[0].reasons
        );
        let json = serde_json::to_value(&found[0]).unwrap();
        assert_eq!(json["person"]["values"]["family_name"], "Lăcătuș", "{json}");
        let words: Vec<&str> = json["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert!(
            words.contains(&"name_sound") && words.contains(&"birth_year"),
            "the UI reads snake_case: {json}"
        );

        // Nothing typed yet, or a name of nobody: no candidate.
        assert!(
            block(candidates_in(&vault, BTreeMap::new()))
                .unwrap()
                .is_empty()
        );
        let nobody = block(candidates_in(
            &vault,
            fields(json!({"family_name": "Zamfir"})),
        ))
        .unwrap();
        assert!(nobody.is_empty(), "{nobody:?}");
    }

    #[test]
    fn every_reason_has_its_snake_case_name() {
        let all = [
            (Reason::SameName, "same_name"),
            (Reason::NameSpelling, "name_spelling"),
            (Reason::NameSound, "name_sound"),
            (Reason::Alias, "alias"),
            (Reason::BirthYear, "birth_year"),
            (Reason::Household, "household"),
            (Reason::Site, "site"),
            (Reason::Phone, "phone"),
        ];
        for (reason, name) in all {
            assert_eq!(serde_json::to_value(reason).unwrap(), json!(name));
            assert_eq!(
                serde_json::to_value(ReasonView::from(reason)).unwrap(),
                json!(name),
                "the view speaks as the case file does"
            );
        }
    }

    #[test]
    fn a_pair_marked_not_the_same_person_leaves_and_a_merge_makes_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::state::open_test_vault(dir.path());
        let stefan = person(
            &vault,
            json!({"family_name": "Lăcătuș", "given_names": "Ștefan", "birth_date": "1991",
                   "phone": "06 12 34 56 78"}),
        );
        let again = person(
            &vault,
            json!({"family_name": "Lacatush", "given_names": "Stefan", "birth_date": "1991-03",
                   "email": "s.lacatus@example.org"}),
        );
        let georgi = person(
            &vault,
            json!({"family_name": "Petrov", "given_names": "Georgi", "birth_date": "1980"}),
        );
        let namesake = person(
            &vault,
            json!({"family_name": "Petrov", "given_names": "Georgi", "birth_date": "1982"}),
        );

        let all = block(duplicates_in(&vault, None)).unwrap();
        assert_eq!(all.total, 2, "{all:?}");
        let ids = |v: &DuplicatesView| -> Vec<(String, String)> {
            v.pairs
                .iter()
                .map(|p| (p.a.id.clone(), p.b.id.clone()))
                .collect()
        };
        let ordered = |x: &str, y: &str| {
            if x < y {
                (x.to_owned(), y.to_owned())
            } else {
                (y.to_owned(), x.to_owned())
            }
        };
        assert!(
            ids(&all).contains(&ordered(&stefan, &again)),
            "{:?}",
            ids(&all)
        );
        assert!(
            ids(&all).contains(&ordered(&georgi, &namesake)),
            "{:?}",
            ids(&all)
        );
        assert!(all.pairs[0].score >= all.pairs[1].score, "best first");
        let json = serde_json::to_value(&all).unwrap();
        for key in ["a", "b", "score", "reasons"] {
            assert!(
                json["pairs"][0].get(key).is_some(),
                "the UI reads {key}: {json}"
            );
        }

        // Of one person: only their pairs.
        let of = block(duplicates_in(&vault, Some(stefan.clone()))).unwrap();
        assert_eq!(ids(&of), [ordered(&stefan, &again)]);

        // Namesakes: not the same person, the pair leaves.
        block(not_duplicates_in(&vault, namesake.clone(), georgi.clone())).unwrap();
        let left = block(duplicates_in(&vault, None)).unwrap();
        assert_eq!(ids(&left), [ordered(&stefan, &again)]);
        assert_eq!(left.total, 1);

        // Side by side: each field either holds, the differing ones marked.
        let preview = block(merge_preview_in(&vault, stefan.clone(), again.clone())).unwrap();
        assert_eq!(preview.a.id, stefan);
        let field = |name: &str| preview.fields.iter().find(|f| f.field == name).unwrap();
        assert!(field("family_name").differs);
        assert_eq!(field("birth_date").a, Some(json!("1991")));
        assert_eq!(field("birth_date").b, Some(json!("1991-03")));
        assert_eq!(field("email").a, None);
        assert!(
            field("status").a.is_some() && !field("status").differs,
            "both active"
        );
        assert!(
            preview
                .fields
                .iter()
                .all(|f| f.field != "merged_into" && f.field != "sex"),
            "only the fields either holds: {:?}",
            preview.fields
        );
        assert!(preview.score.is_some() && !preview.reasons.is_empty());

        // The merge: Ștefan stays, with the birth date and e-mail of the other file.
        block(merge_persons_in(
            &vault,
            stefan.clone(),
            again.clone(),
            fields(json!({"birth_date": "1991-03", "email": "s.lacatus@example.org"})),
        ))
        .unwrap();
        let (kept, merged, timeline, found, left) = block(vault.with({
            let (stefan, again) = (stefan.clone(), again.clone());
            move |file| {
                let (stefan, again) = (record_id(&stefan)?, record_id(&again)?);
                Ok((
                    file.get(stefan)?,
                    file.get(again)?,
                    TimelineView::from(&file.timeline(stefan)?),
                    file.search("lacatus", 10)?,
                    file.duplicates(None)?,
                ))
            }
        }))
        .unwrap();
        assert_eq!(kept.entries("birth_date")[0].value, json!("1991-03"));
        assert_eq!(
            kept.entries("email")[0].value,
            json!("s.lacatus@example.org")
        );
        assert_eq!(
            kept.entries("phone")[0].value,
            json!("06 12 34 56 78"),
            "kept"
        );
        assert_eq!(merged.entries("merged_into")[0].value, json!(stefan));
        assert_eq!(timeline.merged.len(), 1);
        assert_eq!(timeline.merged[0].id, again);
        assert_eq!(found.len(), 1, "one file left to find");
        assert!(left.is_empty(), "{left:?}");

        // The merged-away file cannot be merged, or shown for a merge, again.
        let twice = block(merge_persons_in(
            &vault,
            stefan.clone(),
            again.clone(),
            BTreeMap::new(),
        ));
        assert!(matches!(twice, Err(AppError::Invalid { .. })), "{twice:?}");
        let shown = block(merge_preview_in(&vault, again.clone(), georgi.clone()));
        assert!(matches!(shown, Err(AppError::Invalid { .. })), "{shown:?}");
    }

    #[test]
    fn bad_ids_and_one_person_twice_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let vault = crate::state::open_test_vault(dir.path());
        let ion = person(&vault, json!({"family_name": "Popa", "given_names": "Ion"}));
        let same = block(merge_persons_in(
            &vault,
            ion.clone(),
            ion.clone(),
            BTreeMap::new(),
        ));
        assert!(matches!(same, Err(AppError::Invalid { .. })), "{same:?}");
        let same = block(merge_preview_in(&vault, ion.clone(), ion.clone()));
        assert!(matches!(same, Err(AppError::Invalid { .. })), "{same:?}");
        let same = block(not_duplicates_in(&vault, ion.clone(), ion.clone()));
        assert!(matches!(same, Err(AppError::Invalid { .. })), "{same:?}");
        let bad = block(not_duplicates_in(
            &vault,
            ion.clone(),
            "pas-un-id".to_owned(),
        ));
        assert!(matches!(bad, Err(AppError::Invalid { .. })), "{bad:?}");
        let bad = block(duplicates_in(&vault, Some("pas-un-id".to_owned())));
        assert!(matches!(bad, Err(AppError::Invalid { .. })), "{bad:?}");
        let unknown = block(merge_preview_in(
            &vault,
            ion.clone(),
            "0193a1f0-0000-7000-8000-0000000000ff".to_owned(),
        ));
        assert!(
            matches!(unknown, Err(AppError::NotFound { .. })),
            "{unknown:?}"
        );
        // A site is no person.
        let site = block(vault.with(|file| {
            Ok(file
                .create(
                    "site",
                    vec![("name".to_owned(), json!("Terrain de la Digue"))],
                )?
                .to_string())
        }))
        .unwrap();
        let not_a_person = block(merge_preview_in(&vault, ion, site));
        assert!(
            matches!(not_a_person, Err(AppError::Invalid { .. })),
            "{not_a_person:?}"
        );
    }
}
