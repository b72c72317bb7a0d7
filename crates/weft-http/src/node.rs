//! Node information, health, readiness and the OpenAPI document.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::context::HttpContext;
use crate::problem::Problem;

/// The OpenAPI 3.1 description of this API, served at `/v1/openapi.json`.
pub(crate) const OPENAPI_JSON: &str = include_str!("openapi.json");

pub(crate) async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

pub(crate) async fn readyz(State(context): State<HttpContext>) -> Response {
    if context.is_ready() {
        Json(json!({"status": "ready"})).into_response()
    } else {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "not ready",
            "the node is starting or shutting down",
        )
        .into_response()
    }
}

pub(crate) async fn node_info(State(context): State<HttpContext>) -> impl IntoResponse {
    let node = &context.node;
    let broker = context.broker.stats();
    let http = &context.counters;
    let mut counters = json!({
        "events_published": broker.events_published,
        "deliveries": broker.deliveries,
        "dropped": broker.dropped,
        "subscribers_disconnected": broker.disconnected,
        "denied": broker.denied,
        "subscriptions": broker.subscriptions,
        "http_events_received": http.events_received.load(Ordering::Relaxed),
        "http_requests_rejected": http.requests_rejected.load(Ordering::Relaxed),
        "http_subscribers_connected": http.subscribers_connected.load(Ordering::Relaxed),
    });
    for source in &context.options.counter_sources {
        for (name, value) in (source.0)() {
            counters[name] = json!(value);
        }
    }
    Json(json!({
        "name": node.name,
        "version": node.version,
        "listeners": node.listeners,
        "uptime_seconds": node.started.elapsed().as_secs(),
        "counters": counters,
    }))
}

pub(crate) async fn mesh_status(State(context): State<HttpContext>) -> Response {
    let status = match &context.options.mesh_status {
        Some(source) => (source.0)().await,
        None => None,
    };
    match status {
        Some(status) => Json(status).into_response(),
        None => Problem::new(
            axum::http::StatusCode::NOT_FOUND,
            "mesh-disabled",
            "not in a mesh",
            "this node neither listens for mesh links nor joins other nodes (see --mesh and --join)",
        )
        .into_response(),
    }
}

/// `GET /v1/mesh/route?topic=T`.
pub(crate) async fn mesh_route(
    State(context): State<HttpContext>,
    axum::extract::Query(query): axum::extract::Query<std::collections::BTreeMap<String, String>>,
) -> Response {
    let Some(source) = &context.options.mesh_route else {
        return context.reject(mesh_disabled());
    };
    let topic = match query
        .get("topic")
        .map(|topic| weft_core::Topic::new(topic.as_str()))
    {
        Some(Ok(topic)) => topic,
        Some(Err(error)) => return context.reject(Problem::invalid_topic(&error)),
        None => {
            return context.reject(Problem::invalid_parameter(
                "give the topic as ?topic=orders/eu/created",
            ));
        }
    };
    match (source.0)(topic.as_str().to_owned()).await {
        Some(route) => Json(route).into_response(),
        None => context.reject(mesh_disabled()),
    }
}

/// `DELETE /v1/mesh/nodes/{node}`: forgets a node that left the mesh (its durable
/// interest and the events kept for it). Needs [`weft_broker::Action::ManageResources`].
pub(crate) async fn mesh_forget(
    State(context): State<HttpContext>,
    axum::extract::Path(node): axum::extract::Path<String>,
) -> Response {
    use axum::http::StatusCode;
    let Some(source) = &context.options.mesh_forget else {
        return context.reject(mesh_disabled());
    };
    let principal = crate::context::request_principal();
    if let Err(denied) = context
        .broker
        .authorize(&principal, weft_broker::Action::ManageResources)
    {
        return context.reject(denied.into());
    }
    match (source.0)(node).await {
        Ok(answer) => Json(answer).into_response(),
        Err(refusal) => {
            let (status, kind, title, detail) = match refusal {
                crate::CommandRefusal::Invalid(detail) => (
                    StatusCode::BAD_REQUEST,
                    "invalid-node-name",
                    "invalid node name",
                    detail,
                ),
                crate::CommandRefusal::NotFound(detail) => (
                    StatusCode::NOT_FOUND,
                    "node-unknown",
                    "unknown node",
                    detail,
                ),
                crate::CommandRefusal::Conflict(detail) => (
                    StatusCode::CONFLICT,
                    "node-reachable",
                    "node is reachable",
                    detail,
                ),
                crate::CommandRefusal::Unavailable => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "mesh-stopped",
                    "mesh stopped",
                    "the mesh is stopping".to_owned(),
                ),
            };
            context.reject(Problem::new(status, kind, title, detail))
        }
    }
}

fn mesh_disabled() -> Problem {
    Problem::new(
        axum::http::StatusCode::NOT_FOUND,
        "mesh-disabled",
        "not in a mesh",
        "this node neither listens for mesh links nor joins other nodes (see --mesh and --join)",
    )
}

pub(crate) async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_document_is_valid_json_and_lists_every_route() {
        let document: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap();
        assert_eq!(document["openapi"].as_str().unwrap().get(..2), Some("3."));
        let paths = document["paths"].as_object().unwrap();
        for route in [
            "/v1/topics/{topic}",
            "/v1/subscribe",
            "/v1/ws",
            "/v1/streams",
            "/v1/streams/{name}",
            "/v1/streams/{name}/events",
            "/v1/streams/{name}/consumers",
            "/v1/streams/{name}/consumers/{consumer}/pull",
            "/v1/node",
            "/v1/mesh/route",
            "/v1/resources",
            "/v1/resources/apply",
            "/v1/resources/delete",
            "/v1/resources/{kind}",
            "/v1/resources/{kind}/{name}",
            "/v1/openapi.json",
            "/healthz",
            "/readyz",
        ] {
            assert!(paths.contains_key(route), "openapi.json lacks {route}");
        }
    }
}
