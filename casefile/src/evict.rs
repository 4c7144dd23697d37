//! An eviction: the site is marked evicted, and the chosen households and persons move to
//! another site, their stays closed and opened, all in one transaction.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use sync_protocol::RecordId;
use tracing::info_span;

use crate::error::{Error, Result};
use crate::records::{create_in, edit_in, load};
use crate::store::CaseFile;

/// What an eviction does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eviction {
    /// The evicted site.
    pub site: RecordId,
    /// The day (`YYYY-MM-DD`).
    pub on: String,
    /// Where the moved households and persons now live.
    pub to_site: RecordId,
    /// Households that move, with every member who lived on the evicted site.
    pub households: Vec<RecordId>,
    /// Further persons who move.
    pub persons: Vec<RecordId>,
}

/// What an eviction changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvictionReport {
    /// Persons moved.
    pub persons: Vec<RecordId>,
    /// Stays closed.
    pub stays_closed: usize,
    /// Stays opened.
    pub stays_opened: usize,
}

impl CaseFile {
    /// Marks `eviction.site` evicted on `eviction.on` and moves the chosen households and
    /// persons to `eviction.to_site`: each moved person's open stays on the site end that
    /// day because of the eviction, and a stay on the new site begins. One transaction:
    /// all of it, or nothing.
    pub fn evict(&mut self, eviction: &Eviction) -> Result<EvictionReport> {
        let _span = info_span!("casefile.evict", site = %eviction.site).entered();
        if !crate::schema::is_date(&eviction.on) {
            return Err(Error::invalid("on", "a date YYYY-MM-DD"));
        }
        if eviction.site == eviction.to_site {
            return Err(Error::invalid(
                "to_site",
                "another site than the evicted one",
            ));
        }
        let replica = self.replica_id();
        self.write(|tx| {
            for site in [eviction.site, eviction.to_site] {
                let state = load(tx, site)?.ok_or(Error::NotFound(site))?;
                if state.kind().as_str() != "site" {
                    return Err(Error::invalid("site_id", "the id of a site"));
                }
            }
            let site = eviction.site.to_string();
            let to = Value::String(eviction.to_site.to_string());
            let on = Value::String(eviction.on.clone());
            edit_in(
                tx,
                replica,
                eviction.site,
                vec![
                    ("status".to_owned(), json!("evicted")),
                    ("status_since".to_owned(), on.clone()),
                ],
            )?;
            let mut persons: BTreeSet<RecordId> = eviction.persons.iter().copied().collect();
            for household in &eviction.households {
                edit_in(
                    tx,
                    replica,
                    *household,
                    vec![("site_id".to_owned(), to.clone())],
                )?;
                // A file merged into another moves as that one (its own row is not
                // edited: it is read through its tombstone).
                let mut stmt = tx.prepare_cached(
                    "SELECT coalesce(s.survivor, p.id) FROM person p
                     LEFT JOIN person_survivor s ON s.id = p.id
                     WHERE p.household_id = ?1 AND p.site_id = ?2",
                )?;
                let members = stmt.query_map([household.to_string(), site.clone()], |r| {
                    r.get::<_, String>(0)
                })?;
                for member in members {
                    if let Ok(id) = member?.parse() {
                        persons.insert(id);
                    }
                }
            }
            let persons: BTreeSet<RecordId> = persons
                .into_iter()
                .map(|p| crate::duplicates::survivor(tx, p))
                .collect::<Result<_>>()?;
            let mut report = EvictionReport::default();
            for person in persons {
                edit_in(
                    tx,
                    replica,
                    person,
                    vec![("site_id".to_owned(), to.clone())],
                )?;
                let open: Vec<String> = tx
                    .prepare_cached(
                        "SELECT id FROM stay WHERE site_id = ?2 AND to_on IS NULL
                         AND person_id IN (
                           SELECT ?1 UNION ALL SELECT id FROM person_survivor WHERE survivor = ?1
                         )",
                    )?
                    .query_map([person.to_string(), site.clone()], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                for stay in open {
                    let stay: RecordId = stay
                        .parse()
                        .map_err(|_| Error::invalid("stay", "a record id"))?;
                    edit_in(
                        tx,
                        replica,
                        stay,
                        vec![
                            ("to_on".to_owned(), on.clone()),
                            ("left_because".to_owned(), json!("eviction")),
                        ],
                    )?;
                    report.stays_closed += 1;
                }
                create_in(
                    tx,
                    replica,
                    "stay",
                    vec![
                        ("person_id".to_owned(), Value::String(person.to_string())),
                        ("site_id".to_owned(), to.clone()),
                        ("from_on".to_owned(), on.clone()),
                    ],
                )?;
                report.stays_opened += 1;
                report.persons.push(person);
            }
            Ok(report)
        })
    }
}
