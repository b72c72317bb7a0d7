//! `weft-http`: the HTTP front end of a weft node.
//!
//! It speaks the CloudEvents HTTP binding ([`binding`]: binary, structured and batched
//! modes) and serves the versioned API under `/v1`: publish (`POST /v1/topics/{topic}`),
//! live subscribe as Server-Sent Events (`GET /v1/subscribe`) or WebSocket
//! (`GET /v1/ws`), node information, health and readiness, and the API's OpenAPI
//! document. Errors are RFC 9457 `application/problem+json` ([`problem`]); the mapping
//! from broker and event errors to HTTP statuses lives in that one file. A request body
//! a route leaves unread (an early `413` or `400`) is read and discarded, within bounds,
//! before the answer goes out (`unread_body`), so that clients that write their whole
//! body before reading get the answer rather than a reset.
//!
//! Other byte-stream protocols can be served over WebSocket on this listener
//! ([`WebSocketService`] in [`HttpOptions::websocket_services`]: a path, a required
//! subprotocol and a handler that gets the connection as an `AsyncRead + AsyncWrite`
//! stream); that is how the node serves MQTT over WebSocket at `/mqtt` without this
//! crate depending on the MQTT front end.
//!
//! Plain request/response services are served the same way
//! ([`RequestService`] in [`HttpOptions::request_services`]: paths, a body limit and a
//! handler), on paths the API does not serve: the node's flows resources API and
//! webhook sources.
//!
//! Entry point: [`serve`] takes an already-bound listener, so tests bind port 0.
//! Depends on `weft-core`, `weft-topic` and `weft-broker`; never on another front end.

pub mod binding;
mod consumers;
mod context;
pub mod event_stream;
mod node;
pub mod problem;
mod publish;
pub mod request_service;
mod streams;
mod subscribe;
mod unread_body;
pub mod websocket_service;

pub use context::{
    CommandFuture, CommandRefusal, CommandSource, CounterSource, HttpContext, HttpCounters,
    HttpOptions, NodeDescription, QuerySource, StatusSource,
};
pub use request_service::{RequestService, ServicePaths, ServiceRequest, ServiceResponse};
pub use unread_body::DEFAULT_UNREAD_BODY_TIMEOUT;
pub use websocket_service::{WebSocketBytes, WebSocketService};

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

/// The API's router, with every route under its final path, plus the routes of
/// [`HttpOptions::websocket_services`].
///
/// # Panics
/// When a WebSocket service's path is not a valid route or collides with another route.
pub fn router(context: HttpContext) -> Router {
    let mut router = Router::new();
    for service in &context.options.websocket_services {
        let service = std::sync::Arc::new(service.clone());
        let path = service.path.clone();
        router = router.route(
            &path,
            get(move |state, request| websocket_service::upgrade(service, state, request)),
        );
    }
    router
        .route("/v1/topics/{*topic}", post(publish::publish))
        .route("/v1/subscribe", get(subscribe::sse))
        .route("/v1/ws", get(subscribe::websocket))
        .route("/v1/streams", get(streams::list).post(streams::create))
        .route(
            "/v1/streams/{name}",
            get(streams::describe)
                .put(streams::update)
                .delete(streams::delete),
        )
        .route("/v1/streams/{name}/events", get(streams::read))
        .route(
            "/v1/streams/{name}/consumers",
            get(consumers::list).post(consumers::create),
        )
        .route(
            "/v1/streams/{name}/consumers/{consumer}",
            get(consumers::describe).delete(consumers::delete),
        )
        .route(
            "/v1/streams/{name}/consumers/{consumer}/pull",
            post(consumers::pull),
        )
        .route(
            "/v1/streams/{name}/consumers/{consumer}/events",
            get(consumers::push),
        )
        .route(
            "/v1/streams/{name}/consumers/{consumer}/ack",
            post(consumers::ack),
        )
        .route(
            "/v1/streams/{name}/consumers/{consumer}/nack",
            post(consumers::nack),
        )
        .route(
            "/v1/streams/{name}/consumers/{consumer}/terminate",
            post(consumers::terminate),
        )
        .route("/v1/node", get(node::node_info))
        .route("/v1/mesh", get(node::mesh_status))
        .route("/v1/mesh/route", get(node::mesh_route))
        .route(
            "/v1/mesh/nodes/{node}",
            axum::routing::delete(node::mesh_forget),
        )
        .route("/v1/openapi.json", get(node::openapi))
        .route("/healthz", get(node::healthz))
        .route("/readyz", get(node::readyz))
        .fallback(request_service::dispatch)
        // Publish enforces its own, content-type-aware limits while reading the body.
        .layer(DefaultBodyLimit::disable())
        // Outermost: whatever a route refuses early, its client still reads the answer.
        .layer(axum::middleware::from_fn_with_state(
            context.clone(),
            unread_body::drain_unread_body,
        ))
        .with_state(context)
}

/// Serves the HTTP API on `listener` until `shutdown` completes, then stops accepting
/// and waits for open requests to finish. Long-lived subscriptions end when the broker
/// shuts down, so call [`weft_broker::Broker::shutdown`] before or as `shutdown` fires.
pub async fn serve(
    listener: tokio::net::TcpListener,
    context: HttpContext,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(context).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
