//! Benchmarks of the subscription index: matching 5-level topics against 10^3 … 10^6
//! realistic subscriptions, and inserting into / removing from a large index.
//!
//! The subscriptions are drawn from a vocabulary shaped like
//! `{domain}/{region}/{country}/{city}/{event}` (with a store id before the event for the
//! 6-level ones): mostly literal filters of 3–6 levels, about 5% with a `*` and 2% ending
//! in `>`. Run with
//! `cargo bench -p weft-topic --bench trie_match -- --warm-up-time 1 --measurement-time 3`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use weft_topic::{Filter, SubscriptionIndex, Topic};

const DOMAINS: [&str; 8] = [
    "orders",
    "payments",
    "shipments",
    "inventory",
    "devices",
    "users",
    "alerts",
    "metrics",
];
const REGIONS: [(&str, [&str; 5]); 6] = [
    ("eu", ["de", "fr", "es", "it", "nl"]),
    ("us", ["ny", "ca", "tx", "wa", "fl"]),
    ("ap", ["jp", "kr", "sg", "au", "in"]),
    ("sa", ["br", "ar", "cl", "co", "pe"]),
    ("af", ["za", "ng", "ke", "eg", "ma"]),
    ("me", ["ae", "sa", "qa", "il", "jo"]),
];
const CITIES: [&str; 40] = [
    "north",
    "south",
    "east",
    "west",
    "central",
    "harbor",
    "airport",
    "old-town",
    "riverside",
    "hills",
    "lakeside",
    "downtown",
    "uptown",
    "midtown",
    "bay",
    "park",
    "valley",
    "ridge",
    "forest",
    "meadow",
    "bridge",
    "market",
    "station",
    "university",
    "docks",
    "garden",
    "castle",
    "mill",
    "quarry",
    "springs",
    "heights",
    "plains",
    "marina",
    "summit",
    "grove",
    "crossing",
    "field",
    "port",
    "square",
    "harborside",
];
const EVENTS: [&str; 10] = [
    "created",
    "updated",
    "cancelled",
    "shipped",
    "delivered",
    "paid",
    "refunded",
    "failed",
    "heartbeat",
    "alarm",
];
const STORES: u64 = 1000;
const SIZES: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];

/// SplitMix64: a tiny deterministic generator, so every run benches the same index.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// The levels of a random 6-level name: domain, region, country, city, store, event.
fn random_levels(rng: &mut Rng) -> [String; 6] {
    let (region, countries) = REGIONS[rng.below(REGIONS.len())];
    [
        rng.pick(&DOMAINS).to_owned(),
        region.to_owned(),
        rng.pick(&countries).to_owned(),
        rng.pick(&CITIES).to_owned(),
        format!("store-{}", rng.next() % STORES),
        rng.pick(&EVENTS).to_owned(),
    ]
}

fn random_filter(rng: &mut Rng) -> Filter {
    let names = random_levels(rng);
    let [domain, region, country, city, store, event] = names.each_ref().map(String::as_str);
    let roll = rng.below(100);
    let levels: Vec<&str> = match roll {
        // ~2% end in `>`.
        0..2 => vec![domain, region, ">"],
        // ~5% have a `*` in place of one level below the domain.
        2..7 => {
            let mut levels = vec![domain, region, country, city, event];
            levels[1 + rng.below(4)] = "*";
            levels
        }
        7..17 => vec![domain, region, country],
        17..32 => vec![domain, region, country, city],
        32..72 => vec![domain, region, country, city, event],
        _ => vec![domain, region, country, city, store, event],
    };
    Filter::new(levels.join("/")).unwrap_or_else(|error| panic!("bench filter: {error}"))
}

fn random_topic(rng: &mut Rng) -> Topic {
    let [domain, region, country, city, _store, event] = random_levels(rng);
    Topic::new([domain, region, country, city, event].join("/"))
        .unwrap_or_else(|error| panic!("bench topic: {error}"))
}

fn build_index(size: usize, rng: &mut Rng) -> SubscriptionIndex<u64> {
    let mut index = SubscriptionIndex::new();
    for id in 0..size as u64 {
        index.insert(&random_filter(rng), id);
    }
    index
}

fn bench_match(c: &mut Criterion) {
    let mut rng = Rng(42);
    let topics: Vec<Topic> = (0..1024).map(|_| random_topic(&mut rng)).collect();
    let indexes: Vec<(usize, SubscriptionIndex<u64>)> = SIZES
        .into_iter()
        .map(|size| (size, build_index(size, &mut rng)))
        .collect();

    let mut group = c.benchmark_group("match");
    for (size, index) in &indexes {
        let mut out = Vec::new();
        for topic in &topics {
            index.matches(topic, &mut out);
        }
        eprintln!(
            "match/{size}: {:.1} matches per topic on average",
            out.len() as f64 / topics.len() as f64
        );
        group.bench_with_input(BenchmarkId::from_parameter(size), index, |b, index| {
            let mut out = Vec::with_capacity(4096);
            let mut next = 0;
            b.iter(|| {
                out.clear();
                index.matches(black_box(&topics[next]), &mut out);
                next = (next + 1) % topics.len();
                black_box(out.len())
            });
        });
    }
    group.finish();

    // The same walk without copying the values out: what the traversal itself costs.
    let mut group = c.benchmark_group("match_slices");
    for (size, index) in &indexes {
        group.bench_with_input(BenchmarkId::from_parameter(size), index, |b, index| {
            let mut next = 0;
            b.iter(|| {
                let mut count = 0;
                index.for_each_match_slice(black_box(&topics[next]), |values| {
                    count += values.len();
                });
                next = (next + 1) % topics.len();
                black_box(count)
            });
        });
    }
    group.finish();
}

fn bench_insert(c: &mut Criterion) {
    let mut group = c.benchmark_group("insert_remove");
    let mut rng = Rng(7);
    let filters: Vec<Filter> = (0..1024).map(|_| random_filter(&mut rng)).collect();
    let size = 100_000;
    let mut index = build_index(size, &mut rng);
    group.bench_function(BenchmarkId::from_parameter(size), |b| {
        let mut next = 0;
        b.iter(|| {
            let filter = &filters[next % filters.len()];
            index.insert(black_box(filter), u64::MAX);
            let removed = index.remove(black_box(filter), &u64::MAX);
            next += 1;
            black_box(removed)
        });
    });
    group.finish();

    let mut group = c.benchmark_group("build");
    let filters: Vec<Filter> = (0..10_000).map(|_| random_filter(&mut rng)).collect();
    group.bench_function(BenchmarkId::from_parameter(filters.len()), |b| {
        b.iter(|| {
            let mut index = SubscriptionIndex::new();
            for (id, filter) in filters.iter().enumerate() {
                index.insert(filter, id);
            }
            black_box(index.len())
        });
    });
    group.finish();
}

criterion_group!(benches, bench_match, bench_insert);
criterion_main!(benches);
