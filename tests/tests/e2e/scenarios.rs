//! The scenarios of a team's week: concurrent edits, conflicts and their resolution,
//! delete against edit, an eviction recorded offline, and an erasure on the server.
//! Each runs on the SQLite and on the PostgreSQL server.

use casefile::Eviction;
use passerelle_e2e::harness::{Backend, Device, Server, settle};
use serde_json::json;

use crate::{add_person, fields};

/// A server, one organisation and three enrolled devices.
struct Team {
    server: Server,
    org: String,
    user: String,
    a: Device,
    b: Device,
    c: Device,
}

fn team(backend: Backend) -> Team {
    let server = Server::start(backend);
    let (org, user) = server.new_org();
    let a = Device::enrolled("marie", &server, &user);
    let b = Device::enrolled("ion", &server, &user);
    let c = Device::enrolled("elena", &server, &user);
    Team {
        server,
        org,
        user,
        a,
        b,
        c,
    }
}

fn edits_conflicts_and_resolution(backend: Backend) {
    let Team {
        server,
        user,
        mut a,
        mut b,
        mut c,
        ..
    } = team(backend);
    let p = add_person(&mut a.file, "Lăcătuș", "Ștefan");
    settle(&mut [&mut a, &mut b, &mut c]);
    assert_eq!(
        b.file.get(p).unwrap().value("given_names"),
        Some(&json!("Ștefan"))
    );

    // Different fields, offline on two devices: both edits survive, no conflict.
    a.file
        .edit(p, fields(&[("phone", json!("06 12 34 56 78"))]))
        .unwrap();
    b.file
        .edit(
            p,
            fields(&[("notes", json!("Cherche un emploi en maraîchage"))]),
        )
        .unwrap();
    settle(&mut [&mut a, &mut b, &mut c]);
    let state = c.file.get(p).unwrap();
    assert_eq!(state.value("phone"), Some(&json!("06 12 34 56 78")));
    assert_eq!(
        state.value("notes"),
        Some(&json!("Cherche un emploi en maraîchage"))
    );
    assert!(
        c.file.conflicts().unwrap().is_empty(),
        "different fields must merge without conflict"
    );

    // The same field: a conflict on every device.
    a.file
        .edit(p, fields(&[("given_names", json!("Stefan"))]))
        .unwrap();
    b.file
        .edit(p, fields(&[("given_names", json!("Ștefane"))]))
        .unwrap();
    settle(&mut [&mut a, &mut b, &mut c]);
    for device in [&a, &b, &c] {
        let conflicts = device.file.conflicts().unwrap();
        assert_eq!(conflicts.len(), 1, "{} must list the conflict", device.name);
        assert_eq!(conflicts[0].fields, ["given_names"]);
        assert_eq!(device.file.get(p).unwrap().entries("given_names").len(), 2);
    }

    // Resolved on one device: cleared everywhere.
    c.file.resolve(p, "given_names", json!("Ștefan")).unwrap();
    // A device enrolled now receives the server's states: they must be the same too.
    let mut fresh = Device::enrolled("nouveau", &server, &user);
    settle(&mut [&mut a, &mut b, &mut c, &mut fresh]);
    for device in [&a, &b, &c, &fresh] {
        assert!(
            device.file.conflicts().unwrap().is_empty(),
            "{} still lists a conflict",
            device.name
        );
        assert_eq!(
            device.file.get(p).unwrap().value("given_names"),
            Some(&json!("Ștefan"))
        );
    }
}

fn delete_against_edit(backend: Backend) {
    let Team {
        server: _server,
        mut a,
        mut b,
        mut c,
        ..
    } = team(backend);
    let step_person = add_person(&mut a.file, "Stoica", "Mihai");
    let step = a
        .file
        .create(
            "step",
            fields(&[
                ("person_id", json!(step_person.to_string())),
                ("category", json!("documents")),
                ("title", json!("Renouveler la carte d'identité")),
            ]),
        )
        .unwrap();
    settle(&mut [&mut a, &mut b, &mut c]);
    a.file.delete(step).unwrap();
    b.file
        .edit(
            step,
            fields(&[("notes", json!("Rendez-vous au consulat le 3"))]),
        )
        .unwrap();
    settle(&mut [&mut a, &mut b, &mut c]);
    for device in [&a, &b, &c] {
        let conflicts = device.file.conflicts().unwrap();
        assert!(
            conflicts
                .iter()
                .any(|x| x.id == step && x.deleted_with_edits),
            "{} must show the deletion against the edit: {conflicts:?}",
            device.name
        );
    }
    // B keeps the edit by restoring; everyone follows.
    b.file.restore(step).unwrap();
    settle(&mut [&mut a, &mut b, &mut c]);
    for device in [&a, &b, &c] {
        let state = device.file.get(step).unwrap();
        assert!(
            !state.is_deleted(),
            "{} must see the step restored",
            device.name
        );
        assert_eq!(
            state.value("notes"),
            Some(&json!("Rendez-vous au consulat le 3"))
        );
        assert!(device.file.conflicts().unwrap().is_empty());
    }
}

fn eviction_made_offline(backend: Backend) {
    let Team {
        server: _server,
        mut a,
        mut b,
        mut c,
        ..
    } = team(backend);
    let site = |file: &mut casefile::CaseFile, name: &str| {
        file.create(
            "site",
            fields(&[("name", json!(name)), ("type", json!("bidonville"))]),
        )
        .unwrap()
    };
    let old = site(&mut a.file, "Chemin Vert");
    let new = site(&mut a.file, "Rue des Sarrazins");
    let household = a
        .file
        .create(
            "household",
            fields(&[
                ("name", json!("Famille Dumitru")),
                ("site_id", json!(old.to_string())),
            ]),
        )
        .unwrap();
    let person = a
        .file
        .create(
            "person",
            fields(&[
                ("family_name", json!("Dumitru")),
                ("given_names", json!("Ana-Maria")),
                ("household_id", json!(household.to_string())),
                ("site_id", json!(old.to_string())),
            ]),
        )
        .unwrap();
    settle(&mut [&mut a, &mut b, &mut c]);
    // A records the eviction with no network, then syncs later.
    a.file
        .evict(&Eviction {
            site: old,
            on: "2026-11-20".into(),
            to_site: new,
            households: vec![household],
            persons: vec![],
        })
        .unwrap();
    settle(&mut [&mut a, &mut b, &mut c]);
    for device in [&b, &c] {
        assert_eq!(
            device.file.get(old).unwrap().value("status"),
            Some(&json!("evicted")),
            "{}",
            device.name
        );
        assert_eq!(
            device.file.get(person).unwrap().value("site_id"),
            Some(&json!(new.to_string()))
        );
        assert_eq!(
            device.file.get(household).unwrap().value("site_id"),
            Some(&json!(new.to_string()))
        );
        let stays = device.file.list("stay").unwrap();
        assert!(
            stays
                .iter()
                .any(|s| s.value("site_id") == Some(&json!(new.to_string()))),
            "{} must hold the new stay",
            device.name
        );
    }
}

fn erasure_reaches_every_device(backend: Backend) {
    let Team {
        server,
        org,
        mut a,
        mut b,
        mut c,
        ..
    } = team(backend);
    let p = add_person(&mut a.file, "Rădulescu", "Florin");
    a.file
        .edit(p, fields(&[("phone", json!("07 11 22 33 44"))]))
        .unwrap();
    let kept = add_person(&mut a.file, "Petrova", "Desislava");
    settle(&mut [&mut a, &mut b, &mut c]);
    assert_eq!(b.file.search("radulescu", 10).unwrap().len(), 1);
    server.erase(&org, &p.to_string());
    // An edit made offline before the erasure reached the device is absorbed too.
    c.file
        .edit(p, fields(&[("notes", json!("vu au centre de jour"))]))
        .unwrap();
    settle(&mut [&mut a, &mut b, &mut c]);
    for device in [&a, &b, &c] {
        assert!(
            matches!(device.file.get(p), Err(casefile::Error::NotFound(_))),
            "{} must no longer show the erased person",
            device.name
        );
        assert!(
            device
                .file
                .all_states()
                .unwrap()
                .iter()
                .all(|s| s.id() != p),
            "{} keeps no trace of the erased record, not even its id",
            device.name
        );
        assert!(
            device.file.search("radulescu", 10).unwrap().is_empty(),
            "{} still finds it",
            device.name
        );
        assert!(
            device.file.search("07112233", 10).unwrap().is_empty(),
            "{} still finds the phone",
            device.name
        );
        assert_eq!(device.file.search("petrova", 10).unwrap().len(), 1);
        assert!(device.file.get(kept).is_ok());
    }
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(passerelle_e2e::harness::Backend::Sqlite) })*
        }
        mod postgres {
            $(#[test] fn $name() { super::$name(passerelle_e2e::harness::Backend::Postgres) })*
        }
    };
}

on_both_backends!(
    edits_conflicts_and_resolution,
    delete_against_edit,
    eviction_made_offline,
    erasure_reaches_every_device,
);
