//! The key of an instance in the history, `(service, id)`, looked up by borrowed strings (no allocation per sample on ingest); pure.
//!
//! A borrowed pair hashes and compares exactly as the owned tuple does.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

/// A `(service, id)` pair, owned or borrowed; ordered as the tuple `(service, id)`.
pub(super) trait Pair {
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
pub(super) fn of<'a>(pair: &'a (&'a str, &'a str)) -> &'a (dyn Pair + 'a) {
    pair
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
}
