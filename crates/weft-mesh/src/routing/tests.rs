use super::*;
use crate::wire::Adjacency;

fn node(name: &str) -> NodeName {
    NodeName::new(name).unwrap()
}

fn lsa(name: &str, sequence: u64, neighbours: &[(&str, u32)]) -> LinkStateAdvertisement {
    LinkStateAdvertisement {
        node: node(name),
        incarnation: 1,
        sequence,
        interest_version: 0,
        neighbours: neighbours
            .iter()
            .map(|(name, cost)| Adjacency {
                node: node(name),
                cost: *cost,
            })
            .collect(),
    }
}

/// a - b - d and a - c - d, all cost 1: d's parent is b (smaller name) from a.
fn square() -> LinkStateDatabase {
    let mut database = LinkStateDatabase::new();
    database.install(lsa("a", 1, &[("b", 1), ("c", 1)]));
    database.install(lsa("b", 1, &[("a", 1), ("d", 1)]));
    database.install(lsa("c", 1, &[("a", 1), ("d", 1)]));
    database.install(lsa("d", 1, &[("b", 1), ("c", 1)]));
    database
}

#[test]
fn newest_advertisement_wins() {
    let mut database = square();
    assert_eq!(database.install(lsa("a", 1, &[])), Install::Same);
    assert_eq!(database.install(lsa("a", 0, &[])), Install::Older);
    assert_eq!(database.install(lsa("a", 2, &[("b", 1)])), Install::Newer);
    assert_eq!(database.get(&node("a")).map(|lsa| lsa.sequence), Some(2));
}

#[test]
fn equal_cost_ties_break_by_name_and_costs_count() {
    let tree = ShortestPathTree::compute(&square(), &node("a"));
    assert_eq!(tree.parent(&node("d")), Some(&node("b")));
    assert_eq!(tree.distance(&node("d")), Some(2));
    assert_eq!(tree.child_towards(&node("a"), &node("d")), Some(&node("b")));
    assert_eq!(tree.child_towards(&node("c"), &node("d")), None);
    let mut database = square();
    database.install(lsa("b", 2, &[("a", 1), ("d", 5)]));
    let tree = ShortestPathTree::compute(&database, &node("a"));
    assert_eq!(
        tree.path_to(&node("d")),
        Some(vec![node("a"), node("c"), node("d")])
    );
}

#[test]
fn one_way_links_are_not_used() {
    let mut database = square();
    // d stops advertising b: the b-d link is down even though b still lists it.
    database.install(lsa("d", 2, &[("c", 1)]));
    let tree = ShortestPathTree::compute(&database, &node("b"));
    assert_eq!(
        tree.path_to(&node("d")),
        Some(vec![node("b"), node("a"), node("c"), node("d")])
    );
}

#[test]
fn unreachable_nodes_age_out() {
    let mut database = square();
    database.install(lsa("x", 1, &[("y", 1)]));
    let start = Instant::now();
    let tree = ShortestPathTree::compute(&database, &node("a"));
    let max_age = std::time::Duration::from_secs(10);
    assert!(
        database
            .age_out(start, max_age, |n| tree.contains(n))
            .is_empty()
    );
    let later = start + max_age;
    assert_eq!(
        database.age_out(later, max_age, |n| tree.contains(n)),
        vec![node("x")]
    );
    assert_eq!(database.len(), 4);
}
