//! Case files for the demo, the end-to-end test and the cold-start benchmark, built
//! through `casefile` (and `sync-protocol` for what another device would have written).
//! The passphrase comes from `PASSERELLE_PASSPHRASE`.
//!
//! ```text
//! fixture empty PATH                      an empty case file
//! fixture demo PATH                       a demo case file: sites, households, persons,
//!                                         visits and steps with French and Romanian names
//! fixture bulk PATH PERSONS               a team's case file of PERSONS persons, as pulled:
//!                                         a site per 50, a household per 4, a visit and a
//!                                         step for every other one, 1 in 100 due or overdue
//! fixture conflict PATH SEARCH FIELD A B  this device writes A in FIELD of the first person
//!                                         SEARCH finds; another device, concurrently, B
//! fixture delete-conflict PATH SEARCH     another device deletes that person while this
//!                                         device edits their notes
//! ```

use std::path::Path;

use anyhow::{Context, Result, bail};
use casefile::sync_protocol::{FieldName, Kind, RecordId, RecordState, ReplicaId, Timestamp};
use casefile::{CaseFile, Eviction};
use chrono::{Duration, Utc};
use serde_json::{Value, json};

/// The replica id of "another device" in the fixtures.
const OTHER_DEVICE: &str = "0193a1f0-0000-7000-8000-00000000b0b0";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let passphrase = std::env::var("PASSERELLE_PASSPHRASE").context("set PASSERELLE_PASSPHRASE")?;
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["empty", path] => {
            println!("{}", CaseFile::init(path, &passphrase)?.replica_id());
            Ok(())
        }
        ["demo", path] => demo(Path::new(path), &passphrase),
        ["bulk", path, persons] => bulk(Path::new(path), &passphrase, persons.parse()?),
        ["conflict", path, search, field, mine, theirs] => {
            conflict(Path::new(path), &passphrase, search, field, mine, theirs)
        }
        ["delete-conflict", path, search] => delete_conflict(Path::new(path), &passphrase, search),
        ["duplicate", path] => duplicate(Path::new(path), &passphrase),
        _ => bail!(
            "usage: fixture empty PATH | demo PATH | bulk PATH PERSONS | conflict PATH SEARCH FIELD A B | delete-conflict PATH SEARCH | duplicate PATH"
        ),
    }
}

fn fields(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn day(offset: i64) -> String {
    (Utc::now() + Duration::days(offset))
        .date_naive()
        .format("%Y-%m-%d")
        .to_string()
}

fn at(offset_days: i64, hour: u8) -> String {
    format!("{}T{hour:02}:00:00+01:00", day(offset_days))
}

fn demo(path: &Path, passphrase: &str) -> Result<()> {
    let mut f = CaseFile::init(path, passphrase)?;
    let site = |f: &mut CaseFile, name: &str, ty: &str, commune: &str| {
        f.create(
            "site",
            fields(&[
                ("name", json!(name)),
                ("type", json!(ty)),
                ("commune", json!(commune)),
            ]),
        )
    };
    let chemin_vert = site(&mut f, "Chemin Vert", "bidonville", "Roubaix")?;
    let sarrazins = site(&mut f, "Rue des Sarrazins", "squat", "Lille")?;
    let halte = site(
        &mut f,
        "Halte de la Haute-Borne",
        "bidonville",
        "Villeneuve-d'Ascq",
    )?;
    let abbe = site(&mut f, "Accueil de jour Abbé-Pierre", "day_centre", "Lille")?;
    let household = |f: &mut CaseFile, name: &str, site: RecordId| {
        f.create(
            "household",
            fields(&[("name", json!(name)), ("site_id", json!(site.to_string()))]),
        )
    };
    let stoica = household(&mut f, "Famille Stoica", chemin_vert)?;
    let lacatus = household(&mut f, "Famille Lăcătuș", sarrazins)?;
    let dumitru = household(&mut f, "Famille Dumitru", halte)?;
    let petrov = household(&mut f, "Famille Petrov", halte)?;
    #[allow(clippy::type_complexity)]
    let people: &[(&str, &str, &[&str], &str, &str, &str, RecordId, RecordId)] = &[
        (
            "Lăcătuș",
            "Ștefan",
            &["Stefan Lacatus", "Stefane"],
            "m",
            "1991",
            "RO",
            lacatus,
            sarrazins,
        ),
        (
            "Lăcătuș",
            "Ioana",
            &[],
            "f",
            "1994-03",
            "RO",
            lacatus,
            sarrazins,
        ),
        (
            "Stoica",
            "Mihai",
            &["Mihaï"],
            "m",
            "1987-06-14",
            "RO",
            stoica,
            chemin_vert,
        ),
        (
            "Stoica",
            "Florentina",
            &["Florentyna"],
            "f",
            "1990",
            "RO",
            stoica,
            chemin_vert,
        ),
        (
            "Dumitru",
            "Gheorghe",
            &["Gheorghe Dumitrou"],
            "m",
            "1979-11-02",
            "RO",
            dumitru,
            halte,
        ),
        (
            "Dumitru",
            "Ancuța",
            &["Ancuta"],
            "f",
            "2001",
            "RO",
            dumitru,
            halte,
        ),
        (
            "Petrov",
            "Dimitar",
            &["Dimitri"],
            "m",
            "1985",
            "BG",
            petrov,
            halte,
        ),
        (
            "Petrova",
            "Desislava",
            &[],
            "f",
            "1999",
            "BG",
            petrov,
            halte,
        ),
    ];
    let mut ids = Vec::new();
    for (family, given, aliases, sex, birth, nat, hh, site) in people {
        ids.push(f.create(
            "person",
            fields(&[
                ("family_name", json!(family)),
                ("given_names", json!(given)),
                ("aliases", json!(aliases)),
                ("sex", json!(sex)),
                ("birth_date", json!(birth)),
                ("nationality", json!(nat)),
                ("languages", json!(["ro", "fr"])),
                ("french_level", json!("a2")),
                ("household_id", json!(hh.to_string())),
                ("site_id", json!(site.to_string())),
                ("referent", json!("marie")),
                ("consent_on", json!(day(-60))),
            ]),
        )?);
        let person = *ids.last().context("a person was just created")?;
        f.create(
            "stay",
            fields(&[
                ("person_id", json!(person.to_string())),
                ("site_id", json!(site.to_string())),
                ("from_on", json!(day(-400))),
            ]),
        )?;
    }
    let [stefan, ioana, mihai, _, gheorghe, ancuta, ..] = ids.as_slice() else {
        bail!("the demo has eight persons");
    };
    let id = |r: &RecordId| json!(r.to_string());
    f.create(
        "situation",
        fields(&[
            ("person_id", id(stefan)),
            ("id_document", json!("Carte d'identité roumaine")),
            ("health_cover", json!("puma")),
            ("bank_account", json!(true)),
            ("domiciliation", json!("CCAS de Lille")),
            ("france_travail_number", json!("1234567A")),
            ("france_travail_since", json!(day(-30))),
            ("cv_on", json!(day(-20))),
            ("skills", json!("Maçonnerie, carrelage")),
        ]),
    )?;
    let visit = f.create(
        "visit",
        fields(&[
            ("occurred_at", json!(at(-14, 10))),
            ("setting", json!("home_visit")),
            ("site_id", id(&sarrazins)),
            ("person_ids", json!([stefan.to_string(), ioana.to_string()])),
            ("counsellors", json!(["marie"])),
            ("purpose", json!("Point sur la recherche d'emploi")),
            (
                "observations",
                json!("Ștefan a préparé son CV avec l'aide de sa sœur."),
            ),
            ("decisions", json!("Inscription à France Travail")),
            ("next_visit_on", json!(day(-1))),
            ("interpreter", json!(true)),
            ("duration_minutes", json!(45)),
        ]),
    )?;
    f.create(
        "step",
        fields(&[
            ("person_id", id(stefan)),
            ("visit_id", json!(visit.to_string())),
            ("category", json!("france_travail")),
            ("title", json!("Inscription à France Travail")),
            ("due_on", json!(day(-3))),
        ]),
    )?;
    f.create(
        "step",
        fields(&[
            ("person_id", id(ioana)),
            ("category", json!("childcare")),
            ("title", json!("Demande de place en crèche")),
            ("due_on", json!(day(0))),
        ]),
    )?;
    f.create(
        "visit",
        fields(&[
            ("occurred_at", json!(at(-4, 14))),
            ("setting", json!("office_interview")),
            ("person_ids", json!([mihai.to_string()])),
            ("counsellors", json!(["ion"])),
            ("purpose", json!("Entretien d'embauche chez un maraîcher")),
            ("next_visit_on", json!(day(0))),
        ]),
    )?;
    f.create(
        "employment",
        fields(&[
            ("person_id", id(mihai)),
            ("employer", json!("Les Jardins de Wazemmes")),
            ("job_title", json!("Maraîcher")),
            ("contract", json!("iae")),
            ("hours_per_week", json!(26)),
            ("start_on", json!(day(-3))),
        ]),
    )?;
    f.create(
        "training",
        fields(&[
            ("person_id", id(gheorghe)),
            ("provider", json!("AFPA Roubaix")),
            ("title", json!("Français langue professionnelle")),
            ("start_on", json!(day(-40))),
            ("status", json!("enrolled")),
        ]),
    )?;
    f.create(
        "referral",
        fields(&[
            ("person_id", id(ancuta)),
            ("to_service", json!("PMI de Villeneuve-d'Ascq")),
            ("constraint", json!("health")),
            ("status", json!("sent")),
            ("sent_on", json!(day(-10))),
        ]),
    )?;
    f.create(
        "visit",
        fields(&[
            ("occurred_at", json!(at(-21, 9))),
            ("setting", json!("care_centre")),
            ("site_id", id(&abbe)),
            (
                "person_ids",
                json!([gheorghe.to_string(), ancuta.to_string()]),
            ),
            ("purpose", json!("Rencontre à l'accueil de jour")),
            (
                "observations",
                json!("Gheorghe suit sa formation ; Ancuța attend un rendez-vous à la PMI."),
            ),
            ("next_visit_on", json!(day(-2))),
        ]),
    )?;
    // The Chemin Vert site was evicted: the Stoica family moved to the day centre.
    f.evict(&Eviction {
        site: chemin_vert,
        on: day(-5),
        to_site: abbe,
        households: vec![stoica],
        persons: Vec::new(),
    })?;
    // Another device changed Ștefan's phone while this one did: a conflict to resolve.
    let other: ReplicaId = OTHER_DEVICE.parse()?;
    let mut theirs = f.get(*stefan)?;
    theirs.edit(
        other,
        stamp(-1)?,
        [(field("phone")?, json!("07 61 22 33 44"))],
    )?;
    f.edit(*stefan, fields(&[("phone", json!("06 12 34 56 78"))]))?;
    let checkpoint = f.pull_checkpoint()?;
    f.apply_pulled(&[theirs], checkpoint)?;
    // Who that device is, as a sync would have learnt from the server's replica
    // directory. `casefile` keeps it in this setting and has no setter of its own (only a
    // sync writes it): should the key change, the conflicts screen shows the device's id
    // instead of its name, nothing worse.
    let directory = casefile::sync_protocol::wire::Replicas::from([(
        other,
        casefile::sync_protocol::wire::ReplicaInfo {
            device_name: "Portable de Karim".to_owned(),
            user: "karim".to_owned(),
        },
    )]);
    f.set_setting("sync.replicas", &serde_json::to_string(&directory)?)?;
    println!("{}", f.replica_id());
    Ok(())
}

fn field(name: &str) -> Result<FieldName> {
    name.parse().map_err(|e| anyhow::anyhow!("{e}"))
}

fn stamp(offset_days: i64) -> Result<Timestamp> {
    Ok(Timestamp::from_datetime(
        Utc::now() + Duration::days(offset_days),
    ))
}

fn new_id() -> Result<RecordId> {
    Ok(uuid::Uuid::now_v7().to_string().parse()?)
}

fn bulk(path: &Path, passphrase: &str, persons: usize) -> Result<()> {
    const FAMILIES: &[&str] = &[
        "Lăcătuș",
        "Stoica",
        "Dumitru",
        "Popescu",
        "Ionescu",
        "Constantin",
        "Stan",
        "Moldovan",
        "Petrov",
        "Ivanova",
        "Georgiev",
        "Rădulescu",
        "Bălan",
        "Șerban",
        "Martin",
        "Dubois",
        "Lefebvre",
        "Moreau",
        "Mihăilă",
        "Niculescu",
        "Țurcanu",
        "Preda",
        "Zamfir",
        "Vasile",
    ];
    const GIVEN: &[&str] = &[
        "Ștefan",
        "Ioana",
        "Mihai",
        "Florentina",
        "Gheorghe",
        "Ancuța",
        "Dimitar",
        "Desislava",
        "Marius",
        "Elena",
        "Costel",
        "Maria",
        "Nicolae",
        "Ionuț",
        "Alina",
        "Petru",
        "Jean",
        "Camille",
        "Adrian",
        "Roxana",
        "Vasile",
        "Daniela",
        "Sorin",
        "Lăcrămioara",
    ];
    let mut f = CaseFile::init(path, passphrase)?;
    let other: ReplicaId = OTHER_DEVICE.parse()?;
    let kind = |k: &str| k.parse::<Kind>().map_err(|e| anyhow::anyhow!("{e}"));
    let make = |k: &str, pairs: Vec<(&str, Value)>| -> Result<RecordState> {
        let named: Vec<(FieldName, Value)> = pairs
            .into_iter()
            .map(|(n, v)| Ok((field(n)?, v)))
            .collect::<Result<_>>()?;
        Ok(RecordState::create(
            new_id()?,
            kind(k)?,
            other,
            stamp(-30)?,
            named,
        )?)
    };
    let sites_count = (persons / 50).max(1);
    let mut page = Vec::new();
    let mut sites = Vec::new();
    for i in 0..sites_count {
        let s = make(
            "site",
            vec![
                ("name", json!(format!("Terrain {i:03}"))),
                ("type", json!("bidonville")),
                ("commune", json!("Lille")),
                ("status", json!("active")),
            ],
        )?;
        sites.push(s.id());
        page.push(s);
    }
    let mut next = 1;
    let mut flush = |f: &mut CaseFile, page: &mut Vec<RecordState>| -> Result<()> {
        f.apply_pulled(page, next)?;
        next += 1;
        page.clear();
        Ok(())
    };
    flush(&mut f, &mut page)?;
    let mut household = None;
    for i in 0..persons {
        let site = sites[i % sites_count];
        if i % 4 == 0 {
            let h = make(
                "household",
                vec![
                    (
                        "name",
                        json!(format!("Famille {}", FAMILIES[i % FAMILIES.len()])),
                    ),
                    ("site_id", json!(site.to_string())),
                ],
            )?;
            household = Some(h.id());
            page.push(h);
        }
        let p = make(
            "person",
            vec![
                ("family_name", json!(FAMILIES[i % FAMILIES.len()])),
                ("given_names", json!(GIVEN[(i / 7) % GIVEN.len()])),
                ("aliases", json!([format!("Alias {i}")])),
                ("birth_date", json!(format!("{}", 1960 + i % 45))),
                (
                    "phone",
                    json!(format!(
                        "06 {:02} {:02} {:02} {:02}",
                        i % 97,
                        i % 89,
                        i % 83,
                        i % 79
                    )),
                ),
                ("site_id", json!(site.to_string())),
                ("household_id", json!(household.map(|h| h.to_string()))),
                ("status", json!("active")),
            ],
        )?;
        let person = p.id();
        page.push(p);
        if i % 2 == 0 {
            page.push(make(
                "visit",
                vec![
                    ("occurred_at", json!(at(-((i % 60) as i64) - 1, 10))),
                    ("setting", json!("home_visit")),
                    ("site_id", json!(site.to_string())),
                    ("person_ids", json!([person.to_string()])),
                    ("purpose", json!("Suivi")),
                    // A team sees most follow-ups coming: one visit in a hundred is due.
                    (
                        "next_visit_on",
                        json!(day(if i % 200 == 0 {
                            -((i % 9) as i64)
                        } else {
                            (i % 60) as i64 + 1
                        })),
                    ),
                ],
            )?);
            page.push(make(
                "step",
                vec![
                    ("person_id", json!(person.to_string())),
                    ("category", json!("job_search")),
                    ("title", json!("Candidature")),
                    ("status", json!("planned")),
                    // And one step in a hundred is overdue.
                    (
                        "due_on",
                        json!(day(if i % 200 == 0 {
                            -((i % 20) as i64) - 1
                        } else {
                            (i % 90) as i64 + 1
                        })),
                    ),
                ],
            )?);
        }
        if page.len() >= 2000 {
            flush(&mut f, &mut page)?;
        }
    }
    flush(&mut f, &mut page)?;
    println!("{}", f.replica_id());
    Ok(())
}

fn find(f: &CaseFile, search: &str) -> Result<RecordState> {
    f.search(search, 1)?
        .into_iter()
        .next()
        .with_context(|| "no person matches the search".to_owned())
}

fn conflict(
    path: &Path,
    passphrase: &str,
    search: &str,
    name: &str,
    mine: &str,
    theirs_value: &str,
) -> Result<()> {
    let mut f = CaseFile::open(path, passphrase)?;
    let person = find(&f, search)?;
    let mut theirs = person.clone();
    theirs.edit(
        OTHER_DEVICE.parse()?,
        stamp(0)?,
        [(field(name)?, json!(theirs_value))],
    )?;
    f.edit(person.id(), fields(&[(name, json!(mine))]))?;
    let checkpoint = f.pull_checkpoint()?;
    f.apply_pulled(&[theirs], checkpoint)?;
    println!("{}", person.id());
    Ok(())
}

/// A second file of the demo's Gheorghe Dumitru, as another counsellor entered him on the
/// same site under another spelling: a possible duplicate for the screenshots.
fn duplicate(path: &Path, passphrase: &str) -> Result<()> {
    let mut f = CaseFile::open(path, passphrase)?;
    let gheorghe = find(&f, "gheorghe dumitru")?;
    let site = gheorghe
        .value("site_id")
        .cloned()
        .context("the demo's Gheorghe lives on a site")?;
    f.create(
        "person",
        fields(&[
            ("family_name", json!("Dumitrou")),
            ("given_names", json!("Gheorge")),
            ("birth_date", json!("1979")),
            ("phone", json!("06 51 22 40 17")),
            ("site_id", site),
            ("referent", json!("karim")),
        ]),
    )?;
    Ok(())
}

fn delete_conflict(path: &Path, passphrase: &str, search: &str) -> Result<()> {
    let mut f = CaseFile::open(path, passphrase)?;
    let person = find(&f, search)?;
    let mut theirs = person.clone();
    theirs.delete(OTHER_DEVICE.parse()?, stamp(0)?)?;
    f.edit(person.id(), fields(&[("notes", json!("Vu ce matin"))]))?;
    let checkpoint = f.pull_checkpoint()?;
    f.apply_pulled(&[theirs], checkpoint)?;
    println!("{}", person.id());
    Ok(())
}
