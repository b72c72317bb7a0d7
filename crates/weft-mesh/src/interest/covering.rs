//! Filter covering: when every topic one filter matches is matched by another.

use std::collections::BTreeSet;

use weft_core::topic::{Filter, FilterLevel};

use super::{InterestEntry, InterestKind};

/// Whether `wide` matches every topic that `narrow` matches.
///
/// Level by level: a literal covers only the same literal; `*` covers a literal or `*`
/// (one level); `>` covers whatever non-empty remainder `narrow` has. The system-topic
/// rule is honoured: a filter starting with a wildcard does not match `$` topics, so it
/// does not cover a filter whose first level is a `$` literal.
pub fn covers(wide: &Filter, narrow: &Filter) -> bool {
    let mut narrow_levels = narrow.levels();
    for (index, level) in wide.levels().enumerate() {
        let other = narrow_levels.next();
        if index == 0
            && !matches!(level, FilterLevel::Literal(_))
            && matches!(other, Some(FilterLevel::Literal(literal)) if literal.starts_with('$'))
        {
            return false;
        }
        match (level, other) {
            (_, None) => return false,
            (FilterLevel::Gt, Some(_)) => return true,
            (FilterLevel::Star, Some(FilterLevel::Literal(_) | FilterLevel::Star)) => {}
            (FilterLevel::Star, Some(FilterLevel::Gt)) => return false,
            (FilterLevel::Literal(wide_literal), Some(FilterLevel::Literal(literal))) => {
                if wide_literal != literal {
                    return false;
                }
            }
            (FilterLevel::Literal(_), Some(_)) => return false,
        }
    }
    narrow_levels.next().is_none()
}

/// Whether an entry of kind `wide` makes an entry of kind `narrow` redundant (given
/// covering filters): durable interest also brings what live interest wants; queue
/// groups are only absorbed within the same group, because another node's choice of a
/// group member depends on them.
fn kind_absorbs(wide: &InterestKind, narrow: &InterestKind) -> bool {
    match (wide, narrow) {
        (InterestKind::Durable, InterestKind::Live | InterestKind::Durable) => true,
        (InterestKind::Live, InterestKind::Live) => true,
        (InterestKind::Queue(wide), InterestKind::Queue(narrow)) => wide == narrow,
        _ => false,
    }
}

/// The entries of `entries` that no other entry absorbs. Matching a topic against the
/// result finds the same nodes (and at least the same delivery kinds) as matching it
/// against `entries`. Cost: O(n²) filter comparisons; local interest sets are small.
pub fn summarise(entries: &BTreeSet<InterestEntry>) -> BTreeSet<InterestEntry> {
    entries
        .iter()
        .filter(|narrow| {
            !entries.iter().any(|wide| {
                wide != *narrow
                    && kind_absorbs(&wide.kind, &narrow.kind)
                    && covers(&wide.filter, &narrow.filter)
            })
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests;
