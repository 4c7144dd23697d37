//! Finding persons by any spelling: every word of the query must be the prefix of a
//! folded word of their names, aliases, or (digits only) phone. Folding drops diacritics
//! and writes Cyrillic in Latin letters ([`crate::fold`]), so `petrov` finds `Петров`
//! and `Петрова` finds `Petrova`. A person merged into another is found as the file that
//! stays, by the names of both. A query with digits and no
//! letter is one phone number, whatever its spacing.
//!
//! Ranking, best first: for each query word the best of its matches counts, a match on
//! the names before one on an alias before one on the phone, a whole word before a
//! prefix, and then a shorter word before a longer one; the words' ranks add up.

use std::collections::HashMap;

use rusqlite::params;
use sync_protocol::RecordState;
use tracing::info_span;

use crate::error::Result;
use crate::fold;
use crate::records::load_many;
use crate::store::CaseFile;

impl CaseFile {
    /// Persons (not deleted) matching every word of `text` as a prefix, ignoring case and
    /// diacritics; best match first; at most `limit`.
    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<RecordState>> {
        let _span = info_span!("casefile.search").entered();
        // A query of digits only is one phone number, however it is spaced (`06 12 34`).
        let phone =
            !text.chars().any(char::is_alphabetic) && text.chars().any(|c| c.is_ascii_digit());
        let words = if phone {
            vec![fold::digits(text)]
        } else {
            fold::words(text)
        };
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare_cached(
            // A merged-away person's names find the file that stays.
            "SELECT coalesce(s.survivor, t.person_id), t.term, t.field FROM person_terms t
             LEFT JOIN person_survivor s ON s.id = t.person_id
             WHERE t.term >= ?1 AND t.term < ?2",
        )?;
        let mut scores: Option<HashMap<String, (u32, usize)>> = None;
        for word in &words {
            let upper = format!("{word}\u{10FFFF}");
            let mut best: HashMap<String, (u32, usize)> = HashMap::new();
            let rows = stmt.query_map(params![word, upper], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u32>(2)?,
                ))
            })?;
            for row in rows {
                let (person, term, field) = row?;
                let rank = field * 2 + u32::from(term != *word);
                let extra = term.len() - word.len().min(term.len());
                let entry = best.entry(person).or_insert((rank, extra));
                if (rank, extra) < *entry {
                    *entry = (rank, extra);
                }
            }
            scores = Some(match scores {
                None => best,
                Some(previous) => previous
                    .into_iter()
                    .filter_map(|(person, (rank, extra))| {
                        best.get(&person)
                            .map(|(r, e)| (person, (rank + r, extra + e)))
                    })
                    .collect(),
            });
            if scores.as_ref().is_some_and(HashMap::is_empty) {
                return Ok(Vec::new());
            }
        }
        let mut ranked: Vec<(String, (u32, usize))> =
            scores.unwrap_or_default().into_iter().collect();
        ranked.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        ranked.truncate(limit);
        let ids: Vec<String> = ranked.into_iter().map(|(id, _)| id).collect();
        load_many(&self.conn, &ids)
    }
}
