//! Finding persons by any spelling.

use casefile::CaseFile;
use casefile::sync_protocol::RecordId;
use serde_json::json;

use crate::common::*;

fn names(file: &CaseFile, text: &str) -> Vec<RecordId> {
    file.search(text, 50)
        .unwrap()
        .iter()
        .map(|s| s.id())
        .collect()
}

#[test]
fn any_spelling_finds_the_person() {
    let (_dir, mut file) = fresh();
    let stefan = file
        .create(
            "person",
            fields(&[
                ("family_name", json!("Lăcătuș")),
                ("given_names", json!("Ștefan Mihaï")),
                ("aliases", json!(["Stefane Lacatus"])),
                ("phone", json!("06 12 34 56 78")),
            ]),
        )
        .unwrap();
    let other = person(&mut file, "Popescu", "Ion");
    for query in [
        "Ștefan",
        "Ştefan",
        "ștefan",
        "ştefan",
        "Stefan",
        "STEF",
        "ste",
        "mihai",
        "Mihaï",
        "lacatus",
        "LĂCĂTUȘ",
        "stefane",
        "stefan lac",
        "lac ste",
        "0612",
        "06123456",
        "Lacatus 0612",
        "06 12 34",
        "06.12.34.56",
    ] {
        assert_eq!(
            names(&file, query),
            vec![stefan],
            "{query:?} should find Ștefan only"
        );
    }
    assert_eq!(names(&file, "ion"), vec![other]);
    assert!(
        names(&file, "stefan ion").is_empty(),
        "every word must match"
    );
    assert!(
        names(&file, "tefan").is_empty(),
        "words match as prefixes, not inside"
    );
    assert!(names(&file, "   ").is_empty());
}

#[test]
fn best_match_first() {
    let (_dir, mut file) = fresh();
    let alias = file
        .create(
            "person",
            fields(&[
                ("family_name", json!("Zamfir")),
                ("aliases", json!(["Dan"])),
            ]),
        )
        .unwrap();
    let prefix = person(&mut file, "Danescu", "Ana");
    let exact = person(&mut file, "Dan", "Ana");
    assert_eq!(
        names(&file, "dan"),
        vec![exact, prefix, alias],
        "whole name, then prefix of a name, then alias"
    );
}

#[test]
fn edits_and_deletions_reach_the_index() {
    let (_dir, mut file) = fresh();
    let id = person(&mut file, "Popa", "Ion");
    file.edit(id, fields(&[("family_name", json!("Rusu"))]))
        .unwrap();
    assert!(names(&file, "popa").is_empty(), "the old name is gone");
    assert_eq!(names(&file, "rusu"), vec![id]);
    file.delete(id).unwrap();
    assert!(
        names(&file, "rusu").is_empty(),
        "a deleted person is not found"
    );
    file.restore(id).unwrap();
    assert_eq!(
        names(&file, "rusu"),
        vec![id],
        "a restored person is found again"
    );
}
