//! The derived tables are a function of the record states.

use casefile::Eviction;
use serde_json::json;

use crate::common::*;

fn dump(conn: &rusqlite::Connection) -> String {
    let mut out = String::new();
    let tables = [
        "site",
        "household",
        "person",
        "situation",
        "stay",
        "visit",
        "visit_person",
        "step",
        "employment",
        "training",
        "referral",
        "person_terms",
    ];
    for table in tables {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2"))
            .unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            out.push_str(table);
            for i in 0..columns {
                let value: rusqlite::types::Value = row.get(i).unwrap();
                out.push_str(&format!("|{value:?}"));
            }
            out.push('\n');
        }
    }
    let mut stmt = conn
        .prepare("SELECT id, deleted, erased, conflicted FROM records ORDER BY id")
        .unwrap();
    let mut rows = stmt.query([]).unwrap();
    while let Some(row) = rows.next().unwrap() {
        let flags: (String, i64, i64, i64) = (
            row.get(0).unwrap(),
            row.get(1).unwrap(),
            row.get(2).unwrap(),
            row.get(3).unwrap(),
        );
        out.push_str(&format!("records|{flags:?}\n"));
    }
    out
}

#[test]
fn rebuild_recomputes_the_same_derived_tables() {
    let (dir, mut file) = fresh();
    let camp = site(&mut file, "Camp");
    let shelter = site(&mut file, "Shelter");
    let mut persons = Vec::new();
    for i in 0..20 {
        let p = person(&mut file, &format!("Ștefănescu{i}"), "Mihaï");
        file.edit(
            p,
            fields(&[
                ("site_id", json!(camp.to_string())),
                ("phone", json!(format!("06{i:08}"))),
            ]),
        )
        .unwrap();
        file.create(
            "visit",
            fields(&[
                ("occurred_at", json!("2026-11-02T10:00:00+01:00")),
                ("setting", json!("home_visit")),
                ("person_ids", json!([p.to_string()])),
            ]),
        )
        .unwrap();
        persons.push(p);
    }
    file.delete(persons[3]).unwrap();
    file.evict(&Eviction {
        site: camp,
        on: "2026-11-15".into(),
        to_site: shelter,
        households: vec![],
        persons: vec![persons[0], persons[1]],
    })
    .unwrap();
    let remote = foreign("person", &[("family_name", json!("Lăcătuș"))]);
    file.apply_pulled(&[remote], 1).unwrap();

    let conn = raw(&db_path(&dir), PASS);
    let before = dump(&conn);
    assert!(
        before.contains("person_terms"),
        "the dump must see the search terms"
    );
    file.rebuild().unwrap();
    assert_eq!(
        dump(&conn),
        before,
        "rebuilding must give the same derived tables"
    );

    // Derived tables damaged behind the library's back come back from the states.
    conn.execute_batch(
        "DELETE FROM person_terms; DELETE FROM visit_person; DELETE FROM person;
         UPDATE records SET conflicted = 1;",
    )
    .unwrap();
    assert_ne!(dump(&conn), before, "the damage must show");
    file.rebuild().unwrap();
    assert_eq!(
        dump(&conn),
        before,
        "rebuild must repair every derived table"
    );
    assert_eq!(
        file.search("stefanescu1", 50).unwrap().len(),
        11,
        "search works again"
    );
}
