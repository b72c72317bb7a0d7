//! The example flow shipped in `examples/flows/` loads, validates and passes its tests.

use std::path::PathBuf;

use weft_flow::route_tests;
use weft_flow::{Context, DesiredState, Kind, Prune, check_path, diff};

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/flows")
}

#[test]
fn example_flow_validates() {
    let set = match check_path(&examples(), &Context::default()) {
        Ok(set) => set,
        Err(errors) => panic!("the example flow has problems:\n{errors}"),
    };
    let kinds: Vec<Kind> = set.manifests().map(|manifest| manifest.kind()).collect();
    assert_eq!(
        kinds,
        [
            Kind::Stream,
            Kind::Stream,
            Kind::Source,
            Kind::Source,
            Kind::Sink,
            Kind::Route,
            Kind::Route
        ]
    );
}

#[test]
fn example_route_tests_pass() {
    let set = check_path(&examples(), &Context::default()).unwrap();
    let report = route_tests::run(&set);
    assert!(report.success(), "{report}");
    assert_eq!(report.summary(), "4 passed, 0 failed");
}

#[test]
fn applying_the_example_twice_changes_nothing_the_second_time() {
    let set = check_path(&examples(), &Context::default()).unwrap();
    let desired = DesiredState::from_set(&set);
    let first = diff(&DesiredState::new(), &desired, Prune::Keep);
    assert_eq!(first.create.len(), 7);
    let stored = serde_json::to_string(&first.apply(&DesiredState::new(), &desired)).unwrap();
    let current: DesiredState = serde_json::from_str(&stored).unwrap();
    let second = diff(&current, &desired, Prune::Delete);
    assert!(second.is_noop(), "{second}");
    assert_eq!(
        second.to_string(),
        "stream/dead-letters unchanged\nstream/orders unchanged\nsink/billing unchanged\n\
         source/billing-heartbeat unchanged\nsource/shop-orders unchanged\n\
         route/big-us-orders unchanged\nroute/receipts-to-orders unchanged"
    );
}
