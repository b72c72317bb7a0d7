//! The resources API (`/v1/resources…`), the contract the `weft apply|diff|get|delete`
//! commands speak:
//!
//! - `POST /v1/resources/apply?dryRun=BOOL`, body `{"files": [{"name", "text"}],
//!   "prune": BOOL}` → `{"dryRun", "changes": [{"kind", "name", "action"}], "text"}`;
//!   invalid manifests → `422` problem with `errors: [{file, line, column, message}]`;
//!   a resource that fails to start → `422` problem; nothing changes in either case.
//! - `POST /v1/resources/delete?dryRun=BOOL`, body `{"files": [...]}` → the same shape,
//!   action `deleted` (`unchanged` for resources that do not exist).
//! - `GET /v1/resources`, `GET /v1/resources/{kind}` → `{"items": [RESOURCE...]}`;
//!   `GET /v1/resources/{kind}/{name}` → RESOURCE or `404`.
//! - `DELETE /v1/resources/{kind}/{name}` → the delete shape, or `404`.

use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use weft_broker::{Broker, Principal};
use weft_flow::diff::Action;
use weft_flow::{Applied, ApplyOptions, Controller, ControllerError, Kind, ManifestFile, Prune};
use weft_http::problem::Problem;
use weft_http::{ServiceRequest, ServiceResponse};

/// Where the API lives.
pub(super) const PREFIX: &str = "/v1/resources";

#[derive(Debug, Deserialize)]
struct FileBody {
    name: String,
    text: String,
}

#[derive(Debug, Deserialize)]
struct RequestBody {
    files: Vec<FileBody>,
    #[serde(default)]
    prune: bool,
}

fn problem(problem: Problem) -> ServiceResponse {
    ServiceResponse::problem(&problem, Map::new())
}

/// `405` naming the methods a path allows.
pub(super) fn method_not_allowed(request: &ServiceRequest, allowed: &str) -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "method not allowed",
        format!(
            "{} {} is not supported; use {allowed}",
            request.method, request.path
        ),
    )
}

/// Answers one request under [`PREFIX`].
pub(super) async fn handle(
    controller: &Controller,
    broker: &Broker,
    request: ServiceRequest,
) -> ServiceResponse {
    let rest = request.path[PREFIX.len()..].trim_matches('/');
    let changes = matches!(request.method, Method::POST | Method::DELETE);
    // Anonymous until the security work authenticates HTTP clients.
    if changes
        && let Err(denied) = broker.authorize(
            &Principal::anonymous(),
            weft_broker::Action::ManageResources,
        )
    {
        return problem(denied.into());
    }
    let segments: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/').collect()
    };
    let method = request.method.clone();
    match (segments.as_slice(), method) {
        (["apply"], Method::POST) => apply(controller, &request).await,
        (["delete"], Method::POST) => delete(controller, &request).await,
        ([], Method::GET) => list(controller, None).await,
        ([kind], Method::GET) => match parse_kind(kind) {
            Ok(kind) => list(controller, Some(kind)).await,
            Err(error) => problem(error),
        },
        ([kind, name], Method::GET) => get_one(controller, kind, name).await,
        ([kind, name], Method::DELETE) => delete_one(controller, kind, name).await,
        (["apply" | "delete"], _) => problem(method_not_allowed(&request, "POST")),
        ([] | [_], _) => problem(method_not_allowed(&request, "GET")),
        ([_, _], _) => problem(method_not_allowed(&request, "GET or DELETE")),
        _ => problem(Problem::not_found(&request.path)),
    }
}

fn parse_kind(text: &str) -> Result<Kind, Problem> {
    text.parse::<Kind>().map_err(|error| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-kind",
            "invalid resource kind",
            error.to_string(),
        )
    })
}

/// `dryRun=true|false` (`dryRun` alone is true); other parameters are refused.
fn dry_run(query: Option<&str>) -> Result<bool, Problem> {
    let mut dry = false;
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
    {
        match pair.split_once('=').unwrap_or((pair, "true")) {
            ("dryRun", "true") => dry = true,
            ("dryRun", "false") => dry = false,
            ("dryRun", other) => {
                return Err(Problem::invalid_parameter(format!(
                    "invalid `dryRun` value `{other}`; expected `true` or `false`"
                )));
            }
            (other, _) => {
                return Err(Problem::invalid_parameter(format!(
                    "unknown query parameter `{other}`; expected `dryRun`"
                )));
            }
        }
    }
    Ok(dry)
}

fn parse_body(request: &ServiceRequest) -> Result<(Vec<ManifestFile>, bool), Problem> {
    let body: RequestBody = serde_json::from_slice(&request.body).map_err(|error| {
        Problem::invalid_parameter(format!(
            "invalid request body: {error}; expected {{\"files\": [{{\"name\", \"text\"}}], \"prune\": false}}"
        ))
    })?;
    let files = body
        .files
        .into_iter()
        .map(|file| ManifestFile {
            name: file.name,
            text: file.text,
        })
        .collect();
    Ok((files, body.prune))
}

async fn apply(controller: &Controller, request: &ServiceRequest) -> ServiceResponse {
    let parsed = dry_run(request.query.as_deref()).and_then(|dry| Ok((dry, parse_body(request)?)));
    let (dry_run, (files, prune)) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => return problem(error),
    };
    let options = ApplyOptions {
        prune: if prune { Prune::Delete } else { Prune::Keep },
        dry_run,
        origin: None,
    };
    outcome(controller.apply(&files, &options).await)
}

async fn delete(controller: &Controller, request: &ServiceRequest) -> ServiceResponse {
    let parsed = dry_run(request.query.as_deref()).and_then(|dry| Ok((dry, parse_body(request)?)));
    match parsed {
        Ok((dry_run, (files, _))) => outcome(controller.delete(&files, dry_run).await),
        Err(error) => problem(error),
    }
}

async fn list(controller: &Controller, kind: Option<Kind>) -> ServiceResponse {
    let items: Vec<Value> = controller
        .get(kind, None)
        .await
        .iter()
        .map(weft_flow::ResourceStatus::to_json)
        .collect();
    ServiceResponse::json(StatusCode::OK, &json!({ "items": items }))
}

fn not_found(kind: Kind, name: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "resource-not-found",
        "resource not found",
        format!("{}/{name} not found", kind.lowercase()),
    )
}

async fn get_one(controller: &Controller, kind: &str, name: &str) -> ServiceResponse {
    let kind = match parse_kind(kind) {
        Ok(kind) => kind,
        Err(error) => return problem(error),
    };
    match controller.get(Some(kind), Some(name)).await.first() {
        Some(resource) => ServiceResponse::json(StatusCode::OK, &resource.to_json()),
        None => problem(not_found(kind, name)),
    }
}

async fn delete_one(controller: &Controller, kind: &str, name: &str) -> ServiceResponse {
    let kind = match parse_kind(kind) {
        Ok(kind) => kind,
        Err(error) => return problem(error),
    };
    let Ok(resource_name) = weft_flow::ResourceName::new(name) else {
        return problem(not_found(kind, name));
    };
    let key = weft_flow::ResourceKey::new(kind, resource_name);
    outcome(controller.delete_one(&key).await)
}

fn action(action: Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update => "configured",
        Action::Unchanged | Action::NotFound => "unchanged",
        Action::Delete => "deleted",
    }
}

/// The JSON of a change, or the problem of an error.
fn outcome(result: Result<Applied, ControllerError>) -> ServiceResponse {
    match result {
        Ok(applied) => {
            let changes: Vec<Value> = applied
                .lines
                .iter()
                .map(|line| {
                    json!({
                        "kind": line.key.kind.as_str(),
                        "name": line.key.name.as_str(),
                        "action": action(line.action),
                    })
                })
                .collect();
            ServiceResponse::json(
                StatusCode::OK,
                &json!({ "dryRun": applied.dry_run, "changes": changes, "text": applied.text }),
            )
        }
        Err(ControllerError::Invalid { errors }) => {
            let list: Vec<Value> = errors
                .diagnostics()
                .iter()
                .map(|diagnostic| {
                    let message = if diagnostic.path.is_empty() {
                        diagnostic.problem.to_string()
                    } else {
                        format!("{}: {}", diagnostic.path, diagnostic.problem)
                    };
                    json!({
                        "file": diagnostic.file,
                        "line": diagnostic.line,
                        "column": diagnostic.column,
                        "message": message,
                    })
                })
                .collect();
            let detail = errors
                .diagnostics()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n");
            let invalid = Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-manifests",
                "invalid manifests",
                detail,
            );
            let mut extra = Map::new();
            extra.insert("errors".to_owned(), Value::Array(list));
            ServiceResponse::problem(&invalid, extra)
        }
        Err(ControllerError::Start(failure)) => problem(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "start-failed",
            "resource failed to start",
            format!("{failure}; nothing was changed"),
        )),
        Err(ControllerError::NotFound { key }) => problem(not_found(key.kind, key.name.as_str())),
        Err(error @ ControllerError::Store(_)) => problem(Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "flows-state-unavailable",
            "flows state unavailable",
            weft_flow::controller::error_chain(&error),
        )),
    }
}
