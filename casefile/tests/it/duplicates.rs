//! One person, one file: candidates on entry, search across alphabets, the possible
//! duplicates of the file, "not the same person", and merges read through the
//! tombstone, on one case file and across several that exchange their states.

use std::collections::{BTreeMap, BTreeSet};

use casefile::sync_protocol::merges::{MERGED_INTO, NOT_DUPLICATES, merged_into};
use casefile::sync_protocol::{RecordId, RecordState, merge};
use casefile::{CaseFile, Error, Period, PersonFilter, TimeZone};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::common::*;

/// States exchanged through a hub, as the server would: `push` merges a device's states
/// into the hub, `pull` applies the hub's states to a device.
#[derive(Default)]
struct Hub(BTreeMap<RecordId, RecordState>);

impl Hub {
    fn push(&mut self, device: &CaseFile) {
        for state in device.all_states().unwrap() {
            let merged = match self.0.get(&state.id()) {
                Some(held) => merge(held, &state).unwrap(),
                None => state,
            };
            self.0.insert(merged.id(), merged);
        }
    }

    fn pull(&self, device: &mut CaseFile) {
        self.pull_in_pages(device, usize::MAX);
    }

    /// Pulls in pages of `size` states, in id order: a tombstone and the person it names
    /// may arrive in two pages.
    fn pull_in_pages(&self, device: &mut CaseFile, size: usize) {
        let all: Vec<RecordState> = self.0.values().cloned().collect();
        for page in all.chunks(size.max(1)) {
            device.apply_pulled(page, 0).unwrap();
        }
    }

    fn sync(&mut self, device: &mut CaseFile) {
        self.push(device);
        self.pull(device);
        // What the pull re-applied goes back at once.
        self.push(device);
    }
}

#[test]
fn a_merged_person_is_read_as_the_file_that_stays_everywhere() {
    let (_dir, mut file) = fresh();
    let keep = file
        .create(
            "person",
            fields(&[
                ("family_name", json!("Lăcătuș")),
                ("given_names", json!("Ștefan")),
                ("birth_date", json!("1987")),
            ]),
        )
        .unwrap();
    let other = file
        .create(
            "person",
            fields(&[
                ("family_name", json!("Lacatus")),
                ("given_names", json!("Stefane")),
                ("phone", json!("06 12 34 56 78")),
            ]),
        )
        .unwrap();
    let step = file
        .create(
            "step",
            fields(&[
                ("person_id", json!(other.to_string())),
                ("category", json!("job_search")),
                ("title", json!("Inscription agence intérim")),
                ("status", json!("planned")),
                ("due_on", json!("2026-11-20")),
            ]),
        )
        .unwrap();
    let visit = file
        .create(
            "visit",
            fields(&[
                ("occurred_at", json!("2026-11-10T09:00:00+01:00")),
                ("setting", json!("home_visit")),
                ("person_ids", json!([other.to_string(), keep.to_string()])),
            ]),
        )
        .unwrap();
    let november = Period::new("2026-11-01", "2026-11-30", TimeZone::EUROPE_PARIS).unwrap();
    assert_eq!(file.indicators(&november).unwrap().people_followed, 2);

    let pending_before = file.pending_push(1000).unwrap().len();
    let last = file.pending_push(1000).unwrap().last().unwrap().seq;
    file.mark_pushed(last).unwrap();
    file.merge_persons(keep, other, fields(&[("phone", json!("06 12 34 56 78"))]))
        .unwrap();
    let edited: Vec<RecordId> = file
        .pending_push(1000)
        .unwrap()
        .iter()
        .map(|p| p.state.id())
        .collect();
    assert_eq!(
        edited.iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([&keep, &other]),
        "a merge edits the two persons and no record that names them ({pending_before} before)"
    );
    let tombstone = file.get(other).unwrap();
    assert_eq!(merged_into(&tombstone), Some(keep));
    assert!(tombstone.conflicts().is_empty());
    assert_eq!(file.survivor(other).unwrap(), keep);
    assert_eq!(
        file.get(step).unwrap().value("person_id"),
        Some(&json!(other.to_string())),
        "references are never rewritten"
    );

    // Lists, search, timelines, counts and sheets read through the tombstone.
    let persons = file.list("person").unwrap();
    assert_eq!(
        persons.iter().map(RecordState::id).collect::<Vec<_>>(),
        [keep]
    );
    let active = file.persons(PersonFilter::Status("active")).unwrap();
    assert_eq!(
        active.iter().map(RecordState::id).collect::<Vec<_>>(),
        [keep]
    );
    for query in ["stefane", "lacatus", "06 12 34"] {
        let found = file.search(query, 10).unwrap();
        assert_eq!(
            found.iter().map(RecordState::id).collect::<Vec<_>>(),
            [keep],
            "{query} finds the file that stays, once"
        );
    }
    let timeline = file.timeline(keep).unwrap();
    let items: BTreeSet<RecordId> = timeline.items.iter().map(|i| i.state.id()).collect();
    assert_eq!(items, BTreeSet::from([step, visit]));
    assert_eq!(
        timeline
            .merged
            .iter()
            .map(RecordState::id)
            .collect::<Vec<_>>(),
        [other]
    );
    assert_eq!(file.timeline(other).unwrap().person.id(), keep);
    assert_eq!(file.indicators(&november).unwrap().people_followed, 1);
    let sheet = file.visit_sheet(visit).unwrap();
    assert_eq!(
        sheet.persons.len(),
        1,
        "two files of one person met: one line"
    );
    assert!(
        sheet.persons[0].name.contains("Lăcătuș"),
        "{:?}",
        sheet.persons[0].name
    );

    // The merged-away file takes no edit, and cannot be merged again.
    let refused = file.edit(other, fields(&[("notes", json!("x"))]));
    assert!(
        matches!(&refused, Err(Error::Invalid { field, .. }) if field == "id"),
        "{refused:?}"
    );
    let again = file.merge_persons(keep, other, Vec::new());
    assert!(
        matches!(&again, Err(Error::Invalid { field, .. }) if field == "other_id"),
        "{again:?}"
    );
    let itself = file.merge_persons(keep, keep, Vec::new());
    assert!(itself.is_err());
    // The merge fields are written by merge alone.
    let forged = file.edit(keep, fields(&[(MERGED_INTO, json!(other.to_string()))]));
    assert!(
        matches!(&forged, Err(Error::Invalid { field, .. }) if field == MERGED_INTO),
        "{forged:?}"
    );

    // A rebuild from the states alone reads the same.
    file.rebuild().unwrap();
    assert_eq!(file.survivor(other).unwrap(), keep);
    assert_eq!(file.list("person").unwrap().len(), 1);
}

#[test]
fn candidates_on_entry_find_other_spellings_best_first() {
    let (_dir, mut file) = fresh();
    let stefan = file
        .create(
            "person",
            fields(&[
                ("family_name", json!("Lăcătuș")),
                ("given_names", json!("Ștefan")),
                ("birth_date", json!("1987-04-02")),
            ]),
        )
        .unwrap();
    let petrov = person(&mut file, "Петров", "Георги");
    person(&mut file, "Popa", "Maria");
    let cases: [(&[(&str, Value)], RecordId); 3] = [
        (
            &[
                ("family_name", json!("Lacatus")),
                ("given_names", json!("Stefane")),
                ("birth_date", json!("1988")),
            ],
            stefan,
        ),
        (
            &[
                ("family_name", json!("Petrov")),
                ("given_names", json!("Georgi")),
            ],
            petrov,
        ),
        (
            // Names swapped.
            &[
                ("family_name", json!("Georgi")),
                ("given_names", json!("Petrov")),
            ],
            petrov,
        ),
    ];
    for (entered, expected) in cases {
        let found = file.candidates(&fields(entered), 5).unwrap();
        assert_eq!(
            found.first().map(|c| c.person.id()),
            Some(expected),
            "{entered:?}: {:?}",
            found
                .iter()
                .map(|c| (c.score, &c.reasons))
                .collect::<Vec<_>>()
        );
        assert!(!found[0].reasons.is_empty());
        assert!(
            found.windows(2).all(|w| w[0].score >= w[1].score),
            "best first"
        );
    }
    let nobody = file
        .candidates(&fields(&[("family_name", json!("Dumitrescu"))]), 5)
        .unwrap();
    assert!(nobody.is_empty(), "{:?}", nobody.len());
}

#[test]
fn search_finds_a_name_across_alphabets() {
    let (_dir, mut file) = fresh();
    let cyrillic = person(&mut file, "Петров", "Георги");
    let latin = person(&mut file, "Petrova", "Maria");
    let ids = |found: Vec<RecordState>| -> BTreeSet<RecordId> {
        found.iter().map(RecordState::id).collect()
    };
    assert!(ids(file.search("petrov", 10).unwrap()).contains(&cyrillic));
    assert_eq!(
        ids(file.search("Петрова", 10).unwrap()),
        BTreeSet::from([latin])
    );
    assert_eq!(
        ids(file.search("georgi", 10).unwrap()),
        BTreeSet::from([cyrillic])
    );
}

#[test]
fn a_pair_marked_not_the_same_person_leaves_the_list_and_marks_add_up() {
    let (_dir, mut file) = fresh();
    let a = file
        .create(
            "person",
            fields(&[
                ("family_name", json!("Popa")),
                ("given_names", json!("Ion")),
                ("birth_date", json!("1980")),
            ]),
        )
        .unwrap();
    let b = file
        .create(
            "person",
            fields(&[
                ("family_name", json!("Popa")),
                ("given_names", json!("Ioan")),
                ("birth_date", json!("1981")),
            ]),
        )
        .unwrap();
    let c = file
        .create(
            "person",
            fields(&[
                ("family_name", json!("Pop")),
                ("given_names", json!("Ion")),
                ("birth_date", json!("1980")),
            ]),
        )
        .unwrap();
    let pairs = file.duplicates(None).unwrap();
    let listed = |pairs: &[casefile::DuplicatePair], x: RecordId, y: RecordId| {
        pairs.iter().any(|p| p.a == x.min(y) && p.b == x.max(y))
    };
    assert!(listed(&pairs, a, b), "{pairs:?}");
    assert!(pairs.iter().all(|p| p.a < p.b && !p.reasons.is_empty()));
    assert!(
        pairs.windows(2).all(|w| w[0].score >= w[1].score),
        "best first"
    );
    let of_a = file.duplicates(Some(a)).unwrap();
    assert!(listed(&of_a, a, b), "{of_a:?}");

    // Two devices mark two pairs of the same person at once: both marks hold.
    let (_other_dir, mut other) = fresh();
    let mut hub = Hub::default();
    hub.sync(&mut file);
    hub.sync(&mut other);
    let mut ids = [a, b, c];
    ids.sort();
    let [first, second, third] = ids;
    file.mark_not_duplicates(second, first).unwrap();
    other.mark_not_duplicates(first, third).unwrap();
    let holder = file.get(first).unwrap();
    assert_eq!(
        holder.value(NOT_DUPLICATES),
        Some(&json!([second.to_string()])),
        "written on the smaller id's file"
    );
    assert!(!listed(&file.duplicates(None).unwrap(), first, second));
    assert!(!listed(
        &file.duplicates(Some(second)).unwrap(),
        first,
        second
    ));
    let vv = holder.vv().clone();
    file.mark_not_duplicates(first, second).unwrap();
    assert_eq!(
        file.get(first).unwrap().vv(),
        &vv,
        "marking again changes nothing"
    );
    assert!(file.mark_not_duplicates(a, a).is_err());

    hub.sync(&mut other);
    hub.sync(&mut file);
    hub.sync(&mut other);
    for device in [&file, &other] {
        let holder = device.get(first).unwrap();
        assert_eq!(
            holder.entries(NOT_DUPLICATES).len(),
            2,
            "made at once: two entries"
        );
        assert!(
            device.conflicts().unwrap().is_empty(),
            "marks are no conflict"
        );
        let pairs = device.duplicates(None).unwrap();
        assert!(
            !listed(&pairs, first, second) && !listed(&pairs, first, third),
            "{pairs:?}"
        );
    }
}

#[test]
fn opposite_merges_at_once_keep_the_smaller_id_on_every_device() {
    let (_d1, mut one) = fresh();
    let (_d2, mut two) = fresh();
    let a = person(&mut one, "Stoica", "Mihai");
    let b = person(&mut one, "Stoica", "Mihaï");
    let mut hub = Hub::default();
    hub.sync(&mut one);
    hub.sync(&mut two);
    one.merge_persons(a, b, fields(&[("given_names", json!("Mihai"))]))
        .unwrap();
    two.merge_persons(b, a, fields(&[("phone", json!("0700 000 001"))]))
        .unwrap();
    for _ in 0..2 {
        hub.sync(&mut one);
        hub.sync(&mut two);
    }
    let stays = a.min(b);
    for device in [&one, &two] {
        assert_eq!(device.survivor(a).unwrap(), stays);
        assert_eq!(device.survivor(b).unwrap(), stays);
        let listed: Vec<RecordId> = device
            .list("person")
            .unwrap()
            .iter()
            .map(RecordState::id)
            .collect();
        assert_eq!(listed, [stays]);
        let kept = device.get(stays).unwrap();
        // Both counsellors' choices reach the file that stays.
        assert_eq!(
            kept.value("given_names"),
            Some(&json!("Mihai")),
            "{}",
            kept.to_json()
        );
        assert_eq!(
            kept.value("phone"),
            Some(&json!("0700 000 001")),
            "{}",
            kept.to_json()
        );
    }
    assert_eq!(one.all_states().unwrap(), two.all_states().unwrap());
}

#[test]
fn an_offline_edit_of_the_merged_away_file_reaches_the_file_that_stays() {
    let (_d1, mut office) = fresh();
    let (_d2, mut field) = fresh();
    let keep = person(&mut office, "Dimitrov", "Hristo");
    let other = person(&mut office, "Димитров", "Христо");
    let mut hub = Hub::default();
    hub.sync(&mut office);
    hub.sync(&mut field);
    // Offline on the site, the field device edits the file the office merges away.
    field
        .edit(
            other,
            fields(&[
                ("phone", json!("0888 123 456")),
                ("notes", json!("vu au squat")),
            ]),
        )
        .unwrap();
    office.merge_persons(keep, other, Vec::new()).unwrap();
    hub.sync(&mut office);
    hub.sync(&mut field);
    hub.sync(&mut office);
    for device in [&office, &field] {
        let kept = device.get(keep).unwrap();
        assert_eq!(
            kept.value("phone"),
            Some(&json!("0888 123 456")),
            "{}",
            kept.to_json()
        );
        assert_eq!(kept.value("notes"), Some(&json!("vu au squat")));
    }
    assert_eq!(office.all_states().unwrap(), field.all_states().unwrap());
    // Re-applied once: the office changes the phone again, and the field device's later
    // syncs leave the office's value.
    office
        .edit(keep, fields(&[("phone", json!("0999 000 000"))]))
        .unwrap();
    hub.sync(&mut office);
    hub.sync(&mut field);
    hub.sync(&mut field);
    hub.sync(&mut office);
    for device in [&office, &field] {
        let kept = device.get(keep).unwrap();
        assert_eq!(
            kept.value("phone"),
            Some(&json!("0999 000 000")),
            "{}",
            kept.to_json()
        );
    }
    assert_eq!(office.all_states().unwrap(), field.all_states().unwrap());
}

/// One step of the property test.
#[derive(Debug, Clone)]
enum Op {
    Create {
        device: usize,
        variant: usize,
    },
    Edit {
        device: usize,
        person: usize,
        phone: u16,
    },
    Step {
        device: usize,
        person: usize,
    },
    Merge {
        device: usize,
        keep: usize,
        other: usize,
    },
    Mark {
        device: usize,
        a: usize,
        b: usize,
    },
    Sync {
        device: usize,
        page: usize,
    },
}

const DEVICES: usize = 3;
const VARIANTS: [(&str, &str); 6] = [
    ("Lăcătuș", "Ștefan"),
    ("Lacatus", "Stefan"),
    ("Петров", "Георги"),
    ("Petrov", "Georgi"),
    ("Stoica", "Mihaï"),
    ("Stoica", "Mihai"),
];

fn op() -> impl Strategy<Value = Op> {
    let d = 0..DEVICES;
    prop_oneof![
        (d.clone(), 0..VARIANTS.len()).prop_map(|(device, variant)| Op::Create { device, variant }),
        (d.clone(), 0..8usize, any::<u16>()).prop_map(|(device, person, phone)| Op::Edit {
            device,
            person,
            phone
        }),
        (d.clone(), 0..8usize).prop_map(|(device, person)| Op::Step { device, person }),
        (d.clone(), 0..8usize, 0..8usize).prop_map(|(device, keep, other)| Op::Merge {
            device,
            keep,
            other
        }),
        (d.clone(), 0..8usize, 0..8usize).prop_map(|(device, a, b)| Op::Mark { device, a, b }),
        (d, 1..6usize).prop_map(|(device, page)| Op::Sync { device, page }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random persons with spelling variants, random merges (opposite ones included) and
    /// marks on random devices, synced in random orders: every device converges, every
    /// reference reads as a person that stays, and every record and edit is still there.
    #[test]
    fn merges_in_any_order_converge(ops in proptest::collection::vec(op(), 1..40)) {
        let mut devices: Vec<(tempfile::TempDir, CaseFile)> = (0..DEVICES).map(|_| fresh()).collect();
        let mut hub = Hub::default();
        // The persons made, in creation order, and every record made.
        let mut persons: Vec<RecordId> = Vec::new();
        let mut made: Vec<RecordId> = Vec::new();
        for op in ops {
            match op {
                Op::Create { device, variant } => {
                    let (family, given) = VARIANTS[variant];
                    let id = person(&mut devices[device].1, family, given);
                    persons.push(id);
                    made.push(id);
                }
                Op::Edit { device, person, phone } => {
                    let file = &mut devices[device].1;
                    if let Some(&id) = persons.get(person)
                        && file.get(id).is_ok()
                    {
                        // Refused on a file this device knows merged away: fine.
                        let _ = file.edit(id, fields(&[("phone", json!(format!("06{phone:08}")))]));
                    }
                }
                Op::Step { device, person } => {
                    let file = &mut devices[device].1;
                    if let Some(&id) = persons.get(person)
                        && file.get(id).is_ok()
                    {
                        let step = file.create("step", fields(&[
                            ("person_id", json!(id.to_string())),
                            ("category", json!("documents")),
                            ("title", json!("Domiciliation")),
                        ])).unwrap();
                        made.push(step);
                    }
                }
                Op::Merge { device, keep, other } => {
                    let file = &mut devices[device].1;
                    if let (Some(&k), Some(&o)) = (persons.get(keep), persons.get(other)) {
                        // Refused when not two live persons of this device: fine.
                        let _ = file.merge_persons(k, o, Vec::new());
                    }
                }
                Op::Mark { device, a, b } => {
                    let file = &mut devices[device].1;
                    if let (Some(&a), Some(&b)) = (persons.get(a), persons.get(b)) {
                        let _ = file.mark_not_duplicates(a, b);
                    }
                }
                Op::Sync { device, page } => {
                    let file = &mut devices[device].1;
                    hub.push(file);
                    hub.pull_in_pages(file, page);
                    hub.push(file);
                }
            }
        }
        // Until nothing changes: re-applied edits travel too.
        for _ in 0..3 {
            for (_, file) in &mut devices {
                hub.sync(file);
            }
        }
        let first = devices[0].1.all_states().unwrap();
        for (_, file) in &devices[1..] {
            prop_assert_eq!(&file.all_states().unwrap(), &first, "every device converges");
        }
        // And reads them alike, as a rebuild from the states alone reads them.
        let reading = |file: &CaseFile| {
            let listed: Vec<RecordId> =
                file.list("person").unwrap().iter().map(RecordState::id).collect();
            let survivors: Vec<RecordId> =
                persons.iter().map(|p| file.survivor(*p).unwrap()).collect();
            let pairs: Vec<(RecordId, RecordId)> =
                file.duplicates(None).unwrap().iter().map(|p| (p.a, p.b)).collect();
            (listed, survivors, pairs)
        };
        let expected = reading(&devices[0].1);
        for (_, file) in &mut devices {
            prop_assert_eq!(&reading(file), &expected, "every device reads alike");
            file.rebuild().unwrap();
            prop_assert_eq!(&reading(file), &expected, "as a rebuild reads");
        }
        let file = &devices[0].1;
        let listed: BTreeSet<RecordId> = file.list("person").unwrap().iter().map(RecordState::id).collect();
        for state in &first {
            prop_assert!(state.conflicts().is_empty() || state.kind().as_str() == "person",
                "no conflict on a record that names a person");
            if let Some(Value::String(p)) = state.value("person_id") {
                let p: RecordId = p.parse().unwrap();
                let stays = file.survivor(p).unwrap();
                prop_assert!(listed.contains(&stays), "a reference reads as a person that stays");
            }
        }
        for id in &made {
            prop_assert!(file.get(*id).is_ok(), "every record made is still held");
        }
    }
}

#[test]
fn the_access_export_follows_the_tombstone_and_names_no_one_else() {
    let (_dir, mut file) = fresh();
    let keep = person(&mut file, "Lăcătuș", "Ștefan");
    let other = person(&mut file, "Lacatus", "Stefan");
    let stranger = person(&mut file, "Zamfir", "Dorina");
    let step = file
        .create(
            "step",
            fields(&[
                ("person_id", json!(other.to_string())),
                ("category", json!("documents")),
                ("title", json!("Domiciliation")),
            ]),
        )
        .unwrap();
    file.mark_not_duplicates(keep, stranger).unwrap();
    file.mark_not_duplicates(other, stranger).unwrap();
    file.merge_persons(keep, other, Vec::new()).unwrap();
    for asked in [keep, other] {
        let access = file.access(asked).unwrap();
        for held in [keep, other, step] {
            assert!(
                access.json.contains(&held.to_string()),
                "the export holds {held}: the person, the merged file and its step"
            );
        }
        assert!(access.json.contains("Domiciliation"));
        assert!(
            !access.json.contains(&stranger.to_string()) && !access.json.contains("Zamfir"),
            "a person marked as another is never named"
        );
    }
}

#[test]
fn a_merged_away_file_moves_with_its_household_and_takes_no_change() {
    let (_dir, mut file) = fresh();
    let site = |file: &mut CaseFile, name: &str| {
        file.create(
            "site",
            fields(&[("name", json!(name)), ("type", json!("squat"))]),
        )
        .unwrap()
    };
    let camp = site(&mut file, "Camp des Prés");
    let shelter = site(&mut file, "Foyer");
    let household = file
        .create(
            "household",
            fields(&[
                ("name", json!("Famille Lăcătuș")),
                ("site_id", json!(camp.to_string())),
            ]),
        )
        .unwrap();
    let member = |file: &mut CaseFile, family: &str, closed: Option<&str>| {
        let mut pairs = vec![
            ("family_name", json!(family)),
            ("given_names", json!("Ștefan")),
            ("household_id", json!(household.to_string())),
            ("site_id", json!(camp.to_string())),
            ("birth_date", json!("1987")),
        ];
        if let Some(on) = closed {
            pairs.push(("status", json!("closed")));
            pairs.push(("closed_on", json!(on)));
        }
        file.create("person", fields(&pairs)).unwrap()
    };
    let keep = member(&mut file, "Lăcătuș", None);
    let other = member(&mut file, "Lacatus", Some("2020-01-10"));
    let stay = file
        .create(
            "stay",
            fields(&[
                ("person_id", json!(other.to_string())),
                ("site_id", json!(camp.to_string())),
                ("from_on", json!("2025-01-01")),
            ]),
        )
        .unwrap();
    let visit = file
        .create(
            "visit",
            fields(&[
                ("occurred_at", json!("2026-11-10T09:00:00+01:00")),
                ("setting", json!("home_visit")),
                ("person_ids", json!([other.to_string()])),
            ]),
        )
        .unwrap();
    file.create(
        "step",
        fields(&[
            ("person_id", json!(other.to_string())),
            ("visit_id", json!(visit.to_string())),
            ("category", json!("documents")),
            ("title", json!("Domiciliation")),
            ("due_on", json!("2026-12-01")),
        ]),
    )
    .unwrap();
    assert_eq!(file.past_retention("2026-12-01").unwrap().len(), 1);
    file.edit(other, fields(&[("aliases", json!(["Pitu"]))]))
        .unwrap();
    file.merge_persons(keep, other, Vec::new()).unwrap();

    // A name only the merged-away file holds (its alias) finds the file that stays.
    let found = file
        .candidates(
            &fields(&[
                ("family_name", json!("Lacatus")),
                ("given_names", json!("Pitu")),
            ]),
            5,
        )
        .unwrap();
    assert_eq!(
        found.iter().map(|c| c.person.id()).collect::<Vec<_>>(),
        [keep]
    );
    // Kept as long as the file that stays: not listed past retention.
    assert!(file.past_retention("2026-12-01").unwrap().is_empty());
    // No change of the merged-away file, of any sort.
    for refused in [
        file.delete(other),
        file.restore(other),
        file.resolve(other, "phone", json!("0612")),
    ] {
        assert!(
            matches!(&refused, Err(Error::Invalid { field, .. }) if field == "id"),
            "{refused:?}"
        );
    }
    // The person's copy of a visit that met the merged-away file, and its step.
    let copy = file
        .visit_copy(visit, keep, Some(casefile::export::CopyLang::Ro))
        .unwrap();
    assert_eq!(copy.steps.len(), 1, "{:?}", copy.steps);
    // The household moves: the file that stays moves, the merged-away one's stay closes.
    let report = file
        .evict(&casefile::Eviction {
            site: camp,
            on: "2026-11-15".into(),
            to_site: shelter,
            households: vec![household],
            persons: vec![],
        })
        .unwrap();
    assert_eq!(report.stays_closed, 1);
    assert_eq!(
        file.get(stay).unwrap().value("left_because"),
        Some(&json!("eviction"))
    );
    assert_eq!(
        file.get(keep).unwrap().value("site_id"),
        Some(&json!(shelter.to_string()))
    );
}

#[test]
fn a_person_is_new_when_their_first_file_was_created() {
    let (_dir, mut file) = fresh();
    // A file another device created in March 2025 (an id that carries no time).
    let old_id: RecordId = uuid::Uuid::new_v4().to_string().parse().unwrap();
    let old = RecordState::create(
        old_id,
        "person".parse().unwrap(),
        other_replica(),
        "2025-03-04T10:00:00Z".parse().unwrap(),
        [
            ("family_name".parse().unwrap(), json!("Lăcătuș")),
            ("given_names".parse().unwrap(), json!("Ștefan")),
        ],
    )
    .unwrap();
    file.apply_pulled(&[old], 1).unwrap();
    let new = person(&mut file, "Lacatus", "Stefan");
    let today = chrono::Utc::now().date_naive();
    let this_month = Period::new(
        &(today - chrono::Duration::days(2)).to_string(),
        &(today + chrono::Duration::days(2)).to_string(),
        TimeZone::EUROPE_PARIS,
    )
    .unwrap();
    assert_eq!(file.indicators(&this_month).unwrap().new_people, 1);
    file.merge_persons(new, old_id, Vec::new()).unwrap();
    assert_eq!(
        file.indicators(&this_month).unwrap().new_people,
        0,
        "the person has been followed since 2025"
    );
}
