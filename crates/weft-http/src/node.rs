//! Node information, health, readiness and the OpenAPI document.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::context::HttpContext;
use crate::problem::Problem;

/// The OpenAPI 3.1 description of this API, served at `/v1/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

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

pub(crate) async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}

pub(crate) async fn not_found(uri: Uri) -> Response {
    Problem::not_found(uri.path()).into_response()
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
            "/v1/openapi.json",
            "/healthz",
            "/readyz",
        ] {
            assert!(paths.contains_key(route), "openapi.json lacks {route}");
        }
    }
}
