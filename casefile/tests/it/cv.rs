//! The CV and the person's bilingual copies, as the case file reads them: what a CV
//! proposes from a file and prints from its record, that nothing about origin, papers or
//! health ever reaches it, the anonymised CV, one person's copy of a group visit, the
//! appointment slip, the choice of language, and the errors.

use casefile::export::{CopyLang, Cv, CvDraft};
use casefile::sync_protocol::RecordId;
use casefile::{CaseFile, Error};
use serde_json::{Value, json};

use crate::common::{PASS, db_path, fields, foreign, fresh, person};

const PHONE: &str = "06 12 34 56 78";
const EMAIL: &str = "stefan.lacatus@example.org";

fn create(file: &mut CaseFile, kind: &str, pairs: &[(&str, Value)]) -> RecordId {
    file.create(kind, fields(pairs)).unwrap()
}

/// Ștefan Lăcătuș, with 10 jobs (2015 to 2024), 6 trainings (4 completed, 1 under way,
/// 1 dropped), skills and certifications on the person and in the situation.
fn job_seeker(file: &mut CaseFile) -> RecordId {
    let stefan = create(
        file,
        "person",
        &[
            ("family_name", json!("Lăcătuș")),
            ("given_names", json!("Ștefan")),
            ("languages", json!(["rom", "ro", "fr"])),
            ("french_level", json!("a2")),
            ("phone", json!(PHONE)),
            ("email", json!(EMAIL)),
            (
                "skills",
                json!(["Nettoyage industriel", "Travail en équipe"]),
            ),
            ("certifications", json!(["CACES R489 cat. 3", "permis B"])),
        ],
    );
    let p = json!(stefan.to_string());
    create(
        file,
        "situation",
        &[
            ("person_id", p.clone()),
            ("driving_licence", json!(true)),
            (
                "skills",
                json!("maçonnerie, peinture; travail en équipe\nconduite d'engins"),
            ),
            (
                "work_experience",
                json!("Saisons agricoles en Espagne (2010 – 2014)\n\nMaçonnerie sur chantiers"),
            ),
        ],
    );
    let contracts = ["cdd", "interim", "cdi", "iae", "seasonal"];
    for (i, year) in (2015..2025).enumerate() {
        let mut job = vec![
            ("person_id", p.clone()),
            ("employer", json!(format!("Employeur {year}"))),
            ("job_title", json!(format!("Poste {year}"))),
            ("contract", json!(contracts[i % contracts.len()])),
            ("start_on", json!(format!("{year}-03-01"))),
            ("sector", json!("Propreté")),
        ];
        if year < 2024 {
            job.push(("end_on", json!(format!("{}-02-28", year + 1))));
        }
        create(file, "employment", &job);
    }
    for (year, status, certification) in [
        (2018, "completed", Some("CACES R489 cat. 3")),
        (
            2019,
            "completed",
            Some("Titre professionnel agent de propreté"),
        ),
        (2020, "completed", Some("SST")),
        (2021, "completed", None),
        (2022, "dropped", Some("Permis C")),
        (2025, "enrolled", Some("CACES R482")),
    ] {
        let mut training = vec![
            ("person_id", p.clone()),
            ("title", json!(format!("Formation {year}"))),
            ("provider", json!("AFPA Lille")),
            ("status", json!(status)),
            ("start_on", json!(format!("{year}-09-01"))),
        ];
        if let Some(certification) = certification {
            training.push(("certification", json!(certification)));
        }
        if status != "enrolled" {
            training.push(("end_on", json!(format!("{year}-12-15"))));
        }
        create(file, "training", &training);
    }
    stefan
}

/// The text of everything a CV shows: its Debug and its JSON.
fn shown(cv: &impl std::fmt::Debug, json: &impl serde::Serialize) -> String {
    format!("{cv:?}\n{}", serde_json::to_string(json).unwrap())
}

#[test]
fn a_cv_is_proposed_from_a_file_with_ten_jobs_and_six_trainings() {
    let (_dir, mut file) = fresh();
    let stefan = job_seeker(&mut file);
    let cv = file.cv(stefan, false).unwrap();

    assert!(!cv.from_record, "no CV record yet: proposed from the file");
    assert_eq!(
        cv.name.as_deref(),
        Some("Ștefan Lăcătuș"),
        "given names first"
    );
    assert_eq!(cv.contact, vec![PHONE, EMAIL]);
    assert_eq!(cv.headline, "Poste 2024", "the most recent job's title");
    assert!(
        cv.languages.is_empty(),
        "languages print only as a counsellor ticks them: {:?}",
        cv.languages
    );
    assert_eq!(
        cv.skills,
        vec![
            "Nettoyage industriel",
            "Travail en équipe",
            "maçonnerie",
            "peinture",
            "conduite d'engins"
        ],
        "the person's skills, then the situation's split, each once"
    );
    assert_eq!(
        cv.certifications,
        vec![
            "Permis B",
            "CACES R489 cat. 3",
            "SST",
            "Titre professionnel agent de propreté"
        ],
        "the licence, the person's certifications, those of completed trainings, each once"
    );

    assert_eq!(cv.experience.len(), 12, "10 jobs and 2 lines of free text");
    assert_eq!(
        cv.experience[0].heading,
        "Depuis 2024 · Poste 2024 · Employeur 2024 (saisonnier)"
    );
    assert_eq!(cv.experience[0].details, vec!["Secteur : Propreté"]);
    assert_eq!(
        cv.experience[1].heading, "2023 – 2024 · Poste 2023 · Employeur 2023 (IAE)",
        "most recent first"
    );
    assert_eq!(
        cv.experience[9].heading,
        "2015 – 2016 · Poste 2015 · Employeur 2015 (CDD)"
    );
    assert_eq!(
        cv.experience[10].heading,
        "Saisons agricoles en Espagne (2010 – 2014)"
    );
    assert_eq!(cv.experience[11].heading, "Maçonnerie sur chantiers");

    let trainings: Vec<&str> = cv.trainings.iter().map(|t| t.heading.as_str()).collect();
    assert_eq!(
        trainings,
        vec![
            "Depuis 2025 · Formation 2025 · AFPA Lille (en cours)",
            "2021 · Formation 2021 · AFPA Lille",
            "2020 · Formation 2020 · AFPA Lille",
            "2019 · Formation 2019 · AFPA Lille",
            "2018 · Formation 2018 · AFPA Lille",
        ],
        "most recent first, the dropped one left out"
    );
    assert_eq!(
        cv.trainings[0].details,
        vec!["Certification préparée : CACES R482"]
    );
    assert_eq!(
        cv.trainings[3].details,
        vec!["Certification : Titre professionnel agent de propreté"]
    );
    assert!(
        !shown(&cv, &cv).contains("Permis C"),
        "a dropped training's certification is not claimed"
    );

    let draft = file.cv_draft(stefan).unwrap();
    assert_eq!(draft.record, None);
    assert_eq!(
        draft.languages,
        vec!["Français : A2 (élémentaire)", "Romani", "Roumain"],
        "every language the file knows is proposed, French first with its level"
    );
    assert_eq!(draft.experience.len(), 12);
    assert_eq!(
        draft.experience[0],
        "Depuis 2024 · Poste 2024 · Employeur 2024 (saisonnier)\nSecteur : Propreté",
        "an item is its first line, then its details"
    );
}

#[test]
fn a_saved_cv_prints_as_the_counsellor_left_it() {
    let (_dir, mut file) = fresh();
    let stefan = job_seeker(&mut file);
    let draft = file.cv_draft(stefan).unwrap();
    // The counsellor ticks two languages, keeps three jobs in their own order, rewrites
    // one and adds an interest.
    let edited = CvDraft {
        headline: "Agent de propreté — disponible immédiatement".to_owned(),
        languages: vec![
            "Roumain : langue maternelle".to_owned(),
            draft.languages[0].clone(),
        ],
        experience: vec![
            draft.experience[2].clone(),
            "2024 · Agent de propreté · Elior (CDD)\nBureaux et parties communes\nAutonome"
                .to_owned(),
            draft.experience[0].clone(),
        ],
        interests: vec!["Football".to_owned()],
        ..draft.clone()
    };
    let first = file.create("cv", edited.fields(stefan)).unwrap();
    let cv = file.cv(stefan, false).unwrap();
    assert!(cv.from_record);
    assert_eq!(cv.headline, "Agent de propreté — disponible immédiatement");
    assert_eq!(
        cv.languages,
        vec!["Roumain : langue maternelle", "Français : A2 (élémentaire)"],
        "only the ticked languages, in the counsellor's order"
    );
    assert_eq!(cv.experience.len(), 3);
    assert_eq!(
        cv.experience[0].heading,
        "2022 – 2023 · Poste 2022 · Employeur 2022 (CDI)"
    );
    assert_eq!(
        cv.experience[1].heading,
        "2024 · Agent de propreté · Elior (CDD)"
    );
    assert_eq!(
        cv.experience[1].details,
        vec!["Bureaux et parties communes", "Autonome"]
    );
    assert_eq!(cv.interests, vec!["Football"]);
    assert_eq!(file.cv_draft(stefan).unwrap().record, Some(first));

    // Two devices each made one before they synced: the most recent prints.
    let second = file
        .create(
            "cv",
            fields(&[
                ("person_id", json!(stefan.to_string())),
                ("headline", json!("Cariste")),
            ]),
        )
        .unwrap();
    assert_eq!(file.cv(stefan, false).unwrap().headline, "Cariste");
    assert_eq!(file.cv_draft(stefan).unwrap().record, Some(second));
    file.delete(second).unwrap();
    file.delete(first).unwrap();
    let cv = file.cv(stefan, false).unwrap();
    assert!(
        !cv.from_record && cv.headline == "Poste 2024",
        "with its records deleted, the CV is proposed from the file again"
    );
}

#[test]
fn a_field_of_a_cv_in_conflict_prints_every_value() {
    let (_dir, mut file) = fresh();
    let stefan = person(&mut file, "Lăcătuș", "Ștefan");
    let mut remote = foreign(
        "cv",
        &[
            ("person_id", json!(stefan.to_string())),
            ("skills", json!(["Cariste"])),
        ],
    );
    file.apply_pulled(std::slice::from_ref(&remote), 1).unwrap();
    file.edit(
        remote.id(),
        fields(&[("skills", json!(["Cariste", "Peinture"]))]),
    )
    .unwrap();
    remote
        .edit(
            crate::common::other_replica(),
            crate::common::at(),
            [("skills".parse().unwrap(), json!(["Maçonnerie", "Cariste"]))],
        )
        .unwrap();
    file.apply_pulled(&[remote], 2).unwrap();
    let mut skills = file.cv(stefan, false).unwrap().skills;
    skills.sort();
    assert_eq!(
        skills,
        vec!["Cariste", "Maçonnerie", "Peinture"],
        "both lists' items, each once: nothing silently chosen"
    );
}

#[test]
fn nothing_about_origin_papers_or_health_reaches_a_cv() {
    let (_dir, mut file) = fresh();
    let site = create(
        &mut file,
        "site",
        &[
            ("name", json!("Terrain-Marqueur-Site")),
            ("address", json!("12 rue Marqueur-Adresse")),
        ],
    );
    let household = create(
        &mut file,
        "household",
        &[("name", json!("Ménage-Marqueur"))],
    );
    let stefan = job_seeker(&mut file);
    file.edit(
        stefan,
        fields(&[
            ("nationality", json!("RO")),
            ("birth_place", json!("Craiova-Marqueur")),
            ("birth_date", json!("1987-03-14")),
            ("sex", json!("m")),
            ("aliases", json!(["Alias-Marqueur"])),
            ("site_id", json!(site.to_string())),
            ("household_id", json!(household.to_string())),
            ("consent_on", json!("2026-01-05")),
            ("consent_scope", json!("Portee-Marqueur")),
            ("notes", json!("Note-Marqueur : suivi psychologique")),
            ("referent", json!("referent-marqueur")),
        ]),
    )
    .unwrap();
    let situation = file.list("situation").unwrap()[0].id();
    file.edit(
        situation,
        fields(&[
            ("id_document", json!("Passeport 12AB34567")),
            ("health_cover", json!("ame")),
            ("social_security_number", json!("1 87 03 99 123 456 78")),
            ("france_travail_number", json!("FT-4455667")),
            ("france_travail_since", json!("2025-06-30")),
            ("domiciliation", json!("CCAS-Marqueur")),
            ("bank_account", json!(true)),
            ("education_level", json!("Scolarité-Marqueur")),
        ]),
    )
    .unwrap();
    create(
        &mut file,
        "step",
        &[
            ("person_id", json!(stefan.to_string())),
            ("category", json!("health")),
            ("title", json!("Démarche-Marqueur PMI")),
        ],
    );
    create(
        &mut file,
        "referral",
        &[
            ("person_id", json!(stefan.to_string())),
            ("to_service", json!("Service-Marqueur")),
            ("constraint", json!("legal")),
        ],
    );
    let forbidden = [
        "RO\"",
        "Roumanie",
        "Craiova",
        "1987",
        "14/03",
        "Alias",
        "Terrain",
        "rue Marqueur",
        "Ménage",
        "2026-01-05",
        "Portee",
        "Note-Marqueur",
        "psychologique",
        "referent",
        "12AB34567",
        "Passeport",
        "AME",
        "1 87 03 99",
        "FT-4455667",
        "2025-06-30",
        "CCAS",
        "Scolarité",
        "Démarche-Marqueur",
        "Service-Marqueur",
        "health",
        "homme",
    ];
    let check = |what: &str, text: String| {
        for value in forbidden {
            assert!(
                !text.contains(value),
                "{what} must not hold {value:?}: {text}"
            );
        }
    };
    let draft = file.cv_draft(stefan).unwrap();
    check("the draft", shown(&draft, &draft));
    for anonymised in [false, true] {
        let cv = file.cv(stefan, anonymised).unwrap();
        check("the CV proposed from the file", shown(&cv, &cv));
    }
    file.create("cv", draft.fields(stefan)).unwrap();
    for anonymised in [false, true] {
        let cv = file.cv(stefan, anonymised).unwrap();
        assert!(cv.from_record);
        check("the CV from its record", shown(&cv, &cv));
    }
}

#[test]
fn an_anonymised_cv_holds_no_name_nor_contact() {
    let (_dir, mut file) = fresh();
    let stefan = job_seeker(&mut file);
    let check = |cv: &Cv| {
        assert!(cv.anonymised);
        assert_eq!(cv.name, None);
        assert!(cv.contact.is_empty(), "no contact: {:?}", cv.contact);
        let text = shown(cv, cv);
        for value in ["Lăcătuș", "Ștefan", "Lacatus", PHONE, "0612", EMAIL, "@"] {
            assert!(
                !text.contains(value),
                "an anonymised CV holds {value:?}: {text}"
            );
        }
        assert!(!cv.experience.is_empty(), "the rest of the CV is there");
    };
    check(&file.cv(stefan, true).unwrap());
    let draft = file.cv_draft(stefan).unwrap();
    assert!(
        draft.contact.contains(EMAIL),
        "the draft proposes the contact"
    );
    file.create("cv", draft.fields(stefan)).unwrap();
    check(&file.cv(stefan, true).unwrap());
    let named = file.cv(stefan, false).unwrap();
    assert_eq!(
        named.contact,
        vec![PHONE, EMAIL],
        "the record's contact, line by line"
    );
}

#[test]
fn an_email_is_checked_loosely_and_a_cv_needs_its_person() {
    let (_dir, mut file) = fresh();
    let ana = person(&mut file, "Dumitru", "Ana");
    for bad in ["ana dumitru@example.org", "ana.example.org", "a@b@c"] {
        match file.edit(ana, fields(&[("email", json!(bad))])) {
            Err(Error::Invalid { field, expected }) => {
                assert_eq!(field, "email");
                assert!(
                    !expected.contains(bad),
                    "the message never quotes the value"
                );
            }
            other => panic!("{bad:?} must be refused, got {other:?}"),
        }
    }
    file.edit(ana, fields(&[("email", json!("ana@example.org"))]))
        .unwrap();
    assert!(matches!(
        file.create("cv", fields(&[("headline", json!("Cariste"))])),
        Err(Error::Invalid { field, .. }) if field == "person_id"
    ));
    let site = create(&mut file, "site", &[("name", json!("Les Près"))]);
    assert!(
        matches!(file.cv(site, false), Err(Error::Invalid { field, .. }) if field == "person_id")
    );
    assert!(matches!(
        file.cv_draft(RecordId::from_u128(7)),
        Err(Error::NotFound(_))
    ));
}

/// Without a server: a pulled erased person takes their CV with them, from every table.
#[test]
fn a_cv_goes_with_its_erased_person() {
    let (dir, mut file) = fresh();
    let person = foreign("person", &[("family_name", json!("Lăcătuș"))]);
    file.apply_pulled(std::slice::from_ref(&person), 1).unwrap();
    let cv = create(
        &mut file,
        "cv",
        &[
            ("person_id", json!(person.id().to_string())),
            ("headline", json!("Cariste")),
        ],
    );
    file.apply_pulled(&[person.erase()], 2).unwrap();
    assert!(matches!(file.get(cv), Err(Error::NotFound(_))));
    drop(file);
    let conn = crate::common::raw(&db_path(&dir), PASS);
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM cv", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0, "the CV's derived row is gone too");
}

/// A case file of version 4 that already holds the new fields and CVs (pulled from a
/// newer device before the upgrade) gets them in its derived tables on open, as a
/// rebuild would write them.
#[test]
fn a_version_4_case_file_derives_the_cv_fields_on_open() {
    let (dir, mut file) = fresh();
    let stefan = job_seeker(&mut file);
    file.edit(stefan, fields(&[("email", json!("ș@example.ro"))]))
        .unwrap();
    let draft = file.cv_draft(stefan).unwrap();
    file.create("cv", draft.fields(stefan)).unwrap();
    drop(file);
    let path = db_path(&dir);
    type Rows = Vec<Vec<rusqlite::types::Value>>;
    let derived = |conn: &rusqlite::Connection| -> (Rows, Rows) {
        let rows = |sql: &str, n: usize| -> Rows {
            let mut stmt = conn.prepare(sql).unwrap();
            stmt.query_map([], |r| (0..n).map(|i| r.get(i)).collect())
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        (
            rows(
                "SELECT id, email, skills, certifications, family_name, notice_lang FROM person",
                6,
            ),
            rows(
                "SELECT id, person_id, headline, contact, languages, skills, certifications,
                        experience, trainings, interests FROM cv",
                10,
            ),
        )
    };
    let conn = crate::common::raw(&path, PASS);
    let rebuilt = derived(&conn);
    conn.execute_batch(
        "CREATE TABLE person_4 AS SELECT id, family_name, given_names, aliases, sex, birth_date,
           birth_place, nationality, languages, french_level, phone, household_id, site_id,
           referent, status, closed_on, closed_reason, consent_on, consent_scope, notes,
           notice_on, notice_lang, notice_interpreter, keep_until, keep_reason
         FROM person;
         DROP TABLE person;
         ALTER TABLE person_4 RENAME TO person;
         DROP TABLE cv;
         PRAGMA user_version = 4;",
    )
    .unwrap();
    drop(conn);
    let file = CaseFile::open(&path, PASS).unwrap();
    assert_eq!(file.schema_version().unwrap(), casefile::SCHEMA_VERSION);
    drop(file);
    let upgraded = derived(&crate::common::raw(&path, PASS));
    assert_eq!(
        upgraded, rebuilt,
        "the upgrade derives the new fields and the CVs as the current build writes them"
    );
    assert_eq!(upgraded.1.len(), 1, "the CV has its row");
    assert_eq!(
        upgraded.0[0][1],
        rusqlite::types::Value::Text("ș@example.ro".into())
    );
}

struct GroupVisit {
    visit: RecordId,
    ana: RecordId,
    maria: RecordId,
    ana_steps: [RecordId; 2],
}

/// A group visit that met Ana Dumitru and Maria Popescu, with steps for each.
fn group_visit(file: &mut CaseFile) -> GroupVisit {
    file.set_organisation(fields(&[
        ("name", json!("Association Îlot")),
        ("address", json!("3 rue de Fives, 59000 Lille")),
        ("contact", json!("03 20 00 00 00 · contact@ilot.example")),
    ]))
    .unwrap();
    let site = create(
        file,
        "site",
        &[
            ("name", json!("Terrain de la Deûle")),
            ("commune", json!("Hellemmes")),
        ],
    );
    let ana = create(
        file,
        "person",
        &[
            ("family_name", json!("Dumitru")),
            ("given_names", json!("Ana")),
            ("languages", json!(["rom", "ro"])),
        ],
    );
    let maria = create(
        file,
        "person",
        &[
            ("family_name", json!("Popescu")),
            ("given_names", json!("Maria")),
            ("languages", json!(["bg"])),
        ],
    );
    let visit = create(
        file,
        "visit",
        &[
            ("occurred_at", json!("2026-11-02T23:30:00Z")),
            ("setting", json!("home_visit")),
            ("site_id", json!(site.to_string())),
            ("person_ids", json!([ana.to_string(), maria.to_string()])),
            ("counsellors", json!(["Claire Martin", "Julien Roy"])),
            ("observations", json!("Maria semble fatiguée")),
            ("decisions", json!("Maria ira au CCAS avec Ana")),
            ("next_visit_on", json!("2026-11-16")),
        ],
    );
    let step = |file: &mut CaseFile, who: RecordId, visit: RecordId, title: &str, due: &str| {
        create(
            file,
            "step",
            &[
                ("person_id", json!(who.to_string())),
                ("visit_id", json!(visit.to_string())),
                ("category", json!("france_travail")),
                ("title", json!(title)),
                ("due_on", json!(due)),
                ("notes", json!("Note interne : voir avec Maria")),
            ],
        )
    };
    let late = step(file, ana, visit, "Inscription France Travail", "2026-11-20");
    let early = step(file, ana, visit, "Rendez-vous conseiller", "2026-11-09");
    step(file, maria, visit, "Dossier CSS de Maria", "2026-11-10");
    let cancelled = step(file, ana, visit, "Démarche annulée", "2026-11-11");
    file.edit(cancelled, fields(&[("status", json!("cancelled"))]))
        .unwrap();
    let other = create(
        file,
        "visit",
        &[
            ("occurred_at", json!("2026-10-01T10:00:00+02:00")),
            ("setting", json!("office_interview")),
            ("person_ids", json!([ana.to_string()])),
        ],
    );
    step(
        file,
        ana,
        other,
        "Démarche d'une autre visite",
        "2026-10-10",
    );
    GroupVisit {
        visit,
        ana,
        maria,
        ana_steps: [early, late],
    }
}

#[test]
fn the_copy_of_a_group_visit_holds_only_that_persons_steps_and_no_other_name() {
    let (_dir, mut file) = fresh();
    let g = group_visit(&mut file);
    let copy = file.visit_copy(g.visit, g.ana, None).unwrap();
    assert_eq!(copy.lang, CopyLang::Ro, "Ana's languages name Romanian");
    let titles: Vec<&str> = copy.steps.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(
        titles,
        vec!["Rendez-vous conseiller", "Inscription France Travail"],
        "Ana's steps of this visit, by due date; not the cancelled one, not Maria's, not \
         another visit's"
    );
    assert_eq!(copy.steps[0].due_on, "09/11/2026");
    assert_eq!(copy.steps[0].category.fr, "France Travail");
    assert_eq!(
        copy.steps[0].category.other,
        "France Travail (agenția pentru ocuparea forței de muncă)"
    );
    assert_eq!(
        copy.decisions, None,
        "a group visit's decisions may name others"
    );
    assert_eq!(copy.person.value.fr, "Dumitru Ana");
    assert_eq!(
        copy.date.value.fr, "03/11/2026",
        "the day in the organisation's time zone (23:30 UTC is the next day in Paris)"
    );
    assert_eq!(copy.date.label.other, "Data întâlnirii");
    assert_eq!(copy.place.value.fr, "Terrain de la Deûle (Hellemmes)");
    assert_eq!(copy.next_visit.value.fr, "16/11/2026");
    assert_eq!(copy.counsellors.value.fr, "Claire Martin, Julien Roy");
    assert_eq!(
        copy.contact.value.fr,
        "3 rue de Fives, 59000 Lille\n03 20 00 00 00 · contact@ilot.example"
    );
    assert_eq!(copy.org, "Association Îlot");
    let text = shown(&copy, &copy);
    for value in [
        "Maria",
        "Popescu",
        "CSS",
        "fatiguée",
        "CCAS",
        "Note interne",
        "annulée",
        "autre visite",
    ] {
        assert!(!text.contains(value), "Ana's copy holds {value:?}: {text}");
    }

    let copy = file.visit_copy(g.visit, g.maria, None).unwrap();
    assert_eq!(copy.lang, CopyLang::Bg);
    assert_eq!(copy.steps.len(), 1);
    assert_eq!(
        copy.steps[0].category.other,
        "France Travail (бюро по труда)"
    );
    assert_eq!(copy.title.other, "Резюме на срещата");
    let text = shown(&copy, &copy);
    for value in ["Ana", "Dumitru", "Inscription", "Rendez-vous conseiller"] {
        assert!(
            !text.contains(value),
            "Maria's copy holds {value:?}: {text}"
        );
    }
}

#[test]
fn a_visit_that_met_the_person_alone_shows_its_decisions() {
    let (_dir, mut file) = fresh();
    let g = group_visit(&mut file);
    file.edit(
        g.visit,
        fields(&[("person_ids", json!([g.ana.to_string()]))]),
    )
    .unwrap();
    let copy = file.visit_copy(g.visit, g.ana, Some(CopyLang::Bg)).unwrap();
    let decisions = copy.decisions.clone().expect("the visit met Ana alone");
    assert_eq!(decisions.value.fr, "Maria ira au CCAS avec Ana");
    assert_eq!(decisions.label.other, "Какво беше решено");
    assert_eq!(copy.lang, CopyLang::Bg, "the language asked for");
    assert!(
        !shown(&copy, &copy).contains("fatiguée"),
        "never the observations"
    );
}

fn invalid<T>(result: Result<T, Error>, name: &str) {
    match result {
        Err(Error::Invalid { field, .. }) => assert_eq!(field, name),
        Err(other) => panic!("expected an invalid {name}, got {other:?}"),
        Ok(_) => panic!("expected an invalid {name}"),
    }
}

#[test]
fn the_language_is_the_one_asked_for_else_the_persons_and_errors_say_what_is_wrong() {
    let (_dir, mut file) = fresh();
    let g = group_visit(&mut file);
    let french = create(
        &mut file,
        "person",
        &[
            ("family_name", json!("Stoica")),
            ("languages", json!(["fr", "rom"])),
        ],
    );
    file.edit(
        g.visit,
        fields(&[(
            "person_ids",
            json!([g.ana.to_string(), g.maria.to_string(), french.to_string()]),
        )]),
    )
    .unwrap();
    invalid(file.visit_copy(g.visit, french, None), "lang");
    let copy = file
        .visit_copy(g.visit, french, Some(CopyLang::Ro))
        .unwrap();
    assert!(copy.steps.is_empty());
    assert_eq!(copy.no_steps.other, "Nu a fost stabilit niciun pas.");
    assert_eq!(
        file.visit_copy(g.visit, g.maria, Some(CopyLang::Ro))
            .unwrap()
            .lang,
        CopyLang::Ro,
        "the language asked for wins over the person's"
    );

    let stranger = person(&mut file, "Ionescu", "Vasile");
    invalid(
        file.visit_copy(g.visit, stranger, Some(CopyLang::Ro)),
        "person_id",
    );
    invalid(file.visit_copy(g.ana, g.ana, None), "visit_id");
    invalid(file.visit_copy(g.visit, g.visit, None), "person_id");
    assert!(matches!(
        file.visit_copy(RecordId::from_u128(9), g.ana, None),
        Err(Error::NotFound(_))
    ));
    invalid(file.step_slip(g.visit, None), "step_id");
    invalid("fr".parse::<CopyLang>().map(|_| ()), "lang");
    assert_eq!("bg".parse::<CopyLang>().unwrap(), CopyLang::Bg);
}

#[test]
fn a_slip_for_a_step_is_bilingual_and_holds_no_notes() {
    let (_dir, mut file) = fresh();
    let g = group_visit(&mut file);
    let slip = file.step_slip(g.ana_steps[1], None).unwrap();
    assert_eq!(slip.lang, CopyLang::Ro);
    assert_eq!(slip.title.fr, "Rendez-vous");
    assert_eq!(slip.title.other, "Programare");
    assert_eq!(slip.what.value.fr, "Inscription France Travail");
    assert_eq!(slip.when.value.fr, "20/11/2026");
    assert_eq!(slip.when.label.other, "Când");
    assert_eq!(
        slip.with_whom.value.fr, "France Travail",
        "the category says whom"
    );
    assert_eq!(slip.place.value.fr, "", "to write by hand");
    assert_eq!(slip.bring.label.other, "Aduceți");
    assert_eq!(slip.person.value.fr, "Dumitru Ana");
    let text = shown(&slip, &slip);
    assert!(
        !text.contains("Note interne"),
        "never the step's notes: {text}"
    );
    assert!(!text.contains("Maria"), "no other name: {text}");

    let undated = create(
        &mut file,
        "step",
        &[
            ("person_id", json!(g.maria.to_string())),
            ("category", json!("training")),
            ("title", json!("Entrée en formation")),
        ],
    );
    let slip = file.step_slip(undated, None).unwrap();
    assert_eq!(slip.lang, CopyLang::Bg);
    assert_eq!(slip.when.value.other, "предстои да се уточни");
    assert_eq!(slip.category.value.other, "Обучение");
    assert_eq!(
        slip.with_whom.value.fr, "",
        "a training body: written by hand"
    );
}
