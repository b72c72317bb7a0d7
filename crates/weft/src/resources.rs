//! `weft apply`, `diff`, `get` and `delete`: clients of the node's resources API
//! (`/v1/resources`).
//!
//! The manifests are read here (files, directories, `-`) and checked locally first, so
//! that their problems print as `FILE:LINE:COLUMN: PATH: message` even without a node;
//! then they are sent as `{"files": [{"name", "text"}]}` and the node, which knows what
//! exists, checks them as a whole and answers with the changes, printed kubectl-style
//! (`route/x created`). A refusal with positioned errors (422) prints each as
//! `FILE:LINE:COLUMN: message`.

mod table;

use std::process::ExitCode;

use anyhow::anyhow;
use serde_json::{Value, json};
use weft_flow::Kind;

use crate::cli::{ApplyArgs, DeleteArgs, DiffArgs, GetArgs, GetOutput, ManifestArgs};
use crate::client::{NodeClient, problem_detail};
use crate::manifests::{self, Source};

/// Exit status when the manifests are invalid or the node refused them.
const EXIT_REFUSED: u8 = 1;

pub(crate) async fn apply(args: ApplyArgs) -> anyhow::Result<ExitCode> {
    let client = NodeClient::new(&args.server.server)?;
    let suffix = if args.dry_run { " (dry run)" } else { "" };
    let plan = Post::Apply { prune: args.prune };
    post_manifests(&client, &args.manifests, plan, args.dry_run, suffix).await
}

pub(crate) async fn diff(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let client = NodeClient::new(&args.server.server)?;
    let plan = Post::Apply { prune: args.prune };
    post_manifests(&client, &args.manifests, plan, true, "").await
}

/// What a request carrying manifests asks of the node.
#[derive(Clone, Copy)]
enum Post {
    /// `POST /v1/resources/apply`, deleting undeclared resources with `prune`.
    Apply { prune: bool },
    /// `POST /v1/resources/delete`.
    Delete,
}

/// Checks the manifests locally (positioned errors without a node), posts them and
/// prints the node's plan, each line ending with `suffix`.
async fn post_manifests(
    client: &NodeClient,
    manifests: &ManifestArgs,
    post: Post,
    dry_run: bool,
    suffix: &str,
) -> anyhow::Result<ExitCode> {
    let Some(sources) = checked_sources(manifests)? else {
        return Ok(ExitCode::from(EXIT_REFUSED));
    };
    let (endpoint, body) = match post {
        Post::Apply { prune } => ("apply", json!({ "files": sources, "prune": prune })),
        Post::Delete => ("delete", json!({ "files": sources })),
    };
    let path = format!("/v1/resources/{endpoint}?dryRun={dry_run}");
    let request = client.http().post(client.url(&path)).json(&body);
    changes(client, request, suffix).await
}

pub(crate) async fn delete(args: DeleteArgs) -> anyhow::Result<ExitCode> {
    let client = NodeClient::new(&args.server.server)?;
    if let (Some(kind), Some(name)) = (&args.kind, &args.name) {
        let kind: Kind = kind.parse()?;
        let path = format!("/v1/resources/{}/{name}", kind.lowercase());
        if args.dry_run {
            return Err(anyhow!("--dry-run works with -f only"));
        }
        let request = client.http().delete(client.url(&path));
        let response = request
            .send()
            .await
            .map_err(|error| client.explain(error))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            eprintln!("{}/{name} not found", kind.lowercase());
            return Ok(ExitCode::from(EXIT_REFUSED));
        }
        return print_changes(response, "").await;
    }
    let suffix = if args.dry_run { " (dry run)" } else { "" };
    post_manifests(&client, &args.manifests, Post::Delete, args.dry_run, suffix).await
}

pub(crate) async fn get(args: GetArgs) -> anyhow::Result<ExitCode> {
    let client = NodeClient::new(&args.server.server)?;
    let kind = args.kind.as_deref().map(str::parse::<Kind>).transpose()?;
    let path = match (kind, &args.name) {
        (None, _) => "/v1/resources".to_owned(),
        (Some(kind), None) => format!("/v1/resources/{}", kind.lowercase()),
        (Some(kind), Some(name)) => format!("/v1/resources/{}/{name}", kind.lowercase()),
    };
    let response = client
        .http()
        .get(client.url(&path))
        .send()
        .await
        .map_err(|error| client.explain(error))?;
    if response.status() == reqwest::StatusCode::NOT_FOUND
        && let (Some(kind), Some(name)) = (kind, &args.name)
    {
        eprintln!("{}/{name} not found", kind.lowercase());
        return Ok(ExitCode::from(EXIT_REFUSED));
    }
    if !response.status().is_success() {
        return Err(NodeClient::problem(response).await);
    }
    let answer: Value = response
        .json()
        .await
        .map_err(|error| anyhow!("unreadable answer from the node: {error}"))?;
    let items: Vec<Value> = match answer.get("items").and_then(Value::as_array) {
        Some(items) => items.clone(),
        None => vec![answer.clone()],
    };
    match args.output {
        GetOutput::Json => outln!("{}", serde_json::to_string_pretty(&answer)?)?,
        GetOutput::Yaml => out!("{}", table::yaml(&items))?,
        GetOutput::Table => out!("{}", table::table(&items, time::OffsetDateTime::now_utc()))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads and checks the manifests; `None` after printing their problems.
fn checked_sources(args: &ManifestArgs) -> anyhow::Result<Option<Vec<Source>>> {
    if args.files.is_empty() {
        return Err(anyhow!(
            "name the manifests with -f FILE|DIR (or -f - for standard input)"
        ));
    }
    let sources = manifests::read_sources(&args.files)?;
    if let Err(errors) = manifests::load(&sources) {
        manifests::print_errors(&errors);
        return Ok(None);
    }
    Ok(Some(sources))
}

async fn changes(
    client: &NodeClient,
    request: reqwest::RequestBuilder,
    suffix: &str,
) -> anyhow::Result<ExitCode> {
    let response = request
        .send()
        .await
        .map_err(|error| client.explain(error))?;
    print_changes(response, suffix).await
}

/// Prints a changes answer (`text`, else one line per change), or the positioned errors
/// of a 422.
async fn print_changes(response: reqwest::Response, suffix: &str) -> anyhow::Result<ExitCode> {
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|error| anyhow!("cannot read the node's answer: {error}"))?;
    if status == reqwest::StatusCode::UNPROCESSABLE_ENTITY {
        let errors = positioned_errors(&body);
        if !errors.is_empty() {
            for line in errors {
                eprintln!("{line}");
            }
            return Ok(ExitCode::from(EXIT_REFUSED));
        }
    }
    if !status.is_success() {
        return Err(anyhow!(
            "the node refused the request ({status}): {}",
            problem_detail(&body)
        ));
    }
    let answer: Value = serde_json::from_slice(&body)
        .map_err(|error| anyhow!("unreadable answer from the node: {error}"))?;
    for line in change_lines(&answer) {
        outln!("{line}{suffix}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The lines of a changes answer: its `text`, or `kind/name action` per change.
fn change_lines(answer: &Value) -> Vec<String> {
    if let Some(text) = answer.get("text").and_then(Value::as_str)
        && !text.trim().is_empty()
    {
        return text.lines().map(str::to_owned).collect();
    }
    let changes = answer.get("changes").and_then(Value::as_array);
    changes
        .into_iter()
        .flatten()
        .map(|change| {
            let field = |name: &str| change.get(name).and_then(Value::as_str).unwrap_or("?");
            let kind = field("kind").to_ascii_lowercase();
            format!("{kind}/{} {}", field("name"), field("action"))
        })
        .collect()
}

/// `FILE:LINE:COLUMN: message` for each entry of a problem's `errors`.
fn positioned_errors(body: &[u8]) -> Vec<String> {
    let Ok(problem) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let errors = problem.get("errors").and_then(Value::as_array);
    errors
        .into_iter()
        .flatten()
        .map(|error| {
            let text = |name: &str| error.get(name).and_then(Value::as_str).unwrap_or("");
            let number = |name: &str| error.get(name).and_then(Value::as_u64).unwrap_or(1);
            format!(
                "{}:{}:{}: {}",
                text("file"),
                number("line"),
                number("column"),
                text("message")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_lines_prefer_the_text_and_fall_back_to_changes() {
        let answer =
            json!({"dryRun": false, "changes": [], "text": "route/x created\nsink/y unchanged"});
        assert_eq!(
            change_lines(&answer),
            ["route/x created", "sink/y unchanged"]
        );
        let answer = json!({"changes": [{"kind": "Route", "name": "x", "action": "deleted"}]});
        assert_eq!(change_lines(&answer), ["route/x deleted"]);
    }

    #[test]
    fn positioned_errors_print_file_line_column_message() {
        let body = json!({
            "type": "about:blank", "status": 422, "detail": "invalid manifests",
            "errors": [
                {"file": "flows/a.yaml", "line": 3, "column": 5, "message": "spec.filtr: unknown field `filtr`"},
                {"file": "flows/b.yaml", "line": 1, "column": 1, "message": "bad"}
            ]
        });
        assert_eq!(
            positioned_errors(body.to_string().as_bytes()),
            [
                "flows/a.yaml:3:5: spec.filtr: unknown field `filtr`",
                "flows/b.yaml:1:1: bad"
            ]
        );
    }
}
