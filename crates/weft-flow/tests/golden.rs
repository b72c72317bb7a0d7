//! Golden test: a bad manifest file reports every problem at once, each with its file,
//! line and column, in file order.

use std::path::PathBuf;

use weft_flow::{Context, check_path};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn bad_manifest_reports_every_error_with_its_position() {
    let path = fixture("bad.yaml");
    let errors = check_path(&path, &Context::default()).unwrap_err();
    let prefix = format!("{}:", path.display());
    let report = errors.to_string().replace(&prefix, "bad.yaml:");
    let expected = std::fs::read_to_string(fixture("bad.expected")).unwrap();
    if std::env::var_os("WEFT_BLESS").is_some() {
        std::fs::write(fixture("bad.expected"), format!("{report}\n")).unwrap();
        return;
    }
    assert_eq!(report, expected.trim_end(), "\n{report}");
}

#[test]
fn route_cycles_are_reported_with_their_path() {
    let path = fixture("cycle.yaml");
    let errors = check_path(&path, &Context::default()).unwrap_err();
    let prefix = format!("{}:", path.display());
    let report = errors.to_string().replace(&prefix, "cycle.yaml:");
    assert_eq!(
        report,
        "cycle.yaml:6:15: spec.to.topic: routes form a cycle: route/a → topic `b/in` → route/b → topic `a/in/x` → route/a"
    );
}
