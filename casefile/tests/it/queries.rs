//! What the app needs: persons by site, household or status; timelines; today's plan;
//! sites with counts; eviction; the deleted records.

use casefile::{CaseFile, Error, Eviction, PersonFilter};
use serde_json::json;

use crate::common::*;

#[test]
fn persons_by_site_household_and_status() {
    let (_dir, mut file) = fresh();
    let camp = site(&mut file, "Camp");
    let other = site(&mut file, "Other");
    let household = file
        .create(
            "household",
            fields(&[
                ("name", json!("Popa")),
                ("site_id", json!(camp.to_string())),
            ]),
        )
        .unwrap();
    let a = person(&mut file, "Popa", "Ion");
    let b = person(&mut file, "Albu", "Ana");
    let c = person(&mut file, "Zamfir", "Dan");
    for (p, s) in [(a, camp), (b, camp), (c, other)] {
        file.edit(p, fields(&[("site_id", json!(s.to_string()))]))
            .unwrap();
    }
    file.edit(a, fields(&[("household_id", json!(household.to_string()))]))
        .unwrap();
    file.edit(c, fields(&[("status", json!("closed"))]))
        .unwrap();
    let ids = |f| {
        file.persons(f)
            .unwrap()
            .iter()
            .map(|s| s.id())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(PersonFilter::Site(camp)), vec![b, a], "by family name");
    assert_eq!(ids(PersonFilter::Household(household)), vec![a]);
    assert_eq!(ids(PersonFilter::Status("closed")), vec![c]);
    let sites = file.sites().unwrap();
    let camp_row = sites.iter().find(|s| s.site.id() == camp).unwrap();
    assert_eq!(
        (camp_row.persons, camp_row.households),
        (2, 1),
        "counts of Camp"
    );
    let other_row = sites.iter().find(|s| s.site.id() == other).unwrap();
    assert_eq!(other_row.persons, 0, "closed persons are not counted");
}

#[test]
fn a_persons_file_is_a_timeline() {
    let (_dir, mut file) = fresh();
    let camp = site(&mut file, "Camp");
    let p = person(&mut file, "Popa", "Ion");
    let ps = p.to_string();
    let situation = file
        .create("situation", fields(&[("person_id", json!(ps))]))
        .unwrap();
    let stay = file
        .create(
            "stay",
            fields(&[
                ("person_id", json!(ps)),
                ("site_id", json!(camp.to_string())),
                ("from_on", json!("2026-01-10")),
            ]),
        )
        .unwrap();
    let visit = file
        .create(
            "visit",
            fields(&[
                ("occurred_at", json!("2026-11-02T10:00:00+01:00")),
                ("setting", json!("home_visit")),
                ("person_ids", json!([ps])),
            ]),
        )
        .unwrap();
    let step = file
        .create(
            "step",
            fields(&[
                ("person_id", json!(ps)),
                ("category", json!("documents")),
                ("title", json!("ID")),
                ("due_on", json!("2026-11-20")),
            ]),
        )
        .unwrap();
    let job = file
        .create(
            "employment",
            fields(&[
                ("person_id", json!(ps)),
                ("employer", json!("ACME")),
                ("start_on", json!("2026-06-01")),
            ]),
        )
        .unwrap();
    let training = file
        .create(
            "training",
            fields(&[
                ("person_id", json!(ps)),
                ("title", json!("FLE")),
                ("start_on", json!("2026-03-01")),
            ]),
        )
        .unwrap();
    let referral = file
        .create(
            "referral",
            fields(&[
                ("person_id", json!(ps)),
                ("to_service", json!("PMI")),
                ("sent_on", json!("2026-02-01")),
            ]),
        )
        .unwrap();
    let timeline = file.timeline(p).unwrap();
    assert_eq!(timeline.person.id(), p);
    assert_eq!(timeline.situation.map(|s| s.id()), Some(situation));
    let order: Vec<_> = timeline.items.iter().map(|i| i.state.id()).collect();
    assert_eq!(
        order,
        vec![step, visit, job, training, referral, stay],
        "most recent first"
    );
}

#[test]
fn todays_plan() {
    let (_dir, mut file) = fresh();
    let p = person(&mut file, "Popa", "Ion").to_string();
    let q = person(&mut file, "Rusu", "Ana").to_string();
    let visit = |file: &mut casefile::CaseFile, when: &str, who: &str, next: &str| {
        file.create(
            "visit",
            fields(&[
                ("occurred_at", json!(when)),
                ("setting", json!("home_visit")),
                ("person_ids", json!([who])),
                ("next_visit_on", json!(next)),
            ]),
        )
        .unwrap()
    };
    let _superseded = visit(&mut file, "2026-10-01T10:00:00Z", &p, "2026-10-08");
    let due = visit(&mut file, "2026-11-01T10:00:00Z", &p, "2026-11-10");
    let _later = visit(&mut file, "2026-11-05T10:00:00Z", &q, "2026-12-01");
    let step = |file: &mut casefile::CaseFile, due: &str, status: &str| {
        file.create(
            "step",
            fields(&[
                ("person_id", json!(p)),
                ("category", json!("health")),
                ("title", json!("x")),
                ("due_on", json!(due)),
                ("status", json!(status)),
            ]),
        )
        .unwrap()
    };
    let overdue = step(&mut file, "2026-11-01", "planned");
    let _done = step(&mut file, "2026-11-01", "done");
    let today_step = step(&mut file, "2026-11-10", "in_progress");
    let today = file.today("2026-11-10").unwrap();
    let ids =
        |v: &[casefile::sync_protocol::RecordState]| v.iter().map(|s| s.id()).collect::<Vec<_>>();
    assert_eq!(
        ids(&today.visits_due),
        vec![due],
        "only the latest visit to Popa is due"
    );
    assert_eq!(ids(&today.steps_overdue), vec![overdue]);
    assert_eq!(ids(&today.steps_due), vec![today_step]);
    assert!(matches!(
        file.today("10/11/2026"),
        Err(Error::Invalid { .. })
    ));
}

#[test]
fn an_eviction_moves_households_persons_and_stays() {
    let (_dir, mut file) = fresh();
    let camp = site(&mut file, "Camp");
    let shelter = site(&mut file, "Shelter");
    let cs = camp.to_string();
    let household = file
        .create(
            "household",
            fields(&[("name", json!("Popa")), ("site_id", json!(cs))]),
        )
        .unwrap();
    let member = person(&mut file, "Popa", "Ion");
    let alone = person(&mut file, "Rusu", "Ana");
    let stays_put = person(&mut file, "Albu", "Dan");
    for p in [member, alone, stays_put] {
        file.edit(p, fields(&[("site_id", json!(cs))])).unwrap();
        file.create(
            "stay",
            fields(&[
                ("person_id", json!(p.to_string())),
                ("site_id", json!(cs)),
                ("from_on", json!("2026-01-01")),
            ]),
        )
        .unwrap();
    }
    file.edit(
        member,
        fields(&[("household_id", json!(household.to_string()))]),
    )
    .unwrap();
    let report = file
        .evict(&Eviction {
            site: camp,
            on: "2026-11-15".into(),
            to_site: shelter,
            households: vec![household],
            persons: vec![alone],
        })
        .unwrap();
    assert_eq!(
        report.persons.len(),
        2,
        "the household's member and the chosen person move"
    );
    assert_eq!((report.stays_closed, report.stays_opened), (2, 2));
    let site = file.get(camp).unwrap();
    assert_eq!(site.value("status"), Some(&json!("evicted")));
    assert_eq!(site.value("status_since"), Some(&json!("2026-11-15")));
    assert_eq!(
        file.get(household).unwrap().value("site_id"),
        Some(&json!(shelter.to_string()))
    );
    for p in [member, alone] {
        assert_eq!(
            file.get(p).unwrap().value("site_id"),
            Some(&json!(shelter.to_string()))
        );
        let timeline = file.timeline(p).unwrap();
        let stays: Vec<_> = timeline.items.iter().map(|i| &i.state).collect();
        assert_eq!(stays.len(), 2, "a closed stay and a new one");
        assert_eq!(stays[0].value("site_id"), Some(&json!(shelter.to_string())));
        assert_eq!(stays[0].value("from_on"), Some(&json!("2026-11-15")));
        assert_eq!(stays[1].value("to_on"), Some(&json!("2026-11-15")));
        assert_eq!(stays[1].value("left_because"), Some(&json!("eviction")));
    }
    assert_eq!(
        file.get(stays_put).unwrap().value("site_id"),
        Some(&json!(cs)),
        "not chosen"
    );
}

#[test]
fn an_eviction_is_all_or_nothing() {
    let (_dir, mut file) = fresh();
    let camp = site(&mut file, "Camp");
    let shelter = site(&mut file, "Shelter");
    let p = person(&mut file, "Popa", "Ion");
    let before = file.get(camp).unwrap().to_json();
    let missing = "01234567-89ab-7def-8123-456789abcdef".parse().unwrap();
    let result = file.evict(&Eviction {
        site: camp,
        on: "2026-11-15".into(),
        to_site: shelter,
        households: vec![],
        persons: vec![p, missing],
    });
    assert!(matches!(result, Err(Error::NotFound(_))), "got {result:?}");
    assert_eq!(
        file.get(camp).unwrap().to_json(),
        before,
        "the site must be unchanged"
    );
    assert_eq!(
        file.get(p).unwrap().value("site_id"),
        None,
        "the person must be unchanged"
    );
    assert!(file.list("stay").unwrap().is_empty(), "no stay may be left");
}

#[test]
fn deleted_records_are_listed_most_recently_deleted_first() {
    let (_dir, mut file) = fresh();
    let camp = site(&mut file, "Camp");
    let p = person(&mut file, "Popa", "Ion");
    let kept = person(&mut file, "Albu", "Ana");
    let stay = file
        .create(
            "stay",
            fields(&[
                ("person_id", json!(p.to_string())),
                ("site_id", json!(camp.to_string())),
                ("from_on", json!("2026-01-10")),
            ]),
        )
        .unwrap();
    assert!(file.deleted().unwrap().is_empty(), "nothing is deleted yet");
    // Deleted on another device, at known times: the one deleted later has the smaller id.
    let mut later = foreign("person", &[("family_name", json!("Stoica"))]);
    let mut earlier = foreign("person", &[("family_name", json!("Dumitru"))]);
    if later.id() > earlier.id() {
        std::mem::swap(&mut later, &mut earlier);
    }
    later
        .delete(other_replica(), "2026-11-04T09:00:00Z".parse().unwrap())
        .unwrap();
    earlier
        .delete(other_replica(), "2026-11-03T09:00:00Z".parse().unwrap())
        .unwrap();
    file.apply_pulled(&[earlier.clone(), later.clone()], 1)
        .unwrap();
    let ids = |file: &CaseFile| {
        file.deleted()
            .unwrap()
            .iter()
            .map(|s| s.id())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(&file),
        vec![later.id(), earlier.id()],
        "by the time of the deletion, not by id"
    );
    file.delete(stay).unwrap();
    file.delete(p).unwrap();
    let listed = ids(&file);
    assert_eq!(listed.len(), 4, "every deleted record, of any kind");
    assert!(listed.contains(&stay) && listed.contains(&p));
    assert!(
        !listed.contains(&camp) && !listed.contains(&kept),
        "a record not deleted is not listed"
    );
    assert!(file.deleted().unwrap().iter().all(|s| s.is_deleted()));
    file.restore(p).unwrap();
    assert!(
        !ids(&file).contains(&p),
        "a restored record leaves the list"
    );
    assert_eq!(
        file.list("person").unwrap().len(),
        2,
        "and is listed again with the others"
    );
}
