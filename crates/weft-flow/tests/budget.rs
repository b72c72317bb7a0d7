//! A route's filter and transform run within a budget, off the async workers: a jq
//! program that never ends is dead-lettered instead of pinning the runtime, the other
//! routes go on, and stopping or deleting the route answers at once.
//!
//! Each test runs on a runtime of its own thread, watched by the wall clock: a wedged
//! runtime cannot fire its own timeouts, so without the watch these tests would hang
//! instead of failing when evaluations block the workers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod runtime_support;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use runtime_support::*;
use weft_broker::{AllowAll, Broker};
use weft_flow::runtime::{EvaluationPool, REASON_OVER_BUDGET, RunnerOptions};
use weft_flow::{
    ApplyOptions, Controller, ControllerOptions, Kind, ManifestFile, RouteRunner, RouteStatus,
};

/// How long a whole test may take on the wall clock.
const WALL_CLOCK: Duration = Duration::from_secs(30);

/// Runs `test` on a two-worker runtime on a thread of its own; fails when it has not
/// finished within [`WALL_CLOCK`].
fn on_watched_runtime<F>(test: impl FnOnce() -> F + Send + 'static)
where
    F: Future<Output = ()>,
{
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(test());
        let _ = done_tx.send(());
        runtime.shutdown_background();
    });
    match done_rx.recv_timeout(WALL_CLOCK) {
        Ok(()) => {}
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("the runtime is wedged: the test did not finish within {WALL_CLOCK:?}")
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("the test failed"),
    }
}

/// A route `name` from `in/>` to `out/NAME` running `jq` on events whose data has
/// `.bad`, dead-lettering to `dlq/NAME`.
fn jq_route(name: &str, jq: &str, budget: &str) -> String {
    format!(
        "apiVersion: weft/v1\nkind: Route\nmetadata: {{name: {name}}}\nspec:\n  from: {{topic: \"in/>\"}}\n  transform:\n    - jq: '{jq}'\n  to: {{topic: out/{name}}}\n  budget: {budget}\n  ordering: {{by: none}}\n  delivery:\n    deadLetter: {{topic: dlq/{name}}}\n"
    )
}

/// A route from `in/>` to `out/copy` without a transform.
const COPY_ROUTE: &str = "apiVersion: weft/v1\nkind: Route\nmetadata: {name: copy}\nspec:\n  from: {topic: \"in/>\"}\n  to: {topic: out/copy}\n";

/// Never ends, and the meter stops it (it evaluates terms).
const NEVER_ENDS: &str = "def f: f; if .bad then f else . end";

/// Never ends in practice (2^40 comparisons in one native operation), and the meter
/// cannot stop it: only the hard limit can.
const RUNS_AWAY: &str = "if .bad then (reduce range(40) as $i (0; [., .]) | . < .) else . end";

async fn start(broker: &Broker, yaml: &str, pool: Option<&EvaluationPool>) -> RouteRunner {
    let (name, spec, sink) = manifests(yaml);
    let mut options = RunnerOptions::default();
    if let Some(pool) = pool {
        options.evaluations = pool.clone();
    }
    RouteRunner::start_with(broker, &name, &spec, sink.as_ref(), options)
        .await
        .unwrap()
}

fn bad(id: &str) -> weft_core::Event {
    event("in/x", id, "order.created", r#"{"bad": true}"#)
}

fn good(id: &str) -> weft_core::Event {
    event("in/x", id, "order.created", r#"{"bad": false}"#)
}

/// Waits until `runner`'s status satisfies `done`.
async fn until_status(runner: &RouteRunner, what: &str, done: impl Fn(&RouteStatus) -> bool) {
    within(what, async {
        while !done(&runner.status()) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

#[test]
fn events_whose_transform_never_ends_are_dead_lettered_and_other_routes_go_on() {
    on_watched_runtime(|| async {
        let broker = Broker::default();
        let mut dead = subscribe(&broker, "dlq/>");
        let mut looped = subscribe(&broker, "out/loop");
        let mut copied = subscribe(&broker, "out/copy");
        let runner = start(&broker, &jq_route("loop", NEVER_ENDS, "200ms"), None).await;
        let copy = start(&broker, COPY_ROUTE, None).await;

        // More bad events than the runtime has workers, then a good one.
        for id in ["b1", "b2", "b3"] {
            publish(&broker, bad(id)).await;
        }
        publish(&broker, good("g1")).await;

        // The other route is served at once, while the bad events are evaluated.
        let mut ids: Vec<String> = Vec::new();
        for _ in 0..4 {
            ids.push(attribute(&next_event(&mut copied).await, "id"));
        }
        ids.sort();
        assert_eq!(ids, ["b1", "b2", "b3", "g1"]);
        // The good event goes through the looping route too.
        assert_eq!(attribute(&next_event(&mut looped).await, "id"), "g1");

        let mut dead_ids = Vec::new();
        for _ in 0..3 {
            let letter = next_event(&mut dead).await;
            assert_eq!(attribute(&letter, "weftdlreason"), REASON_OVER_BUDGET);
            assert_eq!(attribute(&letter, "weftdlattempts"), "0");
            let error = attribute(&letter, "weftdlerror");
            assert!(error.contains("budget of 200ms"), "{error}");
            dead_ids.push(attribute(&letter, "id"));
        }
        dead_ids.sort();
        assert_eq!(dead_ids, ["b1", "b2", "b3"]);

        let status = runner.stop().await;
        assert_eq!(
            (status.received, status.delivered, status.dead_lettered),
            (4, 1, 3)
        );
        assert_eq!((status.over_budget, status.runaway), (3, 0));
        copy.stop().await;
    });
}

#[test]
fn stopping_a_route_does_not_wait_for_its_evaluations() {
    on_watched_runtime(|| async {
        let broker = Broker::default();
        let pool = EvaluationPool::new(2);
        // A budget far longer than the test: only the stop can end the evaluation.
        let runner = start(&broker, &jq_route("loop", NEVER_ENDS, "60s"), Some(&pool)).await;
        publish(&broker, bad("b1")).await;
        until_status(&runner, "the evaluation to start", |status| {
            status.in_flight == 1
        })
        .await;

        let asked = Instant::now();
        let status = runner.stop().await;
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "{:?}",
            asked.elapsed()
        );
        assert_eq!((status.abandoned, status.dead_lettered), (1, 0));
        // The cancel flag stops the program from inside: its thread is free again.
        within("the evaluation thread to come back", async {
            while pool.abandoned() != 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
    });
}

#[test]
fn an_evaluation_the_meter_cannot_stop_is_given_up_and_its_route_waits() {
    on_watched_runtime(|| async {
        let broker = Broker::default();
        let pool = EvaluationPool::new(2);
        let mut dead = subscribe(&broker, "dlq/>");
        let mut runaway_out = subscribe(&broker, "out/runaway");
        let mut other_out = subscribe(&broker, "out/other");
        let runner = start(
            &broker,
            &jq_route("runaway", RUNS_AWAY, "100ms"),
            Some(&pool),
        )
        .await;
        let other = start(&broker, &jq_route("other", ".", "100ms"), Some(&pool)).await;

        let published = Instant::now();
        publish(&broker, bad("b1")).await;
        let letter = next_event(&mut dead).await;
        let took = published.elapsed();
        assert_eq!(attribute(&letter, "id"), "b1");
        assert_eq!(attribute(&letter, "weftdlroute"), "runaway");
        assert_eq!(attribute(&letter, "weftdlreason"), REASON_OVER_BUDGET);
        let error = attribute(&letter, "weftdlerror");
        assert!(error.contains("still running after 1100ms"), "{error}");
        assert!(took >= Duration::from_millis(1100), "{took:?}");
        assert_eq!(runner.status().runaway, 1);
        assert_eq!(pool.abandoned(), 1);

        // The route takes no more events while its evaluation runs away; the other
        // route, on the same pool, keeps its capacity.
        publish(&broker, good("g1")).await;
        assert_eq!(attribute(&next_event(&mut other_out).await, "id"), "b1");
        assert_eq!(attribute(&next_event(&mut other_out).await, "id"), "g1");
        let quiet = tokio::time::timeout(Duration::from_millis(300), runaway_out.recv()).await;
        assert!(quiet.is_err(), "the route took an event while running away");

        let asked = Instant::now();
        let status = runner.stop().await;
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "{:?}",
            asked.elapsed()
        );
        assert_eq!((status.runaway, status.over_budget), (1, 1));
        other.stop().await;
    });
}

#[test]
fn the_controller_reports_and_deletes_a_route_whose_evaluation_runs_away() {
    on_watched_runtime(|| async {
        let dir = tempfile::tempdir().unwrap();
        let broker = Broker::open(
            Arc::new(AllowAll),
            dir.path().join("streams"),
            Default::default(),
        )
        .await
        .unwrap();
        let options = ControllerOptions::new(dir.path().join("flows"), "test");
        let controller = Controller::open(broker.clone(), options).await.unwrap();
        let files = [ManifestFile {
            name: "a.yaml".to_owned(),
            text: format!(
                "{}---\n{COPY_ROUTE}",
                jq_route("runaway", RUNS_AWAY, "100ms")
            ),
        }];
        controller
            .apply(&files, &ApplyOptions::default())
            .await
            .unwrap();
        let mut dead = subscribe(&broker, "dlq/>");
        let mut copied = subscribe(&broker, "out/copy");
        publish(&broker, bad("b1")).await;
        next_event(&mut dead).await;

        let status = &controller.get(Some(Kind::Route), Some("runaway")).await[0];
        assert!(!status.condition.ready);
        assert_eq!(status.condition.reason, "OverBudget");
        assert!(
            status
                .condition
                .message
                .contains("1 evaluation(s) still running"),
            "{}",
            status.condition.message
        );
        assert_eq!(status.counters["runaway"], 1);

        // The node goes on: the other route, and the controller itself.
        publish(&broker, good("g1")).await;
        assert_eq!(attribute(&next_event(&mut copied).await, "id"), "b1");
        assert_eq!(attribute(&next_event(&mut copied).await, "id"), "g1");
        let asked = Instant::now();
        let key = weft_flow::ResourceKey {
            kind: Kind::Route,
            name: weft_flow::ResourceName::new("runaway").unwrap(),
        };
        controller.delete_one(&key).await.unwrap();
        assert!(
            asked.elapsed() < Duration::from_secs(2),
            "{:?}",
            asked.elapsed()
        );
        assert!(
            controller
                .get(Some(Kind::Route), Some("runaway"))
                .await
                .is_empty()
        );

        let asked = Instant::now();
        controller.shutdown().await;
        broker.shutdown();
        assert!(
            asked.elapsed() < Duration::from_secs(2),
            "{:?}",
            asked.elapsed()
        );
    });
}

#[test]
fn a_restarted_node_runs_its_looping_route_again_and_stays_responsive() {
    on_watched_runtime(|| async {
        let dir = tempfile::tempdir().unwrap();
        let open = |dir: std::path::PathBuf| async move {
            let broker = Broker::open(Arc::new(AllowAll), dir.join("streams"), Default::default())
                .await
                .unwrap();
            let options = ControllerOptions::new(dir.join("flows"), "test");
            let controller = Controller::open(broker.clone(), options).await.unwrap();
            (broker, controller)
        };
        let (broker, controller) = open(dir.path().to_owned()).await;
        let files = [ManifestFile {
            name: "a.yaml".to_owned(),
            // A long budget: the evaluations are still running when the node stops.
            text: format!("{}---\n{COPY_ROUTE}", jq_route("loop", NEVER_ENDS, "30s")),
        }];
        controller
            .apply(&files, &ApplyOptions::default())
            .await
            .unwrap();
        for id in ["b1", "b2", "b3"] {
            publish(&broker, bad(id)).await;
        }
        let asked = Instant::now();
        controller.shutdown().await;
        broker.shutdown();
        assert!(
            asked.elapsed() < Duration::from_secs(2),
            "{:?}",
            asked.elapsed()
        );
        drop((broker, controller));

        // The route is declared state: it runs again after the restart, and bad events
        // find the node as responsive as before.
        let (broker, controller) = open(dir.path().to_owned()).await;
        let mut copied = subscribe(&broker, "out/copy");
        for id in ["b4", "b5", "b6", "b7"] {
            publish(&broker, bad(id)).await;
        }
        publish(&broker, good("g1")).await;
        for _ in 0..5 {
            next_event(&mut copied).await;
        }
        // The runtime's timers and the controller answer at once while the looping
        // route's events wait for its evaluations (its share of the pool is busy).
        let waited = Instant::now();
        loop {
            let status = &controller.get(Some(Kind::Route), Some("loop")).await[0];
            // The good event may be evaluated before the bad ones or wait behind them.
            let counters = &status.counters;
            if counters["received"] == 5 && counters["in_flight"] + counters["delivered"] == 5 {
                break;
            }
            assert!(
                waited.elapsed() < PATIENCE,
                "{:?} {:?}",
                status.condition,
                status.counters
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let asked = Instant::now();
        tokio::time::sleep(Duration::from_millis(10)).await;
        let status = &controller.get(Some(Kind::Route), Some("loop")).await[0];
        assert!(
            asked.elapsed() < Duration::from_millis(500),
            "{:?}",
            asked.elapsed()
        );
        assert_eq!(status.condition.reason, "Running");
        assert!(status.counters["in_flight"] >= 4, "{:?}", status.counters);

        let asked = Instant::now();
        controller.shutdown().await;
        broker.shutdown();
        assert!(
            asked.elapsed() < Duration::from_secs(2),
            "{:?}",
            asked.elapsed()
        );
    });
}

/// A jq route from `in/>` to `out/NAME` whose every event takes some work (a sum over
/// `.n` numbers), taking up to 64 events at once.
fn busy_route(name: &str) -> String {
    format!(
        "apiVersion: weft/v1\nkind: Route\nmetadata: {{name: {name}}}\nspec:\n  from: {{topic: \"in/>\"}}\n  transform:\n    - jq: '{{sum: (reduce range(.n) as $i (0; . + $i))}}'\n  to: {{topic: out/{name}}}\n  maxInFlight: 64\n  budget: 10s\n  ordering: {{by: none}}\n"
    )
}

fn work(id: &str, n: u32) -> weft_core::Event {
    event("in/x", id, "order.created", &format!(r#"{{"n": {n}}}"#))
}

#[test]
fn a_route_alone_uses_the_whole_pool_and_evaluates_its_events_in_batches() {
    on_watched_runtime(|| async {
        let broker = Broker::default();
        let pool = EvaluationPool::new(2);
        let mut out = subscribe(&broker, "out/busy");
        let runner = start(&broker, &busy_route("busy"), Some(&pool)).await;
        const EVENTS: usize = 300;
        for index in 0..EVENTS {
            publish(&broker, work(&format!("e{index}"), 3_000)).await;
        }
        for _ in 0..EVENTS {
            next_event(&mut out).await;
        }
        let status = runner.stop().await;
        assert_eq!(status.delivered, EVENTS as u64);
        // Alone, the route's waiting events were spread over both threads…
        assert_eq!(pool.widest_route(), 2, "{pool:?}");
        // …and each thread took many of them per wake-up, not one.
        let batches = pool.batches();
        assert!(
            batches * 4 <= EVENTS,
            "{batches} batches for {EVENTS} events"
        );
    });
}

#[test]
fn a_busy_route_on_the_whole_pool_leaves_a_turn_to_another_route() {
    on_watched_runtime(|| async {
        let broker = Broker::default();
        let pool = EvaluationPool::new(2);
        let mut busy_out = subscribe(&broker, "out/busy");
        let mut quick_out = subscribe(&broker, "out/quick");
        let busy = start(&broker, &busy_route("busy"), Some(&pool)).await;
        // Seconds of work for the busy route, on both threads.
        for index in 0..200 {
            publish(&broker, work(&format!("b{index}"), 30_000)).await;
        }
        next_event(&mut busy_out).await;
        within("the busy route to take both threads", async {
            while pool.widest_route() < 2 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;

        // Another route's event waits a turn (one event and a quantum of the busy
        // route), not for the busy route's backlog.
        let quick = start(&broker, &jq_route("quick", ".", "1s"), Some(&pool)).await;
        let published = Instant::now();
        publish(&broker, good("q1")).await;
        loop {
            let routed = next_event(&mut quick_out).await;
            if attribute(&routed, "id") == "q1" {
                break;
            }
        }
        let waited = published.elapsed();
        let busy_status = busy.status();
        assert!(
            busy_status.delivered < 150,
            "the busy route finished first: {busy_status:?}"
        );
        assert!(waited < Duration::from_secs(1), "{waited:?}");
        busy.stop().await;
        quick.stop().await;
    });
}

#[test]
fn events_whose_program_builds_huge_or_deep_values_are_dead_lettered_and_the_route_goes_on() {
    on_watched_runtime(|| async {
        let broker = Broker::default();
        let pool = EvaluationPool::new(2);
        let mut dead = subscribe(&broker, "dlq/>");
        let mut out = subscribe(&broker, "out/big");
        // A long budget: only the memory limit stops these programs.
        let program = r#"if .bad == "wide" then [range(1e9) | "\(.)................................................................"] | length elif .bad == "deep" then reduce range(1e9) as $i (null; [., "................................................................"]) | length else . end"#;
        let runner = start(&broker, &jq_route("big", program, "60s"), Some(&pool)).await;
        for (id, kind) in [("w1", "wide"), ("d1", "deep"), ("w2", "wide")] {
            let data = format!(r#"{{"bad": "{kind}"}}"#);
            publish(&broker, event("in/x", id, "order.created", &data)).await;
        }
        publish(&broker, good("g1")).await;

        let mut dead_ids = Vec::new();
        for _ in 0..3 {
            let letter = next_event(&mut dead).await;
            assert_eq!(attribute(&letter, "weftdlreason"), REASON_OVER_BUDGET);
            let error = attribute(&letter, "weftdlerror");
            assert!(
                error.contains("jq program held more than 32 MiB"),
                "{error}"
            );
            dead_ids.push(attribute(&letter, "id"));
        }
        dead_ids.sort();
        assert_eq!(dead_ids, ["d1", "w1", "w2"]);
        assert_eq!(attribute(&next_event(&mut out).await, "id"), "g1");

        let status = runner.stop().await;
        assert_eq!(
            (status.delivered, status.dead_lettered, status.over_budget),
            (1, 3, 3)
        );
        assert_eq!((status.runaway, pool.abandoned()), (0, 0));
    });
}

#[test]
fn an_operation_that_asks_for_memory_past_the_ceiling_freezes_its_thread_and_its_route() {
    on_watched_runtime(|| async {
        let broker = Broker::default();
        let pool = EvaluationPool::new(2);
        let mut dead = subscribe(&broker, "dlq/>");
        let mut other_out = subscribe(&broker, "out/other");
        // One native operation asks for 10 GB at once: no step between to stop it.
        let program = r#"if .bad then "x" * 10000000000 | length else . end"#;
        let runner = start(&broker, &jq_route("huge", program, "100ms"), Some(&pool)).await;
        let other = start(&broker, &jq_route("other", ".", "100ms"), Some(&pool)).await;
        let frozen_before = weft_alloc::frozen_threads();

        publish(&broker, bad("b1")).await;
        let letter = next_event(&mut dead).await;
        assert_eq!(attribute(&letter, "weftdlroute"), "huge");
        assert_eq!(attribute(&letter, "weftdlreason"), REASON_OVER_BUDGET);
        let error = attribute(&letter, "weftdlerror");
        assert!(error.contains("past the ceiling of 128 MiB"), "{error}");
        assert!(error.contains("frozen"), "{error}");
        assert_eq!(weft_alloc::frozen_threads(), frozen_before + 1);
        assert_eq!(runner.status().runaway, 1);
        assert_eq!(pool.abandoned(), 1);

        // The other route, on the same pool, goes on.
        publish(&broker, good("g1")).await;
        assert_eq!(attribute(&next_event(&mut other_out).await, "id"), "b1");
        assert_eq!(attribute(&next_event(&mut other_out).await, "id"), "g1");

        let asked = Instant::now();
        runner.stop().await;
        other.stop().await;
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "{:?}",
            asked.elapsed()
        );
    });
}
