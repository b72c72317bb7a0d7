use super::*;
use crate::load_str;

const ROUTE: &str = r#"
apiVersion: weft/v1
kind: Route
metadata: {name: big}
spec:
  from: {topic: "orders/>"}
  filter: "total > 100"
  transform:
    - set: {attribute: type, value: big.order}
  to: {topic: big}
  tests:
    - name: passes
      input: {specversion: "1.0", id: "1", source: /s, type: order, data: {total: 150}}
      expect: {specversion: "1.0", id: "1", source: /s, type: big.order, data: {"total": 150}}
    - input: {specversion: "1.0", id: "2", source: /s, type: order, data: {total: 5}}
      expect: dropped
    - name: wrong expectation
      input: {specversion: "1.0", id: "3", source: /s, type: order, data: {total: 500}}
      expect: dropped
    - name: missing field drops
      input: {specversion: "1.0", id: "4", source: /s, type: order}
      expect: {specversion: "1.0", id: "4", source: /s, type: big.order}
"#;

#[test]
fn report_counts_passed_and_failed_tests_with_reasons() {
    let set = load_str("route.yaml", ROUTE).unwrap();
    let report = run(&set);
    assert_eq!(report.summary(), "2 passed, 2 failed");
    let lines: Vec<String> = report.results.iter().map(ToString::to_string).collect();
    assert_eq!(lines[0], "ok     route/big passes");
    assert_eq!(lines[1], "ok     route/big tests[1]");
    assert!(
        lines[2].starts_with(
            "FAILED route/big wrong expectation: expected the event to be dropped, got {"
        ),
        "{}",
        lines[2]
    );
    assert_eq!(
        lines[3],
        "FAILED route/big missing field drops: expected an event, but the filter dropped it"
    );
    assert!(!report.success());
}

#[test]
fn json_data_is_compared_as_json() {
    let set = load_str("route.yaml", ROUTE).unwrap();
    let Spec::Route(route) = &set.items()[0].manifest.spec else {
        panic!("not a route");
    };
    let Outcome::Delivered(mut event) = process(route, &route.tests[0].input).unwrap() else {
        panic!("dropped");
    };
    event.data = Some(bytes::Bytes::from_static(b"{ \"total\" : 150 }"));
    let crate::manifest::route::Expect::Event(expected) = &route.tests[0].expect else {
        panic!("no event expected");
    };
    assert!(same_event(&event, expected));
    event.data = Some(bytes::Bytes::from_static(b"{\"total\":151}"));
    assert!(!same_event(&event, expected));
}
