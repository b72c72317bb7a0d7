//! [`SortedMap`]: a map from strings kept as a sorted vector, for the per-connection maps
//! that hold one or a few entries (a session's subscriptions).
//!
//! A `BTreeMap` allocates a node with room for eleven entries for its first one: with a
//! 96-byte value that is 1.3 KB per subscribed connection, where this holds exactly what
//! it has. Lookups are binary searches; inserts and removals shift the entries after
//! them, which is cheap at the sizes these maps have.

/// A map ordered by key, like a `BTreeMap<String, V>` (iteration in key order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SortedMap<V> {
    entries: Vec<(String, V)>,
}

impl<V> Default for SortedMap<V> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

/// Up to this many entries the vector grows one entry at a time (no spare room).
const EXACT_UP_TO: usize = 4;

impl<V> SortedMap<V> {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(entry, _)| entry.as_str().cmp(key))
    }

    pub(crate) fn get(&self, key: &str) -> Option<&V> {
        let index = self.position(key).ok()?;
        self.entries.get(index).map(|(_, value)| value)
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Inserts or replaces; returns the value replaced.
    pub(crate) fn insert(&mut self, key: String, value: V) -> Option<V> {
        match self.position(&key) {
            Ok(index) => self
                .entries
                .get_mut(index)
                .map(|(_, old)| std::mem::replace(old, value)),
            Err(index) => {
                if self.entries.len() < EXACT_UP_TO {
                    self.entries.reserve_exact(1);
                }
                self.entries.insert(index, (key, value));
                None
            }
        }
    }

    pub(crate) fn remove(&mut self, key: &str) -> Option<V> {
        let index = self.position(key).ok()?;
        let (_, value) = self.entries.remove(index);
        if self.entries.is_empty() {
            self.entries = Vec::new();
        }
        Some(value)
    }

    pub(crate) fn clear(&mut self) {
        self.entries = Vec::new();
    }

    /// `(key, value)` in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&String, &V)> {
        self.entries.iter().map(|(key, value)| (key, value))
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, value)| value)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Step {
        Insert(String, u32),
        Remove(String),
        Clear,
    }

    fn step() -> impl Strategy<Value = Step> {
        let key = "[a-d]{0,2}";
        prop_oneof![
            6 => (key, any::<u32>()).prop_map(|(key, value)| Step::Insert(key, value)),
            3 => key.prop_map(Step::Remove),
            1 => Just(Step::Clear),
        ]
    }

    proptest! {
        /// Behaves as a `BTreeMap` does, order of iteration included.
        #[test]
        fn behaves_like_a_btree_map(steps in proptest::collection::vec(step(), 0..64)) {
            let mut map = SortedMap::new();
            let mut model = BTreeMap::new();
            for step in steps {
                match step {
                    Step::Insert(key, value) => {
                        prop_assert_eq!(map.insert(key.clone(), value), model.insert(key, value));
                    }
                    Step::Remove(key) => prop_assert_eq!(map.remove(&key), model.remove(&key)),
                    Step::Clear => {
                        map.clear();
                        model.clear();
                    }
                }
                let entries: Vec<(&String, &u32)> = map.iter().collect();
                let expected: Vec<(&String, &u32)> = model.iter().collect();
                prop_assert_eq!(entries, expected);
                for key in ["", "a", "ab", "d"] {
                    prop_assert_eq!(map.get(key), model.get(key));
                    prop_assert_eq!(map.contains_key(key), model.contains_key(key));
                }
            }
        }
    }
}
