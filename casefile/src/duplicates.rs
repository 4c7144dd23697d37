//! One person, one file: possible duplicates, "not the same person", and merges read
//! through the merged-away file's tombstone.
//!
//! The rules of the tombstone (`merged_into`, chains, opposite merges, re-applying an
//! edit the merge did not see) are `sync_protocol::merges`'s; the comparison of two
//! persons (folding, phonetic keys, scores and reasons) is [`crate::names`]'s. This module
//! keeps what they need in derived tables, written with each person's state:
//! - `person_keys`: the phonetic key of each word of a person's names and aliases, where
//!   candidates are looked for;
//! - `person_merge` and `person_survivor`: each merged-away person, the person its
//!   tombstone names, and its survivor (the end of its chain). Every reader goes through
//!   `person_survivor`: lists, search and counts leave merged-away persons out, a
//!   person's timeline holds the records of the files merged into it, and a visit that
//!   met a merged-away person met its survivor;
//! - `not_duplicate`: the pairs marked "not the same person".
//!
//! A merge edits two records: the file that stays, with the values the counsellor chose
//! (one edit, when there is something to change), and the other, with its tombstone (one
//! edit). No reference is rewritten.
//!
//! ## Finding candidates
//! - On entry ([`CaseFile::candidates`]): the persons with a name or alias word whose
//!   phonetic key begins with the first [`BLOCK_CHARS`] letters of a key of the person
//!   being entered, or with the same phone number, compared one by one; best score first.
//! - For the whole file ([`CaseFile::duplicates`]): the persons are grouped by the first
//!   [`BLOCK_CHARS`] letters of each key of their names (groups of at most
//!   [`MAX_KEY_GROUP`] persons) and by each pair of those (groups of at most
//!   [`MAX_PAIR_GROUP`]), so that a pair sharing a common given name alone is not
//!   compared, but one sharing it and a family name is; each pair found is compared once.
//!   Merged-away persons and pairs marked "not the same person" are left out.

use std::collections::{BTreeSet, HashMap, HashSet};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;
use sync_protocol::merges::{self, Survivors};
use sync_protocol::{FieldName, RecordId, RecordState, ReplicaId};
use tracing::info_span;

use crate::derive;
use crate::error::{Error, Result};
use crate::fold;
use crate::names::{self, Prepared, Profile, Reason};
use crate::records::{self, load, load_many, now, save};
use crate::schema;
use crate::store::{CaseFile, get_meta, set_meta};

/// The letters of a name's key that group persons: two spellings a letter apart near the
/// end of a word fall in the same group.
pub const BLOCK_CHARS: usize = 3;
/// The largest group of persons sharing one key whose pairs are all compared.
pub const MAX_KEY_GROUP: usize = 100;
/// The largest group of persons sharing two keys whose pairs are all compared.
pub const MAX_PAIR_GROUP: usize = 2000;

const PERSON: &str = "person";
/// The `meta` key that says `person_survivor` awaits its recomputation.
const STALE: &str = "survivors_stale";

/// A person who may be the one being entered (or looked at).
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// The person's state.
    pub person: RecordState,
    /// How alike, from 0 to 100.
    pub score: u32,
    /// Why, in the order a person reads them.
    pub reasons: Vec<Reason>,
}

/// Two persons who may be one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuplicatePair {
    /// The one with the smaller id.
    pub a: RecordId,
    /// The other.
    pub b: RecordId,
    /// How alike, from 0 to 100.
    pub score: u32,
    /// Why.
    pub reasons: Vec<Reason>,
}

/// The texts of every entry of `field` (a text, or the texts of a list).
pub(crate) fn texts(state: &RecordState, field: &str) -> Vec<String> {
    state
        .entries(field)
        .iter()
        .flat_map(|e| match &e.value {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// The year of an approximate date (`1987`, `1987-05`, `1987-05-03`).
fn year(text: &str) -> Option<i32> {
    text.get(..4)?.parse().ok()
}

/// What the comparison reads of a person's state (every entry of a field in conflict).
pub(crate) fn profile(state: &RecordState) -> Profile {
    let shown = |field: &str| {
        derive::shown(state.entries(field))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Profile {
        family_names: texts(state, "family_name"),
        given_names: texts(state, "given_names"),
        aliases: texts(state, "aliases"),
        birth_year: shown("birth_date").as_deref().and_then(year),
        household: shown("household_id"),
        site: shown("site_id"),
        phones: texts(state, "phone"),
    }
}

/// What the comparison reads of a person being entered: its fields as `create` takes
/// them.
pub fn profile_of_fields(fields: &[(String, Value)]) -> Profile {
    let mut profile = Profile::default();
    for (name, value) in fields {
        let list: Vec<String> = match value {
            Value::String(s) if !s.trim().is_empty() => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        match name.as_str() {
            "family_name" => profile.family_names = list,
            "given_names" => profile.given_names = list,
            "aliases" => profile.aliases = list,
            "phone" => profile.phones = list,
            "birth_date" => profile.birth_year = list.first().and_then(|t| year(t)),
            "household_id" => profile.household = list.into_iter().next(),
            "site_id" => profile.site = list.into_iter().next(),
            _ => {}
        }
    }
    profile
}

fn name_keys(profile: &Profile) -> BTreeSet<String> {
    profile
        .family_names
        .iter()
        .chain(&profile.given_names)
        .chain(&profile.aliases)
        .flat_map(|text| names::keys(text))
        // An initial (`I.`) is no name: the comparison leaves it out too.
        .filter(|key| key.chars().nth(1).is_some())
        .collect()
}

/// Writes the duplicate rows of a person's state (called with its other derived rows):
/// its keys, its marks, its tombstone; refreshes the survivors when a tombstone changed
/// or a person some tombstone names arrived.
pub(crate) fn index_person(
    conn: &Connection,
    state: &RecordState,
    live: bool,
    fresh: bool,
) -> Result<()> {
    let id = state.id().to_string();
    if !fresh {
        conn.prepare_cached("DELETE FROM person_keys WHERE person_id = ?1")?
            .execute([&id])?;
        conn.prepare_cached("DELETE FROM not_duplicate WHERE holder = ?1")?
            .execute([&id])?;
    }
    let before: Option<String> = conn
        .prepare_cached("SELECT merged_into FROM person_merge WHERE id = ?1")?
        .query_row([&id], |r| r.get(0))
        .optional()?;
    // A deleted file's tombstone is still followed: deleting a merged-away file does not
    // undo its merge (only an erasure removes it).
    let after = if state.is_erased() {
        None
    } else {
        merges::merged_into(state).map(|into| into.to_string())
    };
    if live {
        let mut insert = conn
            .prepare_cached("INSERT OR IGNORE INTO person_keys (key, person_id) VALUES (?1, ?2)")?;
        for key in name_keys(&profile(state)) {
            insert.execute(params![key, id])?;
        }
        let mut mark = conn.prepare_cached(
            "INSERT OR IGNORE INTO not_duplicate (holder, other) VALUES (?1, ?2)",
        )?;
        for other in merges::not_duplicates(state) {
            mark.execute(params![id, other.to_string()])?;
        }
    }
    if before != after {
        conn.prepare_cached("DELETE FROM person_merge WHERE id = ?1")?
            .execute([&id])?;
        if let Some(into) = &after {
            conn.prepare_cached("INSERT INTO person_merge (id, merged_into) VALUES (?1, ?2)")?
                .execute(params![id, into])?;
        }
        mark_stale(conn)?;
    } else if fresh {
        let named: bool = conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM person_merge WHERE merged_into = ?1)")?
            .query_row([&id], |r| r.get(0))?;
        if named {
            mark_stale(conn)?;
        }
    }
    Ok(())
}

/// Notes, within the caller's transaction, that `person_survivor` must be recomputed:
/// once, however many tombstones the transaction writes ([`refresh_if_stale`], which
/// every write transaction calls before it commits).
fn mark_stale(conn: &Connection) -> Result<()> {
    set_meta(conn, STALE, &1)
}

/// Recomputes `person_survivor` when a tombstone changed since it last was.
pub(crate) fn refresh_if_stale(conn: &Connection) -> Result<()> {
    if get_meta::<i64>(conn, STALE)?.is_some() {
        refresh_survivors(conn)?;
    }
    Ok(())
}

/// Recomputes `person_survivor` from `person_merge` (a few rows: one per merge ever made).
pub(crate) fn refresh_survivors(conn: &Connection) -> Result<()> {
    let mut tombstones = Vec::new();
    {
        let mut stmt = conn.prepare_cached("SELECT id, merged_into FROM person_merge")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (id, into) = row?;
            if let (Ok(id), Ok(into)) = (id.parse::<RecordId>(), into.parse::<RecordId>()) {
                tombstones.push((id, into));
            }
        }
    }
    let mut held = HashSet::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM records WHERE id = ?1 AND kind = 'person' AND erased = 0)",
        )?;
        for (_, into) in &tombstones {
            if stmt.query_row([into.to_string()], |r| r.get::<_, bool>(0))? {
                held.insert(*into);
            }
        }
    }
    let survivors = Survivors::new(tombstones, |p| held.contains(&p));
    conn.execute("DELETE FROM meta WHERE key = ?1", [STALE])?;
    conn.execute("DELETE FROM person_survivor", [])?;
    let mut insert =
        conn.prepare_cached("INSERT INTO person_survivor (id, survivor) VALUES (?1, ?2)")?;
    for (id, survivor) in survivors.merged() {
        insert.execute(params![id.to_string(), survivor.to_string()])?;
    }
    Ok(())
}

/// The person `id` is read as: its survivor when merged away, itself otherwise.
pub(crate) fn survivor(conn: &Connection, id: RecordId) -> Result<RecordId> {
    let found: Option<String> = conn
        .prepare_cached("SELECT survivor FROM person_survivor WHERE id = ?1")?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?;
    Ok(found.and_then(|s| s.parse().ok()).unwrap_or(id))
}

/// The persons merged into `id` (not `id` itself), by id.
pub(crate) fn merged_into_one(conn: &Connection, id: RecordId) -> Result<Vec<RecordId>> {
    let mut stmt =
        conn.prepare_cached("SELECT id FROM person_survivor WHERE survivor = ?1 ORDER BY id")?;
    let rows = stmt.query_map([id.to_string()], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for row in rows {
        if let Ok(id) = row?.parse() {
            out.push(id);
        }
    }
    Ok(out)
}

/// Re-applies to their survivors this device's edits of merged-away persons that their
/// merge did not see (`sync_protocol::merges::unseen_by_merge`), each once: one edit of
/// the survivor per merged-away person. An edit waits while the survivor is deleted (it
/// goes once the survivor is restored). Answers how many survivors were edited.
pub(crate) fn reapply(conn: &Connection, me: ReplicaId) -> Result<usize> {
    let merged: Vec<(String, String)> = {
        let mut stmt =
            conn.prepare_cached("SELECT id, survivor FROM person_survivor ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let spec = schema::kind(PERSON).ok_or_else(|| Error::invalid("kind", "person"))?;
    let replica = me.to_string();
    let mut edited = 0;
    for (id, survivor) in merged {
        let (Ok(id), Ok(survivor)) = (id.parse::<RecordId>(), survivor.parse::<RecordId>()) else {
            continue;
        };
        let Some(state) = load(conn, id)? else {
            continue;
        };
        let done: i64 = conn
            .prepare_cached("SELECT counter FROM merge_reapplied WHERE id = ?1 AND replica = ?2")?
            .query_row(params![id.to_string(), replica], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        let mine = i64::try_from(state.vv().get(me)).unwrap_or(i64::MAX);
        if mine <= done {
            continue;
        }
        let Some(mut target) = load(conn, survivor)? else {
            continue;
        };
        if target.is_erased() || target.is_deleted() {
            continue;
        }
        let changes: Vec<(FieldName, Value)> = merges::unseen_by_merge(&state, me)
            .into_iter()
            .filter(|(name, entry)| {
                i64::try_from(entry.dot.counter).unwrap_or(i64::MAX) > done
                    && (spec.field(name.as_str()).is_some() || schema::is_extension(name.as_str()))
                    && derive::shown(target.entries(name.as_str())) != Some(&entry.value)
            })
            .map(|(name, entry)| (name, entry.value))
            .collect();
        if !changes.is_empty() {
            target.edit(me, now(), changes)?;
            save(conn, &target, true, false)?;
            edited += 1;
        }
        conn.prepare_cached(
            "INSERT INTO merge_reapplied (id, replica, counter) VALUES (?1, ?2, ?3)
             ON CONFLICT (id, replica) DO UPDATE SET counter = excluded.counter",
        )?
        .execute(params![id.to_string(), replica, mine])?;
    }
    Ok(edited)
}

/// A live person (neither deleted nor erased) or an error naming `field`.
fn live_person(conn: &Connection, id: RecordId, field: &str) -> Result<RecordState> {
    let state = load(conn, id)?
        .filter(|s| !s.is_erased())
        .ok_or(Error::NotFound(id))?;
    if state.kind().as_str() != PERSON {
        return Err(Error::invalid(field, "the id of a person"));
    }
    if state.is_deleted() {
        return Err(Error::Deleted(id));
    }
    Ok(state)
}

/// The profile rows of live persons not merged away, from the typed table (the value
/// each field shows), with their ids; only those in `only` when given.
fn profiles(conn: &Connection, only: Option<&[String]>) -> Result<Vec<(String, Profile)>> {
    // Each as it reads, and under the id of its survivor: a spelling only a merged-away
    // file holds still finds the file that stays.
    let sql = "SELECT coalesce(s.survivor, p.id), p.family_name, p.given_names, p.aliases,
                      p.birth_date, p.household_id, p.site_id, p.phone
               FROM person p LEFT JOIN person_survivor s ON s.id = p.id";
    let read = |r: &rusqlite::Row<'_>| -> rusqlite::Result<(String, Profile)> {
        let text = |i: usize| -> rusqlite::Result<Vec<String>> {
            Ok(r.get::<_, Option<String>>(i)?.into_iter().collect())
        };
        let aliases: Option<String> = r.get(3)?;
        let birth: Option<String> = r.get(4)?;
        Ok((
            r.get(0)?,
            Profile {
                family_names: text(1)?,
                given_names: text(2)?,
                aliases: aliases
                    .and_then(|a| serde_json::from_str::<Vec<String>>(&a).ok())
                    .unwrap_or_default(),
                birth_year: birth.as_deref().and_then(year),
                household: r.get(5)?,
                site: r.get(6)?,
                phones: text(7)?,
            },
        ))
    };
    let mut out = Vec::new();
    match only {
        // The whole file: each person once, as the file that stays reads.
        None => {
            let mut stmt = conn.prepare_cached(&format!("{sql} WHERE s.id IS NULL"))?;
            for row in stmt.query_map([], read)? {
                out.push(row?);
            }
        }
        // Those asked for, in one query (their ids as a JSON array).
        Some(ids) => {
            let list = serde_json::to_string(ids)
                .map_err(|_| Error::invalid("person_id", "record ids"))?;
            let mut stmt = conn.prepare_cached(&format!(
                "{sql} WHERE p.id IN (SELECT value FROM json_each(?1))"
            ))?;
            for row in stmt.query_map([list], read)? {
                out.push(row?);
            }
        }
    }
    Ok(out)
}

/// The pairs marked "not the same person", each as (smaller id, larger id).
fn marked(conn: &Connection) -> Result<HashSet<(String, String)>> {
    let mut stmt = conn.prepare_cached("SELECT holder, other FROM not_duplicate")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = HashSet::new();
    for row in rows {
        let (a, b) = row?;
        out.insert(if a < b { (a, b) } else { (b, a) });
    }
    Ok(out)
}

/// The block a name key falls in: its first [`BLOCK_CHARS`] letters.
fn block(key: &str) -> String {
    key.chars().take(BLOCK_CHARS).collect()
}

fn ordered(a: &str, b: &str) -> (String, String) {
    if a < b {
        (a.to_owned(), b.to_owned())
    } else {
        (b.to_owned(), a.to_owned())
    }
}

impl CaseFile {
    /// The persons who may be the one described by `fields` (a person being entered, as
    /// `create` takes it), best first, at most `limit`: see the module's docs.
    pub fn candidates(&self, fields: &[(String, Value)], limit: usize) -> Result<Vec<Candidate>> {
        let _span = info_span!("casefile.candidates").entered();
        self.candidates_of(&profile_of_fields(fields), None, limit)
    }

    fn candidates_of(
        &self,
        profile: &Profile,
        this: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Candidate>> {
        let mut ids: BTreeSet<String> = BTreeSet::new();
        {
            // Every person with a name word whose key starts as one of this person's
            // does: a spelling off by a letter near a word's end changes its key.
            let mut by_key = self
                .conn
                .prepare_cached("SELECT person_id FROM person_keys WHERE key >= ?1 AND key < ?2")?;
            let prefixes: BTreeSet<String> = name_keys(profile).iter().map(|k| block(k)).collect();
            for prefix in prefixes {
                let upper = format!("{prefix}\u{10FFFF}");
                for row in by_key.query_map(params![prefix, upper], |r| r.get::<_, String>(0))? {
                    ids.insert(row?);
                }
            }
            let mut by_phone = self.conn.prepare_cached(
                "SELECT person_id FROM person_terms WHERE field = 2 AND term = ?1",
            )?;
            for phone in &profile.phones {
                let digits = fold::digits(phone);
                if digits.len() >= 6 {
                    for row in by_phone.query_map([digits], |r| r.get::<_, String>(0))? {
                        ids.insert(row?);
                    }
                }
            }
        }
        let marked = match this {
            Some(_) => marked(&self.conn)?,
            None => HashSet::new(),
        };
        if let Some(this) = this {
            ids.remove(this);
        }
        let ids: Vec<String> = ids.into_iter().collect();
        let this_one = Prepared::new(profile);
        let mut found: Vec<(u32, Vec<Reason>, String)> = profiles(&self.conn, Some(&ids))?
            .into_iter()
            .filter(|(id, _)| this.is_none_or(|this| !marked.contains(&ordered(this, id))))
            .filter_map(|(id, other)| {
                names::compare_prepared(&this_one, &Prepared::new(&other))
                    .map(|l| (l.score, l.reasons, id))
            })
            .filter(|(_, _, id)| this != Some(id.as_str()))
            .collect();
        // Best first; a person found by two of their files, once.
        found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.2.cmp(&b.2)));
        let mut seen = HashSet::new();
        found.retain(|(_, _, id)| seen.insert(id.clone()));
        found.truncate(limit);
        let states = load_many(
            &self.conn,
            &found.iter().map(|f| f.2.clone()).collect::<Vec<_>>(),
        )?;
        let mut by_id: HashMap<String, RecordState> = states
            .into_iter()
            .map(|s| (s.id().to_string(), s))
            .collect();
        Ok(found
            .into_iter()
            .filter_map(|(score, reasons, id)| {
                by_id.remove(&id).map(|person| Candidate {
                    person,
                    score,
                    reasons,
                })
            })
            .collect())
    }

    /// Possible duplicate persons, best first: of the person `of` (read through its
    /// tombstone), or of the whole file. Pairs marked "not the same person" and
    /// merged-away persons are left out.
    pub fn duplicates(&self, of: Option<RecordId>) -> Result<Vec<DuplicatePair>> {
        let _span = info_span!("casefile.duplicates").entered();
        if let Some(of) = of {
            let of = survivor(&self.conn, of)?;
            let state = live_person(&self.conn, of, "person_id")?;
            let this = of.to_string();
            let found = self.candidates_of(&profile(&state), Some(this.as_str()), usize::MAX)?;
            return Ok(found
                .into_iter()
                .map(|c| {
                    let (a, b) = if of < c.person.id() {
                        (of, c.person.id())
                    } else {
                        (c.person.id(), of)
                    };
                    DuplicatePair {
                        a,
                        b,
                        score: c.score,
                        reasons: c.reasons,
                    }
                })
                .collect());
        }
        self.whole_file_duplicates()
    }

    fn whole_file_duplicates(&self) -> Result<Vec<DuplicatePair>> {
        let persons = profiles(&self.conn, None)?;
        let index: HashMap<&str, usize> = persons
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (id.as_str(), i))
            .collect();
        let mut keys_of: Vec<Vec<String>> = vec![Vec::new(); persons.len()];
        {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT key, person_id FROM person_keys")?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            for row in rows {
                let (key, person) = row?;
                if let Some(&i) = index.get(person.as_str()) {
                    let prefix = block(&key);
                    if !keys_of[i].contains(&prefix) {
                        keys_of[i].push(prefix);
                    }
                }
            }
        }
        let mut groups: HashMap<(String, String), Vec<usize>> = HashMap::new();
        for (i, keys) in keys_of.iter().enumerate() {
            for (n, a) in keys.iter().enumerate() {
                groups
                    .entry((a.clone(), String::new()))
                    .or_default()
                    .push(i);
                for b in &keys[n + 1..] {
                    let pair = if a < b {
                        (a.clone(), b.clone())
                    } else {
                        (b.clone(), a.clone())
                    };
                    groups.entry(pair).or_default().push(i);
                }
            }
        }
        let mut pairs: HashSet<(usize, usize)> = HashSet::new();
        for ((_, second), members) in &groups {
            let cap = if second.is_empty() {
                MAX_KEY_GROUP
            } else {
                MAX_PAIR_GROUP
            };
            if members.len() < 2 || members.len() > cap {
                continue;
            }
            for (n, &a) in members.iter().enumerate() {
                for &b in &members[n + 1..] {
                    if a != b {
                        pairs.insert((a.min(b), a.max(b)));
                    }
                }
            }
        }
        let marked = marked(&self.conn)?;
        let prepared: Vec<Prepared> = persons.iter().map(|(_, p)| Prepared::new(p)).collect();
        let mut out: Vec<DuplicatePair> = pairs
            .into_iter()
            .filter_map(|(a, b)| {
                let (ida, idb) = (&persons[a].0, &persons[b].0);
                if marked.contains(&ordered(ida, idb)) {
                    return None;
                }
                let likeness = names::compare_prepared(&prepared[a], &prepared[b])?;
                let (ida, idb) = (ida.parse::<RecordId>().ok()?, idb.parse::<RecordId>().ok()?);
                Some(DuplicatePair {
                    a: ida.min(idb),
                    b: ida.max(idb),
                    score: likeness.score,
                    reasons: likeness.reasons,
                })
            })
            .collect();
        out.sort_by(|x, y| {
            y.score
                .cmp(&x.score)
                .then_with(|| x.a.cmp(&y.a))
                .then_with(|| x.b.cmp(&y.b))
        });
        Ok(out)
    }

    /// Records that `a` and `b` are different people: one edit of the one with the smaller
    /// id, whose `not_duplicates` gains the other. Marking a pair again changes nothing.
    ///
    /// Errors: [`Error::NotFound`], [`Error::Deleted`], [`Error::Invalid`] (not persons,
    /// or the same person).
    pub fn mark_not_duplicates(&mut self, a: RecordId, b: RecordId) -> Result<()> {
        let _span = info_span!("casefile.not_duplicates").entered();
        let replica = self.replica_id();
        self.write(|tx| {
            let (a, b) = (survivor(tx, a)?, survivor(tx, b)?);
            if a == b {
                return Err(Error::invalid(
                    "b",
                    "another person than the first (these two are one file)",
                ));
            }
            let (holder, other) = (a.min(b), a.max(b));
            let mut state = live_person(tx, holder, "a")?;
            live_person(tx, other, "b")?;
            let mut set = merges::not_duplicates(&state);
            if !set.insert(other) && state.entries(merges::NOT_DUPLICATES).len() == 1 {
                return Ok(());
            }
            let value = Value::Array(set.iter().map(|id| Value::String(id.to_string())).collect());
            let field: FieldName = merges::NOT_DUPLICATES
                .parse()
                .map_err(|_| Error::invalid("field", "not_duplicates"))?;
            state.edit(replica, now(), [(field, value)])?;
            save(tx, &state, true, false)
        })
    }

    /// Merges the person `other` into `keep`: `keep` takes `set` (checked as `edit`
    /// checks it; one edit, none when `set` is empty), and `other` its tombstone (one
    /// edit). Every reference to `other` is then read as `keep`.
    ///
    /// Errors: [`Error::NotFound`], [`Error::Deleted`], [`Error::Invalid`] (not persons,
    /// the same person, or a person already merged into another).
    pub fn merge_persons(
        &mut self,
        keep: RecordId,
        other: RecordId,
        set: Vec<(String, Value)>,
    ) -> Result<()> {
        let _span = info_span!("casefile.merge_persons").entered();
        let replica = self.replica_id();
        self.write(|tx| {
            if keep == other {
                return Err(Error::invalid(
                    "other_id",
                    "another person than the one that stays",
                ));
            }
            for (id, field) in [(keep, "keep_id"), (other, "other_id")] {
                live_person(tx, id, field)?;
                if survivor(tx, id)? != id {
                    return Err(Error::invalid(
                        field,
                        "a person not merged into another already (merge into the file that stays)",
                    ));
                }
            }
            if !set.is_empty() {
                records::edit_in(tx, replica, keep, set)?;
            }
            let mut state = live_person(tx, other, "other_id")?;
            let changes = merges::tombstone_changes(&state, keep);
            state.edit(replica, now(), changes)?;
            save(tx, &state, true, false)
        })
    }

    /// The person `id` is read as: its survivor when it was merged into another, itself
    /// otherwise.
    pub fn survivor(&self, id: RecordId) -> Result<RecordId> {
        survivor(&self.conn, id)
    }
}
