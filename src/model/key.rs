//! The key of an instance, `(service, id)`, looked up in maps and sets of owned pairs by borrowed strings (no allocation per sample or reply); pure.
//!
//! A borrowed pair hashes and compares exactly as the owned tuple does; [`Prints`] holds a set
//! of pairs as fingerprints; [`sorted`] orders items by their pair.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};

/// A `(service, id)` pair, owned or borrowed; ordered as the tuple `(service, id)`.
pub trait Pair {
    fn pair(&self) -> (&str, &str);
}

impl Pair for (String, String) {
    fn pair(&self) -> (&str, &str) {
        (&self.0, &self.1)
    }
}

impl Pair for (&str, &str) {
    fn pair(&self) -> (&str, &str) {
        (self.0, self.1)
    }
}

impl<'a> Borrow<dyn Pair + 'a> for (String, String) {
    fn borrow(&self) -> &(dyn Pair + 'a) {
        self
    }
}

impl PartialEq for dyn Pair + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.pair() == other.pair()
    }
}

impl Eq for dyn Pair + '_ {}

impl Hash for dyn Pair + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.pair().hash(state);
    }
}

impl PartialOrd for dyn Pair + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for dyn Pair + '_ {
    fn cmp(&self, other: &Self) -> Ordering {
        self.pair().cmp(&other.pair())
    }
}

/// The borrowed key to look `(service, id)` up with.
pub fn of<'a>(pair: &'a (&'a str, &'a str)) -> &'a (dyn Pair + 'a) {
    pair
}

/// A set of instances held as keyed 64-bit fingerprints of `(service, id)`: built and queried
/// without copying a string, one hash per look-up. Two instances share a fingerprint with odds
/// of about n²/2⁶⁵ (10⁻¹¹ for 10 000); the key is random per set family, so replies cannot aim
/// at a collision. Sets made with [`Prints::empty_like`] share the key, and so a fingerprint.
#[derive(Clone, Debug, Default)]
pub struct Prints {
    set: HashSet<u64, BuildHasherDefault<AsIs>>,
    key: RandomState,
}

impl Prints {
    /// An empty set with a fresh key.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty set with the key of `self`, room for `capacity`.
    pub fn empty_like(&self, capacity: usize) -> Self {
        Self {
            set: HashSet::with_capacity_and_hasher(capacity, BuildHasherDefault::default()),
            key: self.key.clone(),
        }
    }

    /// The fingerprint of `(service, id)` under this set's key.
    pub fn print(&self, service: &str, id: &str) -> u64 {
        self.key.hash_one((service, id))
    }

    pub fn contains(&self, service: &str, id: &str) -> bool {
        !self.set.is_empty() && self.set.contains(&self.print(service, id))
    }

    pub fn contains_print(&self, print: u64) -> bool {
        self.set.contains(&print)
    }

    /// Add `(service, id)`; false when it was there.
    pub fn insert(&mut self, service: &str, id: &str) -> bool {
        let p = self.print(service, id);
        self.set.insert(p)
    }

    /// Add a fingerprint made by [`Prints::print`] of this set or of one made like it.
    pub fn insert_print(&mut self, print: u64) -> bool {
        self.set.insert(print)
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

/// A map by fingerprint ([`Prints::print`]): the fingerprint, already a keyed hash, is used as
/// its own hash. The values must hold their `(service, id)` to tell the rare collision.
pub type ByPrint<V> = std::collections::HashMap<u64, V, BuildHasherDefault<AsIs>>;

/// Hashes a fingerprint, already a keyed hash, as it is.
#[derive(Default)]
pub struct AsIs(u64);

impl Hasher for AsIs {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// `items` in `(service, id)` order, sorted by index on the first 32 bytes of each string held
/// side by side (the strings themselves are read only when those tie): items move only once
/// the order is known, instead of at every comparison, and 10 000 replies sort in well under a millisecond.
pub fn sorted<T>(items: Vec<T>, pair: impl Fn(&T) -> (&str, &str)) -> Vec<T> {
    let mut order: Vec<(Head, Head, usize)> = items
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let (service, id) = pair(t);
            (Head::of(service), Head::of(id), i)
        })
        .collect();
    // Each side's strings are looked up only when its heads tie.
    order.sort_unstable_by(|a, b| {
        Head::cmp(a.0, || pair(&items[a.2]).0, b.0, || pair(&items[b.2]).0)
            .then_with(|| Head::cmp(a.1, || pair(&items[a.2]).1, b.1, || pair(&items[b.2]).1))
    });
    // Position k takes the item at `from[k]`: each cycle of the permutation is walked with swaps,
    // in place (no second vector of items).
    let mut from: Vec<usize> = order.into_iter().map(|(_, _, i)| i).collect();
    let mut items = items;
    for start in 0..from.len() {
        let mut at = start;
        loop {
            let next = from[at];
            from[at] = at;
            if next == start {
                break;
            }
            items.swap(at, next);
            at = next;
        }
    }
    items
}

/// The first 32 bytes of a string (zero-padded, big-endian, as two words) and its length: a
/// NUID (22 bytes, the id most implementations make) is all head, so ids sort without being read.
#[derive(Clone, Copy)]
struct Head {
    bytes: (u128, u128),
    len: usize,
}

impl Head {
    const N: usize = 32;

    fn of(s: &str) -> Self {
        let mut b = [0u8; Self::N];
        let n = s.len().min(Self::N);
        b[..n].copy_from_slice(&s.as_bytes()[..n]);
        let (hi, lo) = b.split_at(Self::N / 2);
        let word = |h: &[u8]| u128::from_be_bytes(h.try_into().unwrap_or([0; 16]));
        Self {
            bytes: (word(hi), word(lo)),
            len: s.len(),
        }
    }

    /// The order of the strings `a` and `b` whose heads these are, reading them only on a tie.
    fn cmp<'s>(ha: Self, a: impl FnOnce() -> &'s str, hb: Self, b: impl FnOnce() -> &'s str) -> Ordering {
        ha.bytes.cmp(&hb.bytes).then_with(|| {
            if ha.len <= Self::N && hb.len <= Self::N {
                ha.len.cmp(&hb.len)
            } else {
                a().cmp(b())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, HashMap};

    #[test]
    fn borrowed_lookups_find_owned_keys_in_tuple_order() {
        let mut m = BTreeMap::new();
        for (s, i) in [("b", "1"), ("a", "2"), ("a", "10"), ("ab", "")] {
            m.insert((s.to_string(), i.to_string()), format!("{s}/{i}"));
        }
        assert_eq!(m.get(of(&("a", "10"))).map(String::as_str), Some("a/10"));
        assert_eq!(m.get(of(&("ab", ""))).map(String::as_str), Some("ab/"));
        assert!(!m.contains_key(of(&("a", "1"))));
        assert!(!m.contains_key(of(&("", "a2"))));
        let order: Vec<_> = m.values().map(String::as_str).collect();
        assert_eq!(order, ["a/10", "a/2", "ab/", "b/1"]);
    }

    #[test]
    fn borrowed_lookups_find_owned_keys_in_a_hash_map() {
        let mut m = HashMap::new();
        for (s, i) in [("b", "1"), ("a", "2"), ("a", "10"), ("ab", ""), ("a", "b")] {
            m.insert((s.to_string(), i.to_string()), format!("{s}/{i}"));
        }
        for (s, i) in [("b", "1"), ("a", "2"), ("a", "10"), ("ab", ""), ("a", "b")] {
            assert_eq!(m.get(of(&(s, i))), Some(&format!("{s}/{i}")));
        }
        // The boundary between the two strings counts: ("a", "b1") is not ("ab", "1").
        assert!(!m.contains_key(of(&("ab", "1"))) && !m.contains_key(of(&("a", "b1"))));
    }

    #[test]
    fn prints_tell_pairs_apart_at_the_boundary_and_share_a_key_when_made_alike() {
        let mut a = Prints::new();
        assert!(a.insert("a", "b1") && !a.insert("a", "b1"));
        assert!(a.contains("a", "b1") && !a.contains("ab", "1") && !a.contains("a", "b"));
        let mut b = a.empty_like(4);
        assert!(b.is_empty() && !b.contains("a", "b1"));
        assert!(b.insert_print(a.print("a", "b1")));
        assert!(b.contains("a", "b1"), "a set made alike computes the same fingerprint");
        let mut many = Prints::new();
        for i in 0..10_000 {
            assert!(many.insert("fleet", &format!("id{i}")));
        }
        assert_eq!(many.len(), 10_000);
    }

    #[test]
    fn sorted_orders_as_the_tuples_do_at_and_around_the_head_boundaries() {
        let words = [
            "",
            "a",
            "a\0",
            "a\0\0",
            "ab",
            "b",
            "fleet",
            "fleet-a",
            "0123456789abcdef",
            "0123456789abcdef\0",
            "0123456789abcdefg",
            "0123456789abcdefa",
            "0123456789abcdeg",
            "0123456789abcde",
            "ÿ",
            "é",
            "0123456789abcdef0123456789abcdef",
            "0123456789abcdef0123456789abcdef\0",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdefa",
            "0123456789abcdef0123456789abcdefb",
            "0123456789abcdef0123456789abcdeg",
            "0123456789abcdef\x000123456789abcdef",
        ];
        let mut items = Vec::new();
        for (n, s) in words.iter().enumerate() {
            for i in words.iter().skip(n % 3) {
                items.push((s.to_string(), i.to_string()));
            }
        }
        // A fixed shuffle, so that the sort has work to do.
        let len = items.len();
        for k in 0..len {
            items.swap(k, (k * 7919 + 13) % len);
        }
        let mut want = items.clone();
        want.sort();
        assert_eq!(sorted(items, |(s, i)| (s.as_str(), i.as_str())), want);
    }
}
