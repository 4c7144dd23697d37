//! Dots and version vectors (§1).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use serde::ser::SerializeTuple;
use serde::{Serialize, Serializer};

use crate::ReplicaId;

/// The largest counter a dot may carry: 2^53 − 1, the largest integer every JSON reader
/// keeps exactly.
pub const MAX_COUNTER: u64 = (1 << 53) - 1;

/// `[replica, n]`: the n-th edit (n ≥ 1) that `replica` made to one record.
///
/// Dots order by replica id, then counter: the order entries are kept in.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dot {
    /// The replica that made the edit.
    pub replica: ReplicaId,
    /// Its edit counter for this record, from 1 to [`MAX_COUNTER`].
    pub counter: u64,
}

impl Dot {
    /// The dot `[replica, counter]`.
    pub const fn new(replica: ReplicaId, counter: u64) -> Self {
        Self { replica, counter }
    }
}

impl fmt::Debug for Dot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {}]", self.replica, self.counter)
    }
}

impl fmt::Display for Dot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl Serialize for Dot {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(2)?;
        tuple.serialize_element(&self.replica)?;
        tuple.serialize_element(&self.counter)?;
        tuple.end()
    }
}

/// `{replica: n}`: for each replica, the highest counter of its edits that a copy of a
/// record includes. A missing replica means 0, and no counter is ever 0.
///
/// Version vectors are partially ordered: `partial_cmp` answers `None` when each holds an
/// edit the other lacks (the copies were edited concurrently).
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct VersionVector(BTreeMap<ReplicaId, u64>);

impl VersionVector {
    /// The empty vector: no edit seen.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counter of `replica`, 0 when absent.
    pub fn get(&self, replica: ReplicaId) -> u64 {
        self.0.get(&replica).copied().unwrap_or(0)
    }

    /// Whether this vector includes the edit `dot`.
    pub fn covers(&self, dot: Dot) -> bool {
        dot.counter <= self.get(dot.replica)
    }

    /// Whether this vector includes every edit `other` includes.
    pub fn dominates(&self, other: &VersionVector) -> bool {
        other.0.iter().all(|(&r, &n)| n <= self.get(r))
    }

    /// Pointwise maximum with `other`.
    pub fn join(&mut self, other: &VersionVector) {
        for (&replica, &n) in &other.0 {
            let mine = self.0.entry(replica).or_insert(0);
            *mine = (*mine).max(n);
        }
    }

    /// Sets the counter of `replica`; a counter of 0 removes it.
    pub(crate) fn set(&mut self, replica: ReplicaId, counter: u64) {
        if counter == 0 {
            self.0.remove(&replica);
        } else {
            self.0.insert(replica, counter);
        }
    }

    /// The replicas and their counters, in replica order.
    pub fn iter(&self) -> impl Iterator<Item = (ReplicaId, u64)> + '_ {
        self.0.iter().map(|(&r, &n)| (r, n))
    }

    /// How many replicas have edited the record.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no edit is included.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(ReplicaId, u64)> for VersionVector {
    fn from_iter<I: IntoIterator<Item = (ReplicaId, u64)>>(iter: I) -> Self {
        let mut vv = VersionVector::new();
        for (replica, counter) in iter {
            vv.set(replica, counter);
        }
        vv
    }
}

impl fmt::Debug for VersionVector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter()).finish()
    }
}

impl PartialOrd for VersionVector {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match (self.dominates(other), other.dominates(self)) {
            (true, true) => Some(Ordering::Equal),
            (true, false) => Some(Ordering::Greater),
            (false, true) => Some(Ordering::Less),
            (false, false) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(n: u128) -> ReplicaId {
        ReplicaId::from_u128(n)
    }

    #[test]
    fn concurrent_vectors_are_unordered() {
        let a: VersionVector = [(r(1), 2), (r(2), 1)].into_iter().collect();
        let b: VersionVector = [(r(1), 1), (r(2), 2)].into_iter().collect();
        assert_eq!(a.partial_cmp(&b), None);
        assert_ne!(a, b);
    }

    #[test]
    fn a_missing_replica_counts_as_zero() {
        let a: VersionVector = [(r(1), 2)].into_iter().collect();
        let b: VersionVector = [(r(1), 2), (r(2), 1)].into_iter().collect();
        assert!(a < b, "{a:?} should be below {b:?}");
        assert!(b.covers(Dot::new(r(2), 1)));
        assert!(!a.covers(Dot::new(r(2), 1)));
        let mut joined = a.clone();
        joined.join(&b);
        assert_eq!(joined, b);
    }

    #[test]
    fn serialises_as_an_object_in_replica_order() {
        let vv: VersionVector = [(r(2), 1), (r(1), 3)].into_iter().collect();
        assert_eq!(
            serde_json::to_string(&vv).unwrap(),
            r#"{"00000000-0000-0000-0000-000000000001":3,"00000000-0000-0000-0000-000000000002":1}"#
        );
    }
}
