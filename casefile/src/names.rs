//! Whether two persons may be one: names compared by any spelling, with birth year,
//! household, site and phone as support.
//!
//! This module is pure (no storage): [`crate::duplicates`] finds the pairs to compare
//! through [`keys`] and asks [`compare`] (or [`compare_prepared`]) about each.
//!
//! ## Words
//! A person's names are read as words: each value of `family_name` and of `given_names`
//! (several values when the field is in conflict: every pairing of a family name with
//! given names is one *name* of the person) is [folded](crate::fold) (case, diacritics and
//! the alphabet aside: `Петров` is `petrov`, `Ștefan` is `stefan`) and split on anything
//! that is not a letter or a digit (`Ana-Maria` is two words). One-letter words
//! (initials) are left out of the comparison, and a name reads at most 6 words.
//!
//! ## Phonetic key
//! Each folded word has a key, the same for spellings of one name that sound alike in
//! Romanian, Bulgarian and the transliterations and French-ear spellings met in files.
//! Left to right, longest rule first:
//!
//! | spelling | key | examples |
//! |---|---|---|
//! | `y`, `i` | `i` | Mihay, Mihai; Yordan, Iordan |
//! | `j` after a vowel or before `o`, `u` | `i` | Marijan, Jordan, Shterju, Nikolaj |
//! | `j` elsewhere, `zh`, `dzh`, `dj`, `dz`, `gj` | `j` | Jivko, Zhivko; Djordjev, Dzhordzhev |
//! | `gh`, `gu` before `e`, `i`, `y` | `g` | Gheorghe, Gueorgui, Georgi |
//! | `c` before `a`, `o`, `u`, a consonant or at the end; `k`, `ck`, `q` | `k` | Costel, Kostel |
//! | `chr` | `hr` | Christo, Hristo |
//! | `kh` | `h` | Khristo, Hristo; Akhmed, Ahmed |
//! | `c` before `e`, `i`, `y`; `ch`; `tch`, `tsch` | `c` (the sound of ч) | Tchavdar, Chavdar; Mintchev, Minchev; Ciurar, Tchiourar |
//! | `sh`, `sch`, `s` (`ș`, `ş` are `s` once folded) | `s` | Rostash, Rostaș; Shteryu, Șteriu |
//! | `ts`, `tz`, `t` (`ț`, `ţ` are `t` once folded) | `t` | Ionutz, Ionuț; Tsvetan, Tzvetan |
//! | `ph` | `f` | Philipov, Filipov |
//! | `th` | `t` | |
//! | `w` | `v` | |
//! | `x` | `ks` | Alexandar, Aleksandar |
//! | `ou` | `u` | Doumitrou, Dumitru; Moustafov |
//!
//! `ch` is read as Bulgarian `ч` (the official transliteration, and the French `tch`)
//! everywhere, also before `e` and `i` where Romanian reads it `k` (`Chiriac`): the
//! Bulgarian family names in `-chev` are many, and reading them `k` made `Stanchev` sound
//! like `Stankov`; a Romanian `Chiriac` written `Kiriac` is still a spelling apart. The
//! French `ch` for `ш` (`Chichkov` for `Шишков`) is not caught.
//!
//! Then a letter doubled is one (`Vassile`, `Mladenoff`, `Dimitriy` → `dimitri`); a final
//! `f` is `v` (`Petroff`, `Dimitrof`); a final `e` or `i` after a consonant is dropped (the
//! Romanian vocative `Ștefane`, `Ioane`; `Vasile` and `Vasil`; `Gheorghe` and `Georgi` both
//! give `georg`; the French-ear `Marine` for `Marin`). Last, the Bulgarian feminine family
//! name endings `-ova`, `-eva`, `-ska` lose their `a`, so that `Petrova` has the key of
//! `Petrov` and a couple are found together; whether they are one person is
//! [`compare`]'s to say (below).
//!
//! ## Two words
//! From the closest:
//! 1. *same*: the folded words are equal;
//! 2. not alike when one is feminine and the other masculine (the key ends in `a` against
//!    a consonant, `o` or `u`: Ivan and Ivana, Marian and Maria, Petru and Petra, Popa and
//!    Pop), except two Bulgarian family names of one family (`Petrov`, `Petrova`), which
//!    are the *family form* of each other: the same person when the given names agree (a
//!    woman's family name written in its masculine form), never otherwise (Georgi Petrov
//!    and Maria Petrova are a couple);
//! 3. *sound*: the keys are equal;
//! 4. *spelling*: the folded words, or the keys, are close: one edit (a letter added,
//!    dropped, changed, or two letters swapped) between words of 5 to 8 letters, two from 9
//!    letters, and in words of 4 letters only a vowel added or dropped (`Ion`, `Ioan`, but
//!    not `Ana`, `Anca`); words of 3 letters or fewer must sound alike.
//!
//! ## Two names
//! The order of words does not matter (family and given names are often swapped): each
//! word of the name with fewer words is paired with a word of the other, closest pairs
//! first. The names are alike when every word of the shorter name is paired, so a person
//! recorded with two given names is alike the same person recorded with one. Points: 70
//! per *same* pair, 64 per *sound*, 55 per *spelling*, 45 per *family form*, averaged;
//! minus 4 per word of the longer name left unpaired; at most 35 when the shorter name is
//! one word (a family name alone says little). An alias stands for the given names (with
//! each family name) or, of two words or more, for a whole name: alike through an alias
//! counts 5 points less. The best of the names of the two persons counts.
//!
//! ## Score
//! The name is necessary: persons whose names are not alike are never candidates,
//! whatever else they share (a family shares a phone and a household). To the name's
//! points, when both are known:
//! - birth years: the same +20, one year apart +15, two +8 (ages are often estimated);
//!   three or four years apart -35 (so only a shared household or phone keeps the pair);
//!   five or more: not candidates (a father and a son of one name);
//! - the same household +15, the same site +5, a shared phone +15.
//!
//! Phones are compared by their national number: digits only, without `00`, the country
//! code of France (33), Romania (40) or Bulgaria (359) and the trunk `0` (`+33 6 12 34 56
//! 78` is `06 12 34 56 78`); a number of fewer than 6 digits is not compared.
//!
//! A pair scoring at least 40 is a candidate, its score capped at 100. The reasons say
//! why, in [`Reason`]'s order: [`Reason::SameName`] when every pair is *same*,
//! [`Reason::NameSound`] and [`Reason::NameSpelling`] for pairs *sound* and *spelling* or
//! *family form*, [`Reason::Alias`], [`Reason::BirthYear`] for years at most two apart,
//! [`Reason::Household`], [`Reason::Site`], [`Reason::Phone`].
//!
//! ## Cost
//! [`Prepared::new`] folds and keys a person once; [`compare_prepared`] then allocates
//! nothing but its answer. [`compare`] prepares both persons on each call: prefer
//! [`Prepared`] when one person is compared with many.
//!
//! ## Quality
//! `tests/data/name-pairs.csv` holds pairs of real spelling variants and of different
//! people who look alike (couples, siblings, fathers and sons, namesakes);
//! `tests/it/names_quality.rs` measures precision and recall on it.

use serde::Serialize;

use crate::fold;

/// What the comparison reads of a person (all entries of a field in conflict included).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    /// The values of `family_name`, as typed.
    pub family_names: Vec<String>,
    /// The values of `given_names`, as typed (each may hold several words).
    pub given_names: Vec<String>,
    /// The person's aliases.
    pub aliases: Vec<String>,
    /// The year of `birth_date` (`1987`, `1987-05` or `1987-05-03`).
    pub birth_year: Option<i32>,
    /// The household's record id.
    pub household: Option<String>,
    /// The site's record id.
    pub site: Option<String>,
    /// Phone numbers, as typed.
    pub phones: Vec<String>,
}

/// Why two persons may be one, in the order a person reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The names are the same once folded (case, diacritics and alphabet aside).
    SameName,
    /// A name is spelled closely (an edit or two, or a family name's feminine form).
    NameSpelling,
    /// A name sounds the same (same phonetic key).
    NameSound,
    /// A name of one is an alias of the other.
    Alias,
    /// Birth years at most two years apart.
    BirthYear,
    /// The same household.
    Household,
    /// The same site.
    Site,
    /// A phone number in common.
    Phone,
}

/// How alike two persons are.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Likeness {
    /// From 0 to 100.
    pub score: u32,
    /// Why, in [`Reason`]'s order, each once.
    pub reasons: Vec<Reason>,
}

/// The least score of a candidate.
pub const MIN_SCORE: u32 = 40;
/// The letters of a word that are compared.
const MAX_WORD: usize = 32;
/// The words of a name that are compared.
const MAX_WORDS: usize = 6;
/// The names (pairings of family names, given names and aliases) of a person compared.
const MAX_NAMES: usize = 12;

/// The phonetic keys of a text's words (one per word, folded first), for an index.
pub fn keys(text: &str) -> Vec<String> {
    fold::words(text)
        .iter()
        .map(|word| analyse(word).key.into_iter().collect())
        .collect()
}

/// Whether `a` and `b` may be the same person, and why; `None` when they are not
/// candidates. See the module's docs for the rules.
pub fn compare(a: &Profile, b: &Profile) -> Option<Likeness> {
    compare_prepared(&Prepared::new(a), &Prepared::new(b))
}

/// A person ready to be compared many times: its words folded and keyed once.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    names: Vec<Name>,
    birth_year: Option<i32>,
    household: Option<String>,
    site: Option<String>,
    phones: Vec<String>,
}

/// One way of naming a person: its words, and whether an alias stands in them.
#[derive(Debug, Clone, PartialEq)]
struct Name {
    words: Vec<Word>,
    alias: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct Word {
    folded: Vec<char>,
    key: Vec<char>,
    gender: Gender,
    /// A Bulgarian family name's shape: the key ends in `ov`, `ev` or `sk`.
    bulgarian_family: bool,
    /// Read from `family_name`.
    family: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gender {
    /// The key ends in `a`.
    Feminine,
    /// The key ends in a consonant, `o` or `u`.
    Masculine,
    /// Anything else (`e`, `i`, a digit).
    Neither,
}

/// How alike two words are, the closest last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Unlike,
    FamilyForm,
    Spelling,
    Sound,
    Same,
}

impl Level {
    fn points(self) -> u32 {
        match self {
            Self::Unlike => 0,
            Self::FamilyForm => 45,
            Self::Spelling => 55,
            Self::Sound => 64,
            Self::Same => 70,
        }
    }
}

impl Prepared {
    /// Folds and keys the names of `profile`, and reads its phones as national numbers.
    pub fn new(profile: &Profile) -> Self {
        let words_of = |texts: &[String], family: bool| -> Vec<Vec<Word>> {
            texts
                .iter()
                .map(|t| {
                    fold::words(t)
                        .iter()
                        .filter(|w| w.chars().nth(1).is_some())
                        .map(|w| Word::new(w, family))
                        .collect::<Vec<_>>()
                })
                .filter(|ws| !ws.is_empty())
                .collect()
        };
        let families = words_of(&profile.family_names, true);
        let givens = words_of(&profile.given_names, false);
        let aliases = words_of(&profile.aliases, false);
        let mut names: Vec<Name> = Vec::new();
        let mut add = |words: Vec<Word>, alias: bool| {
            let mut words = words;
            words.truncate(MAX_WORDS);
            if !words.is_empty()
                && names.len() < MAX_NAMES
                && !names.iter().any(|n| n.words == words)
            {
                names.push(Name { words, alias });
            }
        };
        let none: [Vec<Word>; 1] = [Vec::new()];
        let family_list: &[Vec<Word>] = if families.is_empty() {
            &none
        } else {
            &families
        };
        let given_list: &[Vec<Word>] = if givens.is_empty() { &none } else { &givens };
        for family in family_list {
            for given in given_list {
                add([family.as_slice(), given.as_slice()].concat(), false);
            }
        }
        for alias in &aliases {
            if alias.len() >= 2 {
                add(alias.clone(), true);
            }
            for family in &families {
                add([family.as_slice(), alias.as_slice()].concat(), true);
            }
            if families.is_empty() && givens.is_empty() {
                add(alias.clone(), true);
            }
        }
        Self {
            names,
            birth_year: profile.birth_year,
            household: profile.household.clone().filter(|h| !h.is_empty()),
            site: profile.site.clone().filter(|s| !s.is_empty()),
            phones: profile.phones.iter().filter_map(|p| national(p)).collect(),
        }
    }
}

impl Word {
    fn new(folded: &str, family: bool) -> Self {
        let analysed = analyse(folded);
        let mut key = analysed.key;
        key.truncate(MAX_WORD);
        Self {
            folded: folded.chars().take(MAX_WORD).collect(),
            key,
            gender: analysed.gender,
            bulgarian_family: analysed.bulgarian_family,
            family,
        }
    }
}

/// Whether `a` and `b` may be the same person, and why: [`compare`] on prepared persons.
pub fn compare_prepared(a: &Prepared, b: &Prepared) -> Option<Likeness> {
    let mut best: Option<NameMatch> = None;
    for x in &a.names {
        for y in &b.names {
            if let Some(found) = match_names(x, y)
                && best.as_ref().is_none_or(|b| found.points > b.points)
            {
                best = Some(found);
            }
        }
    }
    let name = best?;
    let mut reasons = Vec::with_capacity(5);
    if name.all_same {
        reasons.push(Reason::SameName);
    }
    if name.spelling {
        reasons.push(Reason::NameSpelling);
    }
    if name.sound {
        reasons.push(Reason::NameSound);
    }
    if name.alias {
        reasons.push(Reason::Alias);
    }
    let mut score = i64::from(name.points);
    if let (Some(x), Some(y)) = (a.birth_year, b.birth_year) {
        match x.abs_diff(y) {
            0 => score += 20,
            1 => score += 15,
            2 => score += 8,
            3 | 4 => score -= 35,
            _ => return None,
        }
        if x.abs_diff(y) <= 2 {
            reasons.push(Reason::BirthYear);
        }
    }
    if a.household.is_some() && a.household == b.household {
        score += 15;
        reasons.push(Reason::Household);
    }
    if a.site.is_some() && a.site == b.site {
        score += 5;
        reasons.push(Reason::Site);
    }
    if a.phones.iter().any(|p| b.phones.contains(p)) {
        score += 15;
        reasons.push(Reason::Phone);
    }
    let score = u32::try_from(score.clamp(0, 100)).unwrap_or(0);
    (score >= MIN_SCORE).then_some(Likeness { score, reasons })
}

/// Two names found alike.
#[derive(Debug)]
struct NameMatch {
    points: u32,
    all_same: bool,
    sound: bool,
    spelling: bool,
    alias: bool,
}

/// Pairs the words of `x` and `y`, closest first; alike when every word of the shorter
/// is paired.
fn match_names(x: &Name, y: &Name) -> Option<NameMatch> {
    let (m, n) = (x.words.len(), y.words.len());
    let mut levels = [[Level::Unlike; MAX_WORDS]; MAX_WORDS];
    for (i, wx) in x.words.iter().enumerate() {
        for (j, wy) in y.words.iter().enumerate() {
            levels[i][j] = word_level(wx, wy);
        }
    }
    let shorter = m.min(n);
    let (mut used_x, mut used_y) = ([false; MAX_WORDS], [false; MAX_WORDS]);
    let (mut total, mut all_same, mut sound, mut spelling) = (0, true, false, false);
    for _ in 0..shorter {
        let mut pick: Option<(usize, usize, Level)> = None;
        for i in (0..m).filter(|&i| !used_x[i]) {
            for j in (0..n).filter(|&j| !used_y[j]) {
                let level = levels[i][j];
                if level > Level::Unlike && pick.is_none_or(|(_, _, best)| level > best) {
                    pick = Some((i, j, level));
                }
            }
        }
        let (i, j, level) = pick?;
        used_x[i] = true;
        used_y[j] = true;
        total += level.points();
        all_same &= level == Level::Same;
        sound |= level == Level::Sound;
        spelling |= matches!(level, Level::Spelling | Level::FamilyForm);
    }
    let paired = u32::try_from(shorter).ok()?;
    let unpaired = u32::try_from(m.max(n) - shorter).ok()?;
    let mut points = (total / paired).saturating_sub(4 * unpaired);
    if shorter == 1 {
        points = points.min(35);
    }
    let alias = x.alias || y.alias;
    if alias {
        points = points.saturating_sub(5);
    }
    Some(NameMatch {
        points,
        all_same,
        sound,
        spelling,
        alias,
    })
}

fn word_level(a: &Word, b: &Word) -> Level {
    if a.folded == b.folded {
        return Level::Same;
    }
    let opposite = matches!(
        (a.gender, b.gender),
        (Gender::Feminine, Gender::Masculine) | (Gender::Masculine, Gender::Feminine)
    );
    if opposite {
        let one_family = a.family && b.family && a.bulgarian_family && b.bulgarian_family;
        return if one_family && (a.key == b.key || close(&a.key, &b.key)) {
            Level::FamilyForm
        } else {
            Level::Unlike
        };
    }
    if a.key == b.key {
        Level::Sound
    } else if close(&a.folded, &b.folded) || close(&a.key, &b.key) {
        Level::Spelling
    } else {
        Level::Unlike
    }
}

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y')
}

/// Whether two words are a spelling apart: see the module's docs.
fn close(a: &[char], b: &[char]) -> bool {
    let longest = a.len().max(b.len());
    match longest {
        0..=3 => false,
        4 => {
            let (long, short) = if a.len() > b.len() { (a, b) } else { (b, a) };
            long.len() == short.len() + 1
                && (0..long.len()).any(|i| {
                    is_vowel(long[i]) && long[..i] == short[..i] && long[i + 1..] == short[i..]
                })
        }
        5..=8 => within(a, b, 1),
        _ => within(a, b, 2),
    }
}

/// Whether the optimal string alignment distance of `a` and `b` (insertions, deletions,
/// substitutions, swaps of two neighbours) is at most `bound`. Words are at most
/// [`MAX_WORD`] letters.
fn within(a: &[char], b: &[char], bound: usize) -> bool {
    if a.len().abs_diff(b.len()) > bound {
        return false;
    }
    if a.len() > MAX_WORD || b.len() > MAX_WORD {
        return a == b;
    }
    let m = b.len();
    let mut before = [0usize; MAX_WORD + 1];
    let mut previous = [0usize; MAX_WORD + 1];
    let mut current = [0usize; MAX_WORD + 1];
    for (j, cell) in previous.iter_mut().enumerate().take(m + 1) {
        *cell = j;
    }
    for i in 1..=a.len() {
        current[0] = i;
        let mut least = i;
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            current[j] = d;
            least = least.min(d);
        }
        if least > bound {
            return false;
        }
        before = previous;
        previous = current;
    }
    previous[m] <= bound
}

/// A word's key and what its ending says.
struct Analysed {
    key: Vec<char>,
    gender: Gender,
    bulgarian_family: bool,
}

/// The phonetic key of a folded word: see the module's docs.
fn analyse(word: &str) -> Analysed {
    let w: Vec<char> = word.chars().collect();
    let at = |i: usize| w.get(i).copied().unwrap_or(' ');
    let front = |c: char| matches!(c, 'e' | 'i' | 'y');
    let mut key: Vec<char> = Vec::with_capacity(w.len() + 2);
    let mut i = 0;
    while i < w.len() {
        let (c, next, after) = (w[i], at(i + 1), at(i + 2));
        let (out, step): (&str, usize) = match c {
            'y' | 'i' => ("i", 1),
            'o' if next == 'u' => ("u", 2),
            'w' => ("v", 1),
            'q' => ("k", 1),
            'x' => ("ks", 1),
            'p' if next == 'h' => ("f", 2),
            't' if next == 'h' => ("t", 2),
            't' if next == 'c' && after == 'h' => ("c", 3),
            't' if next == 's' && after == 'c' && at(i + 3) == 'h' => ("c", 4),
            't' if next == 's' || next == 'z' => ("t", 2),
            'c' if next == 'k' => ("k", 2),
            'c' if next == 'h' && after == 'r' => ("h", 2),
            'c' if next == 'h' => ("c", 2),
            'c' if front(next) => ("c", 1),
            'c' => ("k", 1),
            'k' if next == 'h' => ("h", 2),
            'g' if next == 'h' => ("g", 2),
            'g' if next == 'u' && front(after) => ("g", 2),
            'g' if next == 'j' => ("j", 2),
            'd' if next == 'z' && after == 'h' => ("j", 3),
            'd' if next == 'j' || next == 'z' => ("j", 2),
            'z' if next == 'h' => ("j", 2),
            's' if next == 'c' && after == 'h' => ("s", 3),
            's' if next == 'h' => ("s", 2),
            'j' if (i > 0 && is_vowel(w[i - 1])) || matches!(next, 'o' | 'u') => ("i", 1),
            _ => ("", 1),
        };
        if out.is_empty() {
            key.push(c);
        } else {
            key.extend(out.chars());
        }
        i += step;
    }
    key.dedup();
    if key.len() > 1 && key.last() == Some(&'f') {
        key.pop();
        key.push('v');
    }
    let n = key.len();
    if n > 2 && matches!(key[n - 1], 'e' | 'i') && is_consonant(key[n - 2]) {
        key.pop();
    }
    let gender = match key.last() {
        Some('a') => Gender::Feminine,
        Some(&c) if c == 'o' || c == 'u' || is_consonant(c) => Gender::Masculine,
        _ => Gender::Neither,
    };
    let n = key.len();
    let feminine_family =
        n >= 5 && key[n - 1] == 'a' && matches!(key[n - 3..n - 1], ['o' | 'e', 'v'] | ['s', 'k']);
    if feminine_family {
        key.pop();
    }
    let n = key.len();
    let bulgarian_family = n >= 4 && matches!(key[n - 2..], ['o' | 'e', 'v'] | ['s', 'k']);
    Analysed {
        key,
        gender,
        bulgarian_family,
    }
}

fn is_consonant(c: char) -> bool {
    c.is_ascii_lowercase() && !is_vowel(c)
}

/// A phone's national number (see the module's docs), when it has at least 6 digits.
fn national(phone: &str) -> Option<String> {
    let all = fold::digits(phone);
    let mut digits = all.strip_prefix("00").unwrap_or(&all);
    for code in ["359", "33", "40"] {
        if let Some(rest) = digits.strip_prefix(code) {
            let rest = rest.strip_prefix('0').unwrap_or(rest);
            if rest.len() == 9 {
                digits = rest;
                break;
            }
        }
    }
    if digits.len() == 10
        && let Some(rest) = digits.strip_prefix('0')
    {
        digits = rest;
    }
    (digits.len() >= 6).then(|| digits.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(word: &str) -> String {
        let k = keys(word);
        assert_eq!(k.len(), 1, "{word}");
        k[0].clone()
    }

    fn person(family: &str, given: &str, birth: Option<i32>) -> Profile {
        Profile {
            family_names: vec![family.to_owned()],
            given_names: vec![given.to_owned()],
            birth_year: birth,
            ..Profile::default()
        }
    }

    fn same_key(variants: &[&str]) {
        let first = key(variants[0]);
        for v in &variants[1..] {
            assert_eq!(key(v), first, "{v} vs {}", variants[0]);
        }
    }

    #[test]
    fn keys_of_variants_are_equal() {
        same_key(&["Ștefan", "Stefan", "Ştefan", "Stefane", "Stephan", "STEFAN"]);
        same_key(&[
            "Gheorghe",
            "Gheorge",
            "Georghe",
            "Георги",
            "Georgi",
            "Gueorgui",
        ]);
        same_key(&["Mihai", "Mihaï", "Mihay", "Mihaj"]);
        same_key(&["Петров", "Petrov", "Petroff", "Petrof", "Petrova"]);
        same_key(&["Dimitrov", "Dimitrof", "Димитров"]);
        same_key(&["Ionuț", "Ionut", "Ionutz", "Ionuts"]);
        same_key(&["Marian", "Marijan", "Mariane"]);
        same_key(&["Христо", "Hristo", "Christo", "Khristo"]);
        same_key(&["Йордан", "Yordan", "Iordan", "Jordan"]);
        same_key(&["Щерю", "Shteryu", "Shterju", "Șteriu"]);
        same_key(&["Живко", "Zhivko", "Jivko"]);
        same_key(&["Чавдар", "Chavdar", "Tchavdar"]);
        same_key(&["Цветан", "Tsvetan", "Tzvetan"]);
        same_key(&["Джорджев", "Djordjev", "Dzhordzhev"]);
        same_key(&["Lăcătuș", "Lacatus", "Lacatush", "Lacatuş"]);
        same_key(&["Costel", "Kostel", "Costele"]);
        same_key(&["Vasile", "Vassile", "Vasil", "Vassil"]);
        same_key(&["Dimitrii", "Dimitriy", "Dimitrij", "Dimitri"]);
        same_key(&["Dumitru", "Doumitrou"]);
        same_key(&["Ciurar", "Tchiourar"]);
        same_key(&["Alexandar", "Aleksandar", "Александър"]);
        same_key(&["Petrovski", "Petrovska"]);
        same_key(&["Marin", "Marine"]);
        same_key(&["Anghel", "Angel", "Anguel"]);
        same_key(&["Минчев", "Minchev", "Mintchev", "Mintschev"]);
        same_key(&["Philipov", "Filipov"]);
    }

    #[test]
    fn keys_of_different_names_differ() {
        for (a, b) in [
            ("Ion", "Ioan"),
            ("Maria", "Marian"),
            ("Ivan", "Ivana"),
            ("Stefan", "Stelian"),
            ("Popa", "Pop"),
            ("Petrov", "Petkov"),
            ("Ana", "Anca"),
            ("Hristo", "Hristina"),
            ("Marin", "Marina"),
            ("Stanchev", "Stankov"),
        ] {
            assert_ne!(key(a), key(b), "{a} vs {b}");
        }
    }

    #[test]
    fn keys_are_one_per_word() {
        assert_eq!(
            keys("Lăcătuș Ștefan-Marian"),
            ["lakatus", "stefan", "marian"]
        );
        assert!(keys(" - ").is_empty());
    }

    #[test]
    fn spelling_variants_are_close() {
        let c = |a: &str, b: &str| {
            close(
                &fold::fold(a).chars().collect::<Vec<_>>(),
                &fold::fold(b).chars().collect::<Vec<_>>(),
            )
        };
        assert!(c("ion", "ioan"), "a vowel in a short word");
        assert!(!c("ana", "anca"), "a consonant in a short word");
        assert!(!c("dan", "don"), "three letters");
        assert!(c("florin", "florim"), "one letter changed");
        assert!(c("nistor", "nistro"), "two letters swapped");
        assert!(!c("stefan", "stelian"), "two edits in a short word");
        assert!(c("constantin", "costantn"), "two edits in a long word");
        assert!(!c("constantin", "costatn"), "three edits");
    }

    #[test]
    fn variants_compare_alike_with_reasons() {
        let a = person("Lăcătuș", "Ștefan", Some(1987));
        let found = compare(&a, &person("Lacatus", "Stefan", Some(1987))).unwrap();
        assert_eq!(found.reasons, [Reason::SameName, Reason::BirthYear]);
        let found = compare(&a, &person("Lacatus", "Stefane", Some(1988))).unwrap();
        assert_eq!(found.reasons, [Reason::NameSound, Reason::BirthYear]);
        let typo = compare(&a, &person("Lacatus", "Stefam", None)).unwrap();
        assert_eq!(typo.reasons, [Reason::NameSpelling]);
        assert!(found.score > typo.score);
        let cyrillic = compare(
            &person("Петров", "Георги", None),
            &person("Petroff", "Gueorgui", None),
        )
        .unwrap();
        assert_eq!(cyrillic.reasons, [Reason::NameSound]);
    }

    #[test]
    fn order_of_words_does_not_matter() {
        let a = person("Lăcătuș", "Ștefan", Some(1987));
        let swapped = person("Stefan", "Lacatus", Some(1987));
        let straight = compare(&a, &person("Lacatus", "Stefan", Some(1987))).unwrap();
        assert_eq!(compare(&a, &swapped), Some(straight.clone()));
        assert_eq!(compare(&swapped, &a), Some(straight));
        let two_words = person("", "Stefan Lacatus", None);
        assert!(compare(&a, &two_words).is_some());
    }

    #[test]
    fn a_second_given_name_may_be_missing() {
        let two = person("Lăcătuș", "Ștefan Marian", Some(1987));
        let found = compare(&two, &person("Lacatus", "Marian", Some(1987))).unwrap();
        let full = compare(&two, &person("Lacatus", "Stefan Marian", Some(1987))).unwrap();
        assert!(full.score > found.score, "{full:?} {found:?}");
        assert!(compare(&two, &person("Lacatus", "Florin", Some(1987))).is_none());
    }

    #[test]
    fn every_word_of_the_shorter_name_must_pair() {
        let a = person("Popa", "Ion", Some(1980));
        assert!(compare(&a, &person("Pop", "Ion", Some(1980))).is_none());
        assert!(compare(&a, &person("Popa", "Ioana", Some(1980))).is_none());
        assert!(compare(&a, &person("Popa", "Ioan", Some(1981))).is_some());
    }

    #[test]
    fn birth_years_three_apart_lower_and_five_exclude() {
        let a = person("Petrov", "Ivan", Some(1980));
        let near = compare(&a, &person("Petrov", "Ivan", Some(1981))).unwrap();
        assert!(near.reasons.contains(&Reason::BirthYear));
        assert!(compare(&a, &person("Petrov", "Ivan", Some(1983))).is_none());
        let unknown = compare(&a, &person("Petrov", "Ivan", None)).unwrap();
        assert!(near.score > unknown.score);
        // Three years apart, but one household: still a candidate, lower.
        let mut home = person("Petrov", "Ivan", Some(1983));
        home.household = Some("h1".into());
        let mut b = a.clone();
        b.household = Some("h1".into());
        let kept = compare(&b, &home).unwrap();
        assert!(kept.score < near.score && !kept.reasons.contains(&Reason::BirthYear));
        home.birth_year = Some(2005);
        assert!(compare(&b, &home).is_none(), "a father and a son");
    }

    #[test]
    fn a_phone_or_a_household_alone_is_no_candidate() {
        let mut a = person("Petrov", "Georgi", Some(1985));
        let mut b = person("Petrova", "Maria", Some(1987));
        for p in [&mut a, &mut b] {
            p.phones = vec!["06 12 34 56 78".into()];
            p.household = Some("h1".into());
            p.site = Some("s1".into());
        }
        assert!(compare(&a, &b).is_none());
    }

    #[test]
    fn household_site_and_phone_raise_the_score() {
        let mut a = person("Stoica", "Marian", Some(1980));
        let mut b = person("Stoica", "Marian", None);
        let bare = compare(&a, &b).unwrap();
        a.household = Some("h1".into());
        b.household = Some("h1".into());
        a.site = Some("s1".into());
        b.site = Some("s1".into());
        a.phones = vec!["+33 6 12 34 56 78".into()];
        b.phones = vec!["06.12.34.56.78".into()];
        let found = compare(&a, &b).unwrap();
        assert!(found.score > bare.score);
        assert_eq!(
            found.reasons,
            [
                Reason::SameName,
                Reason::Household,
                Reason::Site,
                Reason::Phone
            ]
        );
    }

    #[test]
    fn phones_compare_by_national_number() {
        assert_eq!(national("+33 6 12 34 56 78").as_deref(), Some("612345678"));
        assert_eq!(
            national("0033 (0)6 12 34 56 78").as_deref(),
            Some("612345678")
        );
        assert_eq!(national("06 12 34 56 78").as_deref(), Some("612345678"));
        assert_eq!(national("+40 722 123 456").as_deref(), Some("722123456"));
        assert_eq!(national("0722 123 456").as_deref(), Some("722123456"));
        assert_eq!(national("+359 888 123 456").as_deref(), Some("888123456"));
        assert_eq!(national("0888 123 456").as_deref(), Some("888123456"));
        assert_eq!(national("12 34"), None);
    }

    #[test]
    fn couples_and_siblings_of_the_other_sex_are_not_alike() {
        let no = |a: Profile, b: Profile| assert!(compare(&a, &b).is_none(), "{a:?} {b:?}");
        no(
            person("Petrov", "Ivan", Some(1980)),
            person("Petrova", "Ivana", Some(1980)),
        );
        no(
            person("Dumitru", "Marian", Some(1990)),
            person("Dumitru", "Maria", Some(1990)),
        );
        no(
            person("Ursu", "Petru", Some(1990)),
            person("Ursu", "Petra", Some(1990)),
        );
        no(
            person("Yordanov", "Marin", Some(1966)),
            person("Yordanova", "Marina", Some(1966)),
        );
    }

    #[test]
    fn a_feminine_family_name_in_its_masculine_form_is_alike() {
        let found = compare(
            &person("Petrova", "Maria", Some(1987)),
            &person("Petrov", "Maria", Some(1987)),
        )
        .unwrap();
        assert_eq!(found.reasons, [Reason::NameSpelling, Reason::BirthYear]);
        let exact = compare(
            &person("Petrova", "Maria", Some(1987)),
            &person("Petrova", "Maria", Some(1987)),
        )
        .unwrap();
        assert!(found.score < exact.score);
        // Not when the words are given names swapped in.
        assert!(
            compare(
                &person("Maria", "Petrova", Some(1987)),
                &person("Maria", "Petrov", Some(1987))
            )
            .is_none()
        );
    }

    #[test]
    fn aliases_stand_for_names() {
        let mut a = person("Lăcătuș", "Ștefan", Some(1987));
        a.aliases = vec!["Fane".into()];
        let found = compare(&a, &person("Lacatus", "Fane", Some(1987))).unwrap();
        assert_eq!(
            found.reasons,
            [Reason::SameName, Reason::Alias, Reason::BirthYear]
        );
        let mut b = person("Ciurar", "Gigel", None);
        b.aliases = vec!["Ștefan Lăcătuș".into()];
        assert!(compare(&a, &b).unwrap().reasons.contains(&Reason::Alias));
        let direct = compare(&a, &person("Lacatus", "Stefan", Some(1987))).unwrap();
        assert!(!direct.reasons.contains(&Reason::Alias));
    }

    #[test]
    fn a_family_name_alone_needs_support() {
        let alone = Profile {
            family_names: vec!["Popa".into()],
            ..Profile::default()
        };
        assert!(compare(&alone, &person("Popa", "Ion", None)).is_none());
        let mut born = alone.clone();
        born.birth_year = Some(1980);
        assert!(compare(&born, &person("Popa", "Ion", Some(1980))).is_some());
        assert!(compare(&Profile::default(), &Profile::default()).is_none());
    }

    #[test]
    fn names_in_conflict_are_each_compared() {
        let mut a = person("Petrov", "Georgi", Some(1985));
        a.family_names.push("Ivanov".into());
        assert!(compare(&a, &person("Ivanov", "Georgi", Some(1985))).is_some());
        assert!(compare(&a, &person("Petrov", "Georgi", Some(1985))).is_some());
        assert!(compare(&a, &person("Ivanov", "Petrov", None)).is_none());
    }

    #[test]
    fn initials_are_left_out() {
        let a = person("Lăcătuș", "Ștefan M.", Some(1987));
        let found = compare(&a, &person("Lacatus", "Stefan", Some(1987))).unwrap();
        assert_eq!(found.reasons, [Reason::SameName, Reason::BirthYear]);
    }

    #[test]
    fn prepared_compares_as_compare() {
        let a = person("Петров", "Георги Иванов", Some(1985));
        let b = person("Petroff", "Gueorgui", Some(1986));
        assert_eq!(
            compare(&a, &b),
            compare_prepared(&Prepared::new(&a), &Prepared::new(&b))
        );
    }
}
