//! [`Cursor`]: what a consumer has acknowledged in one partition — the ack floor (every
//! offset below it is done) and the ranges acknowledged above it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The acknowledged offsets of one partition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    /// Every offset below this is acknowledged (or dead-lettered, or gone).
    floor: u64,
    /// Acknowledged ranges above the floor: start → end (exclusive), disjoint, not
    /// touching each other or the floor.
    #[serde(default)]
    acked: BTreeMap<u64, u64>,
}

impl Cursor {
    /// A cursor with nothing acknowledged from `floor` on.
    pub(crate) fn at(floor: u64) -> Self {
        Cursor {
            floor,
            acked: BTreeMap::new(),
        }
    }

    /// The ack floor.
    pub(crate) fn floor(&self) -> u64 {
        self.floor
    }

    /// Whether `offset` is acknowledged.
    pub(crate) fn is_acked(&self, offset: u64) -> bool {
        offset < self.floor
            || self
                .acked
                .range(..=offset)
                .next_back()
                .is_some_and(|(_, end)| offset < *end)
    }

    /// How many offsets at or above the floor are acknowledged.
    pub(crate) fn acked_above_floor(&self) -> u64 {
        self.acked.iter().map(|(start, end)| end - start).sum()
    }

    /// Acknowledges one offset.
    pub(crate) fn ack(&mut self, offset: u64) {
        self.ack_range(offset, offset + 1);
    }

    /// Acknowledges `start..end`.
    pub(crate) fn ack_range(&mut self, start: u64, end: u64) {
        let mut start = start.max(self.floor);
        let mut end = end;
        if start >= end {
            return;
        }
        // Merge with a range that starts at or before `start` and reaches it.
        if let Some((&before, &before_end)) = self.acked.range(..=start).next_back()
            && before_end >= start
        {
            start = before;
            end = end.max(before_end);
        }
        // Absorb every range that starts within `start..=end`.
        let absorbed: Vec<(u64, u64)> = self
            .acked
            .range(start..=end)
            .map(|(s, e)| (*s, *e))
            .collect();
        for (range_start, range_end) in absorbed {
            self.acked.remove(&range_start);
            end = end.max(range_end);
        }
        if start <= self.floor {
            self.floor = end;
            // The new floor may now touch the next range.
            if let Some(next_end) = self.acked.remove(&self.floor) {
                self.floor = next_end;
            }
        } else {
            self.acked.insert(start, end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acking_in_order_moves_the_floor() {
        let mut cursor = Cursor::at(10);
        cursor.ack(10);
        cursor.ack(11);
        assert_eq!(cursor.floor(), 12);
        assert_eq!(cursor.acked_above_floor(), 0);
    }

    #[test]
    fn acks_above_the_floor_are_kept_until_the_gap_closes() {
        let mut cursor = Cursor::at(0);
        cursor.ack(2);
        cursor.ack(4);
        cursor.ack(3);
        assert_eq!(cursor.floor(), 0);
        assert!(cursor.is_acked(3) && !cursor.is_acked(1) && !cursor.is_acked(5));
        assert_eq!(cursor.acked_above_floor(), 3);
        cursor.ack(1);
        assert_eq!(cursor.floor(), 0);
        assert_eq!(cursor.acked_above_floor(), 4);
        cursor.ack(0);
        assert_eq!(cursor.floor(), 5);
        assert_eq!(cursor.acked_above_floor(), 0);
    }

    #[test]
    fn overlapping_range_acks_merge() {
        let mut cursor = Cursor::at(0);
        cursor.ack_range(5, 8);
        cursor.ack_range(10, 12);
        cursor.ack_range(7, 11);
        assert_eq!(cursor.acked.len(), 1);
        assert_eq!(cursor.acked_above_floor(), 7);
        cursor.ack_range(0, 5);
        assert_eq!(cursor.floor(), 12);
    }

    #[test]
    fn acking_matches_a_naive_model() {
        // Every permutation-ish order of acks over 0..12 ends at floor 12; the set view
        // matches a plain set at each step.
        let order = [7, 3, 0, 11, 1, 5, 2, 9, 4, 10, 8, 6];
        let mut cursor = Cursor::at(0);
        let mut model = std::collections::BTreeSet::new();
        for offset in order {
            cursor.ack(offset);
            model.insert(offset);
            for probe in 0..14 {
                assert_eq!(
                    cursor.is_acked(probe),
                    model.contains(&probe),
                    "offset {probe}"
                );
            }
        }
        assert_eq!(cursor.floor(), 12);
    }
}
