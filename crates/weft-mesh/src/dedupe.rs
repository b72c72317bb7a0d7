//! The dedupe guard: a bounded window of recently seen sequence numbers per origin.
//!
//! Shortest-path-tree forwarding sends each event once per link when every node's
//! database agrees; while the topology changes they may not, and a node may get the same
//! event twice. Every node therefore remembers, per origin, which of the last `window`
//! sequence numbers it has forwarded, and drops repeats. A sequence number that has
//! fallen out of the window is treated as seen (dropped and counted): the guard prefers
//! losing a very late live event to delivering one twice.

use std::collections::BTreeMap;

use crate::name::NodeName;

/// What the guard says about an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// First time seen: forward and deliver.
    New,
    /// Seen before: drop.
    Duplicate,
    /// Older than the window (or from an older incarnation of the origin): drop.
    TooOld,
}

#[derive(Debug, Clone)]
struct OriginWindow {
    incarnation: u64,
    highest: u64,
    bits: Vec<u64>,
}

impl OriginWindow {
    fn new(incarnation: u64, words: usize) -> Self {
        Self {
            incarnation,
            highest: 0,
            bits: vec![0; words],
        }
    }

    fn span(&self) -> u64 {
        self.bits.len() as u64 * 64
    }

    fn slot(&self, sequence: u64) -> (usize, u64) {
        let bit = sequence % self.span();
        ((bit / 64) as usize, 1 << (bit % 64))
    }

    fn check(&mut self, sequence: u64) -> Verdict {
        if sequence > self.highest {
            if sequence - self.highest >= self.span() {
                self.bits.iter_mut().for_each(|word| *word = 0);
            } else {
                for cleared in self.highest + 1..sequence {
                    let (word, mask) = self.slot(cleared);
                    self.bits[word] &= !mask;
                }
            }
            self.highest = sequence;
            let (word, mask) = self.slot(sequence);
            self.bits[word] |= mask;
            return Verdict::New;
        }
        if self.highest - sequence >= self.span() {
            return Verdict::TooOld;
        }
        let (word, mask) = self.slot(sequence);
        if self.bits[word] & mask != 0 {
            return Verdict::Duplicate;
        }
        self.bits[word] |= mask;
        Verdict::New
    }
}

/// Recently seen events of every origin.
#[derive(Debug, Clone)]
pub struct DedupeGuard {
    words: usize,
    origins: BTreeMap<NodeName, OriginWindow>,
}

impl DedupeGuard {
    /// A guard remembering at least `window` sequence numbers per origin (rounded up to a
    /// multiple of 64).
    pub fn new(window: u64) -> Self {
        Self {
            words: window.div_ceil(64).max(1) as usize,
            origins: BTreeMap::new(),
        }
    }

    /// Records (origin, incarnation, sequence) and says whether it was new.
    pub fn check(&mut self, origin: &NodeName, incarnation: u64, sequence: u64) -> Verdict {
        let window = self
            .origins
            .entry(origin.clone())
            .or_insert_with(|| OriginWindow::new(incarnation, self.words));
        if incarnation < window.incarnation {
            return Verdict::TooOld;
        }
        if incarnation > window.incarnation {
            *window = OriginWindow::new(incarnation, self.words);
        }
        window.check(sequence)
    }

    /// Forgets an origin that has left the mesh.
    pub fn forget(&mut self, origin: &NodeName) {
        self.origins.remove(origin);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> NodeName {
        NodeName::new("a").unwrap()
    }

    #[test]
    fn repeats_are_duplicates_and_old_sequences_are_too_old() {
        let mut guard = DedupeGuard::new(64);
        assert_eq!(guard.check(&node(), 1, 5), Verdict::New);
        assert_eq!(guard.check(&node(), 1, 3), Verdict::New);
        assert_eq!(guard.check(&node(), 1, 5), Verdict::Duplicate);
        assert_eq!(guard.check(&node(), 1, 3), Verdict::Duplicate);
        assert_eq!(guard.check(&node(), 1, 200), Verdict::New);
        assert_eq!(guard.check(&node(), 1, 5), Verdict::TooOld);
        assert_eq!(guard.check(&node(), 1, 199), Verdict::New);
    }

    #[test]
    fn a_new_incarnation_resets_the_window_and_old_ones_are_refused() {
        let mut guard = DedupeGuard::new(64);
        assert_eq!(guard.check(&node(), 1, 5), Verdict::New);
        assert_eq!(guard.check(&node(), 2, 5), Verdict::New);
        assert_eq!(guard.check(&node(), 1, 6), Verdict::TooOld);
    }

    proptest::proptest! {
        #[test]
        fn never_says_new_twice(sequences in proptest::collection::vec(1u64..300, 1..400)) {
            let mut guard = DedupeGuard::new(128);
            let mut seen = std::collections::BTreeSet::new();
            for sequence in sequences {
                if guard.check(&node(), 1, sequence) == Verdict::New {
                    proptest::prop_assert!(seen.insert(sequence));
                }
            }
        }
    }
}
