//! [`SubscriptionIndex`]: which subscriptions want a topic, answered by a trie of filter
//! levels.
//!
//! Each node of the trie stands for a filter prefix and holds
//! - its literal children, in a hash table keyed by level;
//! - a dedicated `*` child;
//! - the values of the filters that are exactly this prefix, and of the filters that are
//!   this prefix followed by `>`.
//!
//! Matching walks the topic's levels once, following at each node the literal child of
//! the level and the `*` child, and collecting the `>` values on the way. It borrows the
//! topic's levels (no string copies) and allocates nothing; its cost grows with the number
//! of trie branches the topic reaches (at most two per level) and the number of values it
//! reports, not with the number of filters. The `$` rule is applied at the root: a system
//! topic does not follow the root's `*` child or collect its `>` values.
//!
//! For speed on large indexes (see `benches/trie_match.rs`): every hash table of the trie
//! shares one seeded hasher, so a topic level is hashed once for both the `*` child and the
//! literal child of a node; short levels are stored inline in the tables (module `key`), so
//! a lookup follows no pointer to compare them; and matched values are reported as whole
//! slices, so [`SubscriptionIndex::matches`] copies them with one `extend_from_slice` per
//! matching filter.

mod key;

use hashbrown::HashTable;
use weft_core::topic::{Filter, FilterLevel, SEPARATOR, Topic};

use self::key::{LevelKey, Probe};

/// The hasher of the literal levels: fast, and seeded at random per index.
type Hasher = foldhash::fast::RandomState;

/// An index from filters to values (subscription ids) that finds every value whose
/// filter matches a topic.
///
/// It is a multimap: inserting the same `(filter, value)` twice stores it twice, matching
/// reports it twice, and [`remove`](Self::remove) takes away one copy (in time linear in the
/// number of values stored under that filter).
#[derive(Debug, Clone)]
pub struct SubscriptionIndex<T> {
    root: Node<T>,
    hasher: Hasher,
    len: usize,
}

#[derive(Debug, Clone)]
struct Node<T> {
    literal: HashTable<Child<T>>,
    star: Option<Box<Node<T>>>,
    /// `values[..gt_start]` belong to the filters that end here, `values[gt_start..]` to
    /// the filters that end in `>` right below here. One vector keeps nodes small.
    values: Vec<T>,
    gt_start: usize,
}

#[derive(Debug, Clone)]
struct Child<T> {
    key: LevelKey,
    node: Node<T>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Self {
            literal: HashTable::new(),
            star: None,
            values: Vec::new(),
            gt_start: 0,
        }
    }
}

impl<T> Node<T> {
    fn is_empty(&self) -> bool {
        self.literal.is_empty() && self.star.is_none() && self.values.is_empty()
    }

    fn exact(&self) -> &[T] {
        &self.values[..self.gt_start]
    }

    fn gt(&self) -> &[T] {
        &self.values[self.gt_start..]
    }

    fn push_exact(&mut self, value: T) {
        self.values.push(value);
        let last = self.values.len() - 1;
        self.values.swap(self.gt_start, last);
        self.gt_start += 1;
    }

    #[inline]
    fn child(&self, probe: &Probe<'_>) -> Option<&Node<T>> {
        if self.literal.is_empty() {
            return None;
        }
        self.literal
            .find(probe.hash, |child| probe.is(&child.key))
            .map(|child| &child.node)
    }

    fn child_or_insert(&mut self, hasher: &Hasher, level: &str) -> &mut Node<T> {
        let probe = Probe::new(hasher, level);
        let rehash = |child: &Child<T>| child.key.hash(hasher);
        let entry = self
            .literal
            .entry(probe.hash, |child| probe.is(&child.key), rehash);
        let child = entry.or_insert_with(|| Child {
            key: LevelKey::new(level),
            node: Node::default(),
        });
        &mut child.into_mut().node
    }
}

impl<T: PartialEq> Node<T> {
    fn remove_exact(&mut self, value: &T) -> bool {
        let Some(index) = self.exact().iter().position(|stored| stored == value) else {
            return false;
        };
        // Move the last exact value into the hole and the last value into its place.
        let last_exact = self.gt_start - 1;
        self.values.swap(index, last_exact);
        let last = self.values.len() - 1;
        self.values.swap(last_exact, last);
        self.values.pop();
        self.gt_start -= 1;
        self.release_if_empty();
        true
    }

    fn remove_gt(&mut self, value: &T) -> bool {
        let Some(index) = self.gt().iter().position(|stored| stored == value) else {
            return false;
        };
        self.values.swap_remove(self.gt_start + index);
        self.release_if_empty();
        true
    }

    /// Gives the memory back: an index can hold millions of nodes.
    fn release_if_empty(&mut self) {
        if self.values.is_empty() {
            self.values = Vec::new();
        }
    }
}

impl<T> Default for SubscriptionIndex<T> {
    fn default() -> Self {
        Self {
            root: Node::default(),
            hasher: Hasher::default(),
            len: 0,
        }
    }
}

impl<T: Clone + PartialEq> SubscriptionIndex<T> {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `value` under `filter`. A pair that is already present is stored once more.
    pub fn insert(&mut self, filter: &Filter, value: T) {
        let mut node = &mut self.root;
        for level in filter.levels() {
            node = match level {
                FilterLevel::Literal(literal) => node.child_or_insert(&self.hasher, literal),
                FilterLevel::Star => node.star.get_or_insert_with(Box::default),
                FilterLevel::Gt => {
                    node.values.push(value);
                    self.len += 1;
                    return;
                }
            };
        }
        node.push_exact(value);
        self.len += 1;
    }

    /// Removes one copy of `value` under `filter`, and the trie nodes this leaves empty.
    /// Returns whether there was one.
    pub fn remove(&mut self, filter: &Filter, value: &T) -> bool {
        let removed = remove_from(&mut self.root, &self.hasher, &mut filter.levels(), value);
        if removed {
            self.len -= 1;
        }
        removed
    }

    /// Calls `f` once for every `(filter, value)` entry whose filter matches `topic`.
    ///
    /// The order of the calls is unspecified.
    pub fn for_each_match(&self, topic: &Topic, mut f: impl FnMut(&T)) {
        self.for_each_match_slice(topic, |values| values.iter().for_each(&mut f));
    }

    /// Appends a clone of every value whose filter matches `topic` to `out`, as often as
    /// [`for_each_match`](Self::for_each_match) would report it.
    pub fn matches(&self, topic: &Topic, out: &mut Vec<T>) {
        self.for_each_match_slice(topic, |values| out.extend_from_slice(values));
    }

    /// Calls `f` with the non-empty groups of values whose filter matches `topic`; every
    /// matching `(filter, value)` entry is in exactly one group. Copying whole groups is
    /// what makes wide matches (thousands of subscribers of `orders/>`) cheap.
    pub fn for_each_match_slice<'a>(&'a self, topic: &Topic, mut f: impl FnMut(&'a [T])) {
        let walk = Walk {
            hasher: &self.hasher,
            sink: &mut f,
        };
        walk.root(&self.root, topic);
    }

    /// The number of `(filter, value)` entries, counting duplicates.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Removes one `value` at the end of `levels` below `node`, pruning children that become
/// empty on the way back up.
fn remove_from<'a, T: PartialEq>(
    node: &mut Node<T>,
    hasher: &Hasher,
    levels: &mut impl Iterator<Item = FilterLevel<'a>>,
    value: &T,
) -> bool {
    let Some(level) = levels.next() else {
        return node.remove_exact(value);
    };
    match level {
        FilterLevel::Gt => node.remove_gt(value),
        FilterLevel::Star => {
            let Some(star) = node.star.as_deref_mut() else {
                return false;
            };
            let removed = remove_from(star, hasher, levels, value);
            if star.is_empty() {
                node.star = None;
            }
            removed
        }
        FilterLevel::Literal(literal) => {
            let probe = Probe::new(hasher, literal);
            let Ok(mut entry) = node
                .literal
                .find_entry(probe.hash, |child| probe.is(&child.key))
            else {
                return false;
            };
            let removed = remove_from(&mut entry.get_mut().node, hasher, levels, value);
            if entry.get().node.is_empty() {
                entry.remove();
            }
            removed
        }
    }
}

/// One match: the state shared by every step down the trie.
struct Walk<'h, F> {
    hasher: &'h Hasher,
    sink: F,
}

impl<F> Walk<'_, F> {
    fn root<'a, T>(mut self, root: &'a Node<T>, topic: &Topic)
    where
        F: FnMut(&'a [T]),
    {
        let (level, rest) = split_first(topic.as_str());
        let probe = Probe::new(self.hasher, level);
        if topic.is_system() {
            // Only a literal `$…` level can match a system topic's first level.
            self.advance([root.child(&probe), None], rest);
        } else {
            self.step(root, &probe, rest);
        }
    }

    /// Matches the level of `probe` at `node`, then `rest` below it.
    fn step<'a, T>(&mut self, node: &'a Node<T>, probe: &Probe<'_>, rest: Option<&str>)
    where
        F: FnMut(&'a [T]),
    {
        // The level exists, so the `>` filters of this node match.
        self.report(node.gt());
        self.advance([node.star.as_deref(), node.child(probe)], rest);
    }

    /// Continues at the nodes that have just consumed the same level: the `*` child and
    /// the literal child of one node, which share the probe of the next level.
    fn advance<'a, T>(&mut self, nodes: [Option<&'a Node<T>>; 2], rest: Option<&str>)
    where
        F: FnMut(&'a [T]),
    {
        let Some(rest) = rest else {
            for node in nodes.into_iter().flatten() {
                self.report(node.exact());
            }
            return;
        };
        let (level, rest) = split_first(rest);
        let probe = Probe::new(self.hasher, level);
        for node in nodes.into_iter().flatten() {
            self.step(node, &probe, rest);
        }
    }

    fn report<'a, T>(&mut self, values: &'a [T])
    where
        F: FnMut(&'a [T]),
    {
        if !values.is_empty() {
            (self.sink)(values);
        }
    }
}

/// Splits the first level off a non-empty remainder of a topic.
#[inline]
fn split_first(levels: &str) -> (&str, Option<&str>) {
    // A byte loop beats `memchr` on levels this short.
    match levels.bytes().position(|byte| byte == SEPARATOR as u8) {
        Some(at) => (&levels[..at], Some(&levels[at + 1..])),
        None => (levels, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(pattern: &str) -> Filter {
        Filter::new(pattern).unwrap()
    }

    fn index_of(entries: &[(&str, u32)]) -> SubscriptionIndex<u32> {
        let mut index = SubscriptionIndex::new();
        for (pattern, value) in entries {
            index.insert(&filter(pattern), *value);
        }
        index
    }

    fn matched(index: &SubscriptionIndex<u32>, topic: &str) -> Vec<u32> {
        let mut out = Vec::new();
        index.matches(&Topic::new(topic).unwrap(), &mut out);
        out.sort_unstable();
        out
    }

    #[test]
    fn empty_index_matches_nothing() {
        let index = SubscriptionIndex::<u32>::default();
        assert!(index.is_empty());
        assert_eq!(index.len(), 0);
        assert_eq!(matched(&index, "a/b"), Vec::<u32>::new());
    }

    #[test]
    fn literal_filter_matches_only_its_topic() {
        let index = index_of(&[("a/b", 1), ("a", 2), ("a/b/c", 3)]);
        assert_eq!(matched(&index, "a/b"), [1]);
        assert_eq!(matched(&index, "a"), [2]);
        assert_eq!(matched(&index, "a/b/c"), [3]);
        assert_eq!(matched(&index, "a/c"), Vec::<u32>::new());
        assert_eq!(matched(&index, "b"), Vec::<u32>::new());
    }

    #[test]
    fn star_matches_exactly_one_level() {
        let index = index_of(&[("a/*/c", 1), ("*", 2), ("a/*", 3)]);
        assert_eq!(matched(&index, "a/b/c"), [1]);
        assert_eq!(matched(&index, "a/c"), [3]);
        assert_eq!(matched(&index, "a"), [2]);
        assert_eq!(matched(&index, "a/b/c/d"), Vec::<u32>::new());
    }

    #[test]
    fn gt_matches_one_or_more_trailing_levels() {
        let index = index_of(&[("a/>", 1), (">", 2), ("a/*/>", 3)]);
        assert_eq!(matched(&index, "a"), [2]);
        assert_eq!(matched(&index, "a/b"), [1, 2]);
        assert_eq!(matched(&index, "a/b/c"), [1, 2, 3]);
        assert_eq!(matched(&index, "x/y/z"), [2]);
    }

    #[test]
    fn gt_needs_at_least_one_level() {
        let index = index_of(&[("a/b/>", 1)]);
        assert_eq!(matched(&index, "a/b"), Vec::<u32>::new());
        assert_eq!(matched(&index, "a/b/c"), [1]);
    }

    #[test]
    fn empty_levels_are_levels_for_literals_and_wildcards() {
        let index = index_of(&[
            ("/a", 1),
            ("*/a", 2),
            ("a/>", 3),
            ("a/*", 4),
            ("a//b", 5),
            ("a/", 6),
            ("/>", 7),
        ]);
        assert_eq!(matched(&index, "/a"), [1, 2, 7]);
        assert_eq!(matched(&index, "a/"), [3, 4, 6]);
        assert_eq!(matched(&index, "a//b"), [3, 5]);
        assert_eq!(matched(&index, "a"), Vec::<u32>::new());
        assert_eq!(matched(&index, "//"), [7]);
    }

    #[test]
    fn an_empty_first_level_is_not_a_system_level() {
        let index = index_of(&[(">", 1), ("*/$sys", 2), ("/$sys", 3)]);
        assert_eq!(matched(&index, "/$sys"), [1, 2, 3]);
        assert_eq!(matched(&index, "$sys"), Vec::<u32>::new());
    }

    #[test]
    fn leading_wildcards_do_not_match_system_topics() {
        let index = index_of(&[
            (">", 1),
            ("*", 2),
            ("*/up", 3),
            ("$sys/>", 4),
            ("$sys/*", 5),
            ("$sys", 6),
        ]);
        assert_eq!(matched(&index, "$sys/up"), [4, 5]);
        assert_eq!(matched(&index, "$sys"), [6]);
        assert_eq!(matched(&index, "sys/up"), [1, 3]);
    }

    #[test]
    fn overlapping_filters_each_report_their_value() {
        let index = index_of(&[
            ("a/b", 1),
            ("a/*", 2),
            ("*/b", 3),
            ("*/*", 4),
            (">", 5),
            ("a/>", 6),
        ]);
        assert_eq!(matched(&index, "a/b"), [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn duplicate_entries_are_stored_and_matched_twice() {
        let mut index = index_of(&[("a/*", 7), ("a/*", 7)]);
        assert_eq!(index.len(), 2);
        assert_eq!(matched(&index, "a/b"), [7, 7]);
        assert!(index.remove(&filter("a/*"), &7));
        assert_eq!(matched(&index, "a/b"), [7]);
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn for_each_match_reports_every_pair() {
        let index = index_of(&[("a/b", 1), ("a/>", 2)]);
        let mut seen = Vec::new();
        index.for_each_match(&Topic::new("a/b").unwrap(), |value| seen.push(*value));
        seen.sort_unstable();
        assert_eq!(seen, [1, 2]);
    }

    #[test]
    fn remove_takes_away_only_the_named_pair() {
        let mut index = index_of(&[("a/b", 1), ("a/b", 2), ("a/>", 1)]);
        assert!(index.remove(&filter("a/b"), &1));
        assert_eq!(matched(&index, "a/b"), [1, 2]);
        assert!(!index.remove(&filter("a/b"), &1), "already removed");
        assert!(!index.remove(&filter("a/c"), &2), "never inserted");
        assert!(!index.remove(&filter("a/*"), &2), "never inserted");
        assert!(!index.remove(&filter("a/b/>"), &2), "never inserted");
        assert_eq!(index.len(), 2);
    }

    #[test]
    fn remove_prunes_nodes_left_empty() {
        let mut index = index_of(&[("a/b/c/d", 1), ("a/*/>", 2), ("x", 3)]);
        assert!(index.remove(&filter("a/b/c/d"), &1));
        assert!(index.remove(&filter("a/*/>"), &2));
        assert_eq!(index.root.literal.len(), 1, "only x is left");
        let x = Probe::new(&index.hasher, "x");
        assert!(index.root.child(&x).is_some());
        assert!(index.remove(&filter("x"), &3));
        assert!(index.root.is_empty());
        assert!(index.is_empty());
    }

    #[test]
    fn remove_keeps_nodes_still_in_use() {
        let mut index = index_of(&[("a/b", 1), ("a/b/c", 2)]);
        assert!(index.remove(&filter("a/b"), &1));
        assert_eq!(matched(&index, "a/b/c"), [2]);
        assert_eq!(matched(&index, "a/b"), Vec::<u32>::new());
    }
}
