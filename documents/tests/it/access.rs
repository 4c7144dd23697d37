//! The access export (GDPR article 15) read back: its JSON parsed, its PDF's text
//! through `pdftotext`. Everything about the person, nothing of anyone else.

use casefile::CaseFile;
use casefile::sync_protocol::RecordId;
use serde_json::{Value, json};

use crate::common::{fields, flat, foreign, fresh, pdf_text, person};

struct Sample {
    stefan: RecordId,
    /// Every record about Ștefan, by kind.
    about: Vec<(&'static str, RecordId)>,
    alone_visit: RecordId,
    group_visit: RecordId,
    /// Names and ids of other persons, which the export must not hold.
    others: Vec<String>,
}

const ALONE_OBSERVATIONS: &str = "Ștefan a apporté son CV ; très motivé pour le bâtiment.";
const GROUP_OBSERVATIONS: &str = "Ruxandra et Ștefan ont parlé du chantier de Roubaix.";

/// An access export: its JSON, made by the case file, and its PDF, written here.
struct Export {
    json: String,
    pdf: Vec<u8>,
}

fn access_export(file: &CaseFile, person: RecordId) -> Export {
    let access = file.access(person).unwrap();
    let pdf = documents::access_pdf(&access).unwrap();
    Export {
        json: access.json,
        pdf,
    }
}

fn create(file: &mut CaseFile, kind: &str, pairs: &[(&str, Value)]) -> RecordId {
    file.create(kind, fields(pairs)).unwrap()
}

fn sample(file: &mut CaseFile) -> Sample {
    file.set_organisation(fields(&[
        ("name", json!("Association Îlot Fraternité")),
        ("contact", json!("accueil@ilot.example")),
        ("dpo_contact", json!("dpo@ilot.example")),
        ("purposes", json!("Accompagnement socioprofessionnel")),
        ("recipients", json!("France Travail et CCAS de Lille")),
        ("retention_months", json!(30)),
    ]))
    .unwrap();
    let site = create(file, "site", &[("name", json!("Terrain de la Deûle"))]);
    let household = create(
        file,
        "household",
        &[
            ("name", json!("Ménage Lăcătuș")),
            ("site_id", json!(site.to_string())),
            ("notes", json!("Mărioara garde les enfants le matin.")),
        ],
    );
    let stefan = person(file, "Lăcătuș", "Ștefan");
    let maria = person(file, "Țîrcă", "Mărioara");
    let ruxandra = person(file, "Quintana", "Ruxandra");
    for member in [stefan, maria] {
        file.edit(
            member,
            fields(&[("household_id", json!(household.to_string()))]),
        )
        .unwrap();
    }
    let s = stefan.to_string();
    let situation = create(
        file,
        "situation",
        &[
            ("person_id", json!(s)),
            ("social_security_number", json!("1 91 04 99 123 456 78")),
            ("health_cover", json!("ame")),
        ],
    );
    let stay = create(
        file,
        "stay",
        &[
            ("person_id", json!(s)),
            ("site_id", json!(site.to_string())),
            ("from_on", json!("2026-03-01")),
        ],
    );
    let alone_visit = create(
        file,
        "visit",
        &[
            ("occurred_at", json!("2026-11-02T10:14:00+01:00")),
            ("setting", json!("office_interview")),
            ("person_ids", json!([s])),
            ("observations", json!(ALONE_OBSERVATIONS)),
        ],
    );
    let group_visit = create(
        file,
        "visit",
        &[
            ("occurred_at", json!("2026-11-09T15:00:00+01:00")),
            ("setting", json!("home_visit")),
            ("person_ids", json!([s, ruxandra.to_string()])),
            ("purpose", json!("Atelier collectif sur les chantiers")),
            ("observations", json!(GROUP_OBSERVATIONS)),
            (
                "decisions",
                json!("Ruxandra rappellera l'agence d'intérim."),
            ),
        ],
    );
    let step = create(
        file,
        "step",
        &[
            ("person_id", json!(s)),
            ("visit_id", json!(alone_visit.to_string())),
            ("category", json!("documents")),
            ("title", json!("Renouveler le titre de séjour")),
        ],
    );
    let employment = create(
        file,
        "employment",
        &[
            ("person_id", json!(s)),
            ("employer", json!("Bâtisseurs du Nord")),
        ],
    );
    let training = create(
        file,
        "training",
        &[("person_id", json!(s)), ("title", json!("CACES R482"))],
    );
    let referral = create(
        file,
        "referral",
        &[
            ("person_id", json!(s)),
            ("to_service", json!("PASS de l'hôpital")),
        ],
    );
    file.delete(referral).unwrap();
    // A kind this build does not know yet, pulled from a newer device.
    let attachment = foreign(
        "attachment",
        &[
            ("person_id", json!(s)),
            ("title", json!("Carte d'identité roumaine")),
        ],
    );
    file.apply_pulled(std::slice::from_ref(&attachment), 1)
        .unwrap();
    // Records about the others only.
    create(
        file,
        "step",
        &[
            ("person_id", json!(ruxandra.to_string())),
            ("category", json!("training")),
            ("title", json!("Inscription de Ruxandra au CACES")),
        ],
    );
    create(
        file,
        "visit",
        &[
            ("occurred_at", json!("2026-11-10T09:00:00+01:00")),
            ("setting", json!("phone")),
            ("person_ids", json!([maria.to_string()])),
            ("observations", json!("Mărioara cherche une crèche.")),
        ],
    );
    Sample {
        stefan,
        about: vec![
            ("person", stefan),
            ("household", household),
            ("situation", situation),
            ("stay", stay),
            ("visit", alone_visit),
            ("visit", group_visit),
            ("step", step),
            ("employment", employment),
            ("training", training),
            ("referral", referral),
            ("attachment", attachment.id()),
        ],
        alone_visit,
        group_visit,
        others: vec![
            maria.to_string(),
            ruxandra.to_string(),
            "Țîrcă".into(),
            "Mărioara".into(),
            "Quintana".into(),
            "Ruxandra".into(),
        ],
    }
}

fn record(doc: &Value, id: RecordId) -> &Value {
    doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == json!(id.to_string()))
        .unwrap_or_else(|| panic!("the export should hold the record {id}"))
}

#[test]
fn the_access_export_holds_everything_about_the_person_and_nobody_else() {
    let (_dir, mut file) = fresh();
    let s = sample(&mut file);
    file.set_setting("sync.last_sync_at", "2026-11-30T09:00:00Z")
        .unwrap();
    let directory = json!({
        file.replica_id().to_string(): {"device_name": "Portable de Hélène", "user": "helene"}
    });
    file.set_setting("sync.replicas", &directory.to_string())
        .unwrap();

    let export = access_export(&file, s.stefan);
    let doc: Value = serde_json::from_str(&export.json).unwrap();
    let words = flat(&pdf_text(&export.pdf));

    // Everything about him, of every kind, the unknown kind included.
    let kinds: Vec<&str> = doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = s.about.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, expected, "the person, the household, then by kind");
    for (kind, id) in &s.about {
        assert_eq!(record(&doc, *id)["kind"], json!(kind));
        assert!(
            words.contains(&id.to_string()),
            "the PDF should list the {kind} {id}"
        );
    }
    assert_eq!(
        record(&doc, s.about[10].1)["fields"]["title"],
        json!("Carte d'identité roumaine")
    );
    assert_eq!(record(&doc, s.about[9].1)["deleted"], json!(true));
    for expected in [
        "Lăcătuș Ștefan",
        "1 91 04 99 123 456 78",
        "Renouveler le titre de séjour",
        "Bâtisseurs du Nord",
        "CACES R482",
        "PASS de l'hôpital",
        "Orientation (supprimé)",
        "Carte d'identité roumaine",
        "Ménage Lăcătuș",
        "Terrain de la Deûle",
        ALONE_OBSERVATIONS,
    ] {
        assert!(
            words.contains(expected),
            "the PDF should hold {expected:?}: {words}"
        );
    }
    assert_eq!(
        record(&doc, s.alone_visit)["fields"]["observations"],
        json!(ALONE_OBSERVATIONS),
        "a visit that met him alone is his whole"
    );

    // Nobody else: not in the JSON, not in the PDF.
    for other in &s.others {
        assert!(
            !export.json.contains(other.as_str()),
            "the JSON must not hold {other:?}"
        );
        assert!(
            !words.contains(other.as_str()),
            "the PDF must not hold {other:?}"
        );
    }
    assert!(!export.json.contains("Inscription de Ruxandra"));

    // The group visit: him alone among the persons met, and no free text.
    let group = record(&doc, s.group_visit);
    assert_eq!(group["fields"]["person_ids"], json!([s.stefan.to_string()]));
    for field in ["observations", "decisions", "purpose"] {
        assert!(
            group["fields"].get(field).is_none(),
            "the group visit's {field} is withheld: {group}"
        );
    }
    assert_eq!(group["fields"]["setting"], json!("home_visit"));
    assert!(!export.json.contains(GROUP_OBSERVATIONS));
    assert!(!words.contains("chantier de Roubaix"));
    assert!(
        !export.json.contains("Mărioara garde"),
        "the shared household's notes are withheld"
    );

    // What was withheld, and why, with no name or id of anyone.
    let withheld = doc["withheld"].as_array().unwrap();
    let about = |id: RecordId| -> Vec<String> {
        withheld
            .iter()
            .filter(|w| w["record"] == json!(id.to_string()))
            .map(|w| w["what"].as_str().unwrap().to_owned())
            .collect()
    };
    let group_notes = about(s.group_visit);
    assert!(
        group_notes
            .iter()
            .any(|w| w.contains("autres personnes rencontrées (1)")),
        "the other person met is counted: {group_notes:?}"
    );
    assert!(
        group_notes
            .iter()
            .any(|w| w.contains("Observations") && w.contains("Décisions") && w.contains("Objet")),
        "the free text withheld is named: {group_notes:?}"
    );
    let household_notes = about(s.about[1].1);
    assert!(
        household_notes
            .iter()
            .any(|w| w.contains("autres membres du ménage (1)")),
        "the household's other member is counted: {household_notes:?}"
    );
    assert!(about(s.alone_visit).is_empty(), "nothing withheld alone");
    assert!(words.contains("Ce qui n'est pas communiqué"));
    assert!(words.contains("Non communiqué : le texte libre : Décisions, Observations, Objet"));

    // History, with who and when.
    let history = record(&doc, s.stefan)["history"].as_array().unwrap();
    let household_set = history
        .iter()
        .find(|h| h["field"] == json!("household_id"))
        .expect("the person's history holds the household edit");
    assert_eq!(household_set["device"], json!("Portable de Hélène"));
    assert_eq!(household_set["user"], json!("helene"));
    assert!(household_set["at"].as_str().unwrap().starts_with("20"));
    assert!(words.contains("Portable de Hélène (helene)"), "{words}");

    // When it was made and last synced; the article 15 information.
    assert_eq!(doc["last_sync_at"], json!("2026-11-30T09:00:00Z"));
    assert!(doc["generated_at"].as_str().unwrap().starts_with("20"));
    assert!(
        words.contains("dernière synchronisation, le lundi 30/11/2026 à 10 h 00"),
        "{words}"
    );
    assert_eq!(
        doc["information"]["purposes"],
        json!("Accompagnement socioprofessionnel")
    );
    assert_eq!(doc["organisation"]["retention_months"], json!(30));
    for expected in [
        "Accompagnement socioprofessionnel",
        "France Travail et CCAS de Lille",
        "accueil@ilot.example",
        "dpo@ilot.example",
        "30 mois après la clôture du dossier",
        "droit de rectification",
        "droit à l'effacement",
        "3 place de Fontenoy",
    ] {
        assert!(
            words.contains(expected),
            "the article 15 information should hold {expected:?}"
        );
    }
}

#[test]
fn an_export_from_a_case_file_never_synced_says_so() {
    let (_dir, mut file) = fresh();
    let lone = person(&mut file, "Rusu", "Ilie");
    let export = access_export(&file, lone);
    let doc: Value = serde_json::from_str(&export.json).unwrap();
    assert_eq!(doc["last_sync_at"], Value::Null);
    assert_eq!(doc["records"].as_array().unwrap().len(), 1);
    assert_eq!(doc["withheld"], json!([]));
    let words = flat(&pdf_text(&export.pdf));
    assert!(words.contains("ne s'est jamais synchronisé"), "{words}");
    assert_eq!(
        words.matches("non renseigné").count(),
        6,
        "settings not filled in say so (organisation, address, contact, data protection \
         contact, purposes, recipients): {words}"
    );
    assert!(
        words.contains("Rien : ce document contient tout"),
        "nothing withheld is said too"
    );
}

/// A record of a kind this build does not know that names the person in one person
/// field and someone else in another (a duplicate mark) is shared: its free text, which
/// speaks of the other, and the other's id are withheld and noted, in either person's
/// export.
#[test]
fn a_record_naming_someone_else_in_another_person_field_is_shared() {
    let (_dir, mut file) = fresh();
    let stefan = person(&mut file, "Lăcătuș", "Ștefan");
    let ruxandra = person(&mut file, "Quintana", "Ruxandra");
    let notes = "Ruxandra Quintana a donné le même numéro de téléphone.";
    let mark = foreign(
        "duplicate",
        &[
            ("person_id", json!(ruxandra.to_string())),
            ("other_person_id", json!(stefan.to_string())),
            ("notes", json!(notes)),
        ],
    );
    file.apply_pulled(std::slice::from_ref(&mark), 1).unwrap();

    let export = access_export(&file, stefan);
    let doc: Value = serde_json::from_str(&export.json).unwrap();
    let shown = record(&doc, mark.id());
    assert_eq!(
        shown["fields"],
        json!({"other_person_id": stefan.to_string()}),
        "only the field naming him is shown: {shown}"
    );
    let words = flat(&pdf_text(&export.pdf));
    for other in [ruxandra.to_string(), "Quintana".into(), "Ruxandra".into()] {
        assert!(
            !export.json.contains(other.as_str()),
            "the JSON must not hold {other:?}"
        );
        assert!(
            !words.contains(other.as_str()),
            "the PDF must not hold {other:?}"
        );
    }
    let noted: Vec<&str> = doc["withheld"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["record"] == json!(mark.id().to_string()))
        .map(|w| w["what"].as_str().unwrap())
        .collect();
    assert!(
        noted
            .iter()
            .any(|w| w.contains("l'identifiant d'une autre personne"))
            && noted.iter().any(|w| w.contains("le texte libre")),
        "the other's id and the free text are noted: {noted:?}"
    );

    // In the other person's export, the mark names him: withheld the same way.
    let theirs = access_export(&file, ruxandra);
    let doc: Value = serde_json::from_str(&theirs.json).unwrap();
    assert_eq!(
        record(&doc, mark.id())["fields"],
        json!({"person_id": ruxandra.to_string()}),
        "only the field naming her is shown"
    );
    assert!(!theirs.json.contains(notes) && !theirs.json.contains(&stefan.to_string()));
}
