//! `weft flow test` and `weft flow explain`: running routes locally, without a node,
//! through weft-flow's `route_tests` and `explain`.

mod explain;

use std::process::ExitCode;

use weft_flow::route_tests::{self, TestReport};

use crate::cli::{FlowCommand, FlowTestArgs};
use crate::manifests;

/// Exit status when tests failed.
const EXIT_FAILED: u8 = 1;
/// Exit status when the manifests or the event cannot be used.
pub(crate) const EXIT_INVALID_INPUT: u8 = 2;

pub(crate) async fn run(command: FlowCommand) -> anyhow::Result<ExitCode> {
    match command {
        FlowCommand::Test(args) => test(&args),
        FlowCommand::Explain(args) => explain::run(args).await,
    }
}

fn test(args: &FlowTestArgs) -> anyhow::Result<ExitCode> {
    let sources = manifests::read_sources(&args.files)?;
    let sets = match manifests::load(&sources) {
        Ok(sets) => sets,
        Err(errors) => {
            manifests::print_errors(&errors);
            return Ok(ExitCode::from(EXIT_INVALID_INPUT));
        }
    };
    let mut report = TestReport::default();
    for set in &sets {
        report.results.extend(route_tests::run(set).results);
    }
    out!("{}", render(&report))?;
    Ok(if report.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}

/// One line per test (`ok     route/NAME TEST` or `FAILED route/NAME TEST`, the reason
/// indented on the next line), then `N passed, N failed`.
fn render(report: &TestReport) -> String {
    let mut text = String::new();
    for result in &report.results {
        match &result.failure {
            None => text.push_str(&format!("ok     route/{} {}\n", result.route, result.name)),
            Some(reason) => text.push_str(&format!(
                "FAILED route/{} {}\n       {reason}\n",
                result.route, result.name
            )),
        }
    }
    text.push_str(&report.summary());
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use weft_flow::ResourceName;
    use weft_flow::route_tests::TestResult;

    use super::*;

    #[test]
    fn report_puts_each_failure_reason_under_its_test() {
        let route = ResourceName::new("r").unwrap();
        let report = TestReport {
            results: vec![
                TestResult {
                    route: route.clone(),
                    name: "good".into(),
                    failure: None,
                },
                TestResult {
                    route,
                    name: "bad".into(),
                    failure: Some("expected dropped".into()),
                },
            ],
        };
        assert_eq!(
            render(&report),
            "ok     route/r good\nFAILED route/r bad\n       expected dropped\n1 passed, 1 failed\n"
        );
    }
}
