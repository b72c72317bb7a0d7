//! Running a route's `tests` without a node: [`crate::explain::process`] — the filter and
//! transform steps exactly as the runtime runs them — compared with `expect`. This is
//! what `weft flow test -f DIR` prints as `N passed, N failed`.
//!
//! The comparison is exact for attributes; data is compared as JSON values when both
//! events carry JSON data (so formatting and member order do not matter), and as bytes
//! otherwise. `jq` steps run here exactly as in the runtime.

use std::fmt;

use weft_core::CloudEvent;

use crate::explain::{Outcome, process};
use crate::load::ManifestSet;
use crate::manifest::route::{Expect, RouteSpec};
use crate::manifest::{ResourceName, Spec};

/// The result of one test.
#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    /// The route.
    pub route: ResourceName,
    /// The test's name, or its 0-based index.
    pub name: String,
    /// `None` when it passed, else why it failed.
    pub failure: Option<String>,
}

impl fmt::Display for TestResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.failure {
            None => write!(f, "ok     route/{} {}", self.route, self.name),
            Some(reason) => write!(f, "FAILED route/{} {}: {reason}", self.route, self.name),
        }
    }
}

/// The results of every test run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TestReport {
    /// One result per test, in manifest order.
    pub results: Vec<TestResult>,
}

impl TestReport {
    /// How many tests passed.
    #[must_use]
    pub fn passed(&self) -> usize {
        self.results
            .iter()
            .filter(|result| result.failure.is_none())
            .count()
    }

    /// How many tests failed.
    #[must_use]
    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }

    /// Whether every test passed.
    #[must_use]
    pub fn success(&self) -> bool {
        self.failed() == 0
    }

    /// `N passed, N failed`.
    #[must_use]
    pub fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed(), self.failed())
    }
}

impl fmt::Display for TestReport {
    /// One line per test, then the summary.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for result in &self.results {
            writeln!(f, "{result}")?;
        }
        write!(f, "{}", self.summary())
    }
}

/// Runs the tests of one route.
#[must_use]
pub fn run_route(name: &ResourceName, route: &RouteSpec) -> Vec<TestResult> {
    route
        .tests
        .iter()
        .enumerate()
        .map(|(index, test)| {
            let failure = match (process(route, &test.input), &test.expect) {
                (Err(error), _) => Some(format!("transform failed: {error}")),
                (Ok(Outcome::Dropped), Expect::Dropped) => None,
                (Ok(Outcome::Dropped), Expect::Event(_)) => {
                    Some("expected an event, but the filter dropped it".to_owned())
                }
                (Ok(Outcome::Delivered(event)), Expect::Dropped) => Some(format!(
                    "expected the event to be dropped, got {}",
                    json(&event)
                )),
                (Ok(Outcome::Delivered(event)), Expect::Event(expected)) => {
                    (!same_event(&event, expected))
                        .then(|| format!("expected {}, got {}", json(expected), json(&event)))
                }
            };
            TestResult {
                route: name.clone(),
                name: test
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("tests[{index}]")),
                failure,
            }
        })
        .collect()
}

/// Runs the tests of every route in `set`.
#[must_use]
pub fn run(set: &ManifestSet) -> TestReport {
    let mut report = TestReport::default();
    for manifest in set.manifests() {
        if let Spec::Route(route) = &manifest.spec {
            report
                .results
                .extend(run_route(&manifest.metadata.name, route));
        }
    }
    report
}

fn json(event: &CloudEvent) -> String {
    String::from_utf8_lossy(&weft_core::json::encode(event)).into_owned()
}

/// Attributes equal, and data equal as JSON when both are JSON, else as bytes.
#[must_use]
pub fn same_event(actual: &CloudEvent, expected: &CloudEvent) -> bool {
    if actual.attributes != expected.attributes {
        return false;
    }
    match (&actual.data, &expected.data) {
        (Some(left), Some(right)) => {
            let json_type =
                weft_core::json::is_json_media_type(actual.attributes.datacontenttype.as_deref());
            let parsed = (
                serde_json::from_slice::<serde_json::Value>(left),
                serde_json::from_slice::<serde_json::Value>(right),
            );
            match parsed {
                (Ok(left), Ok(right)) if json_type => left == right,
                _ => left == right,
            }
        }
        (left, right) => left == right,
    }
}

#[cfg(test)]
mod tests;
