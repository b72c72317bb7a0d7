//! The state every HTTP handler shares.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use weft_broker::{Broker, Principal};

/// The principal an HTTP request acts as: anonymous until the security work
/// authenticates HTTP clients (then this takes the request's credentials).
pub(crate) fn request_principal() -> Principal {
    Principal::anonymous()
}

/// Limits and names the HTTP front end needs.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Largest accepted event (attributes and data), in bytes. Larger ones get `413`.
    pub max_event_bytes: usize,
    /// Byte-stream protocols served over WebSocket on this listener (MQTT over
    /// WebSocket at `/mqtt`); none by default.
    pub websocket_services: Vec<crate::websocket_service::WebSocketService>,
    /// Counters of other parts of the node (other front ends), reported by `/v1/node`
    /// beside the broker's and this front end's own.
    pub counter_sources: Vec<CounterSource>,
    /// The mesh's view (nodes, links, interest) for `GET /v1/mesh`; `None` when the
    /// node is not in a mesh (the route answers 404).
    pub mesh_status: Option<StatusSource>,
    /// The mesh's route explanation for `GET /v1/mesh/route?topic=T` (given the valid
    /// topic); `None` when the node is not in a mesh.
    pub mesh_route: Option<QuerySource>,
    /// Forgets a node that left the mesh, for `DELETE /v1/mesh/nodes/{node}` (given the
    /// node name); `None` when the node is not in a mesh.
    pub mesh_forget: Option<CommandSource>,
    /// Request/response services on paths the API does not serve (the flows resources
    /// API, webhook sources), asked in order; none by default.
    pub request_services: Vec<crate::request_service::RequestService>,
    /// How long the node goes on reading a request body that a handler left unread
    /// (an early refusal, such as `413`) before it answers anyway; see
    /// [`HttpOptions::unread_body_limit`] for the size bound. Default 10 seconds.
    pub unread_body_timeout: std::time::Duration,
}

impl HttpOptions {
    /// How much of a request body that a handler left unread the node reads and
    /// discards before it answers, so that a client that sends its whole body before
    /// reading gets the answer instead of a reset: four times the largest body any
    /// route accepts (a batch publish: 64 MiB with the default 1 MiB events). A body
    /// whose declared length is over this is not read at all.
    pub fn unread_body_limit(&self) -> u64 {
        let largest_service_body = self
            .request_services
            .iter()
            .map(|service| service.max_body_bytes)
            .max()
            .unwrap_or(0);
        let largest_body = self
            .max_event_bytes
            .saturating_mul(crate::publish::BATCH_BODY_FACTOR)
            .max(largest_service_body);
        u64::try_from(largest_body)
            .unwrap_or(u64::MAX)
            .saturating_mul(UNREAD_BODY_FACTOR)
    }
}

/// [`HttpOptions::unread_body_limit`]: this many times the largest accepted body.
const UNREAD_BODY_FACTOR: u64 = 4;

/// A JSON document that will be ready later.
pub(crate) type StatusFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Option<serde_json::Value>> + Send>>;

/// Produces a JSON document on request (asynchronously: the answer may come from
/// another task).
#[derive(Clone)]
pub struct StatusSource(pub Arc<dyn Fn() -> StatusFuture + Send + Sync>);

impl std::fmt::Debug for StatusSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StatusSource")
    }
}

/// Produces a JSON document for a query text (asynchronously), e.g. the mesh's route
/// explanation for a topic.
#[derive(Clone)]
pub struct QuerySource(pub Arc<dyn Fn(String) -> StatusFuture + Send + Sync>);

/// Why a [`CommandSource`] did not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandRefusal {
    /// The argument is not valid (HTTP 400), with why.
    Invalid(String),
    /// Nothing is known about the thing named (HTTP 404), with why.
    NotFound(String),
    /// The thing is in a state that forbids it (HTTP 409), with why.
    Conflict(String),
    /// The component stopped (HTTP 503).
    Unavailable,
}

/// The answer of a [`CommandSource`], later.
pub type CommandFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<serde_json::Value, CommandRefusal>> + Send>,
>;

/// Runs a command named by a text (e.g. forgetting a mesh node by name) and answers a
/// JSON document of what it did, or why it did not.
#[derive(Clone)]
pub struct CommandSource(pub Arc<dyn Fn(String) -> CommandFuture + Send + Sync>);

impl std::fmt::Debug for CommandSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CommandSource")
    }
}

impl std::fmt::Debug for QuerySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QuerySource")
    }
}

/// Reads a set of named counters when `/v1/node` is asked; names should carry their
/// front end's prefix (`mqtt_sessions`).
#[derive(Clone)]
pub struct CounterSource(pub Arc<dyn Fn() -> Vec<(String, u64)> + Send + Sync>);

impl std::fmt::Debug for CounterSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CounterSource")
    }
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            max_event_bytes: 1024 * 1024,
            websocket_services: Vec::new(),
            counter_sources: Vec::new(),
            mesh_status: None,
            mesh_route: None,
            mesh_forget: None,
            request_services: Vec::new(),
            unread_body_timeout: crate::unread_body::DEFAULT_UNREAD_BODY_TIMEOUT,
        }
    }
}

/// What the node tells about itself on `/v1/node`.
#[derive(Debug, Clone)]
pub struct NodeDescription {
    /// The node's name (also the `origin` of events published here).
    pub name: String,
    /// weft's version.
    pub version: String,
    /// Listener name → bound address, e.g. `http` → `127.0.0.1:8080`.
    pub listeners: BTreeMap<String, String>,
    /// When the node started.
    pub started: Instant,
}

/// Counters of the HTTP front end.
#[derive(Debug, Default)]
pub struct HttpCounters {
    /// Events accepted by `POST /v1/topics/...`.
    pub events_received: AtomicU64,
    /// Requests answered with a 4xx or 5xx problem.
    pub requests_rejected: AtomicU64,
    /// SSE and WebSocket subscribers connected now.
    pub subscribers_connected: AtomicU64,
}

/// Shared state of the HTTP front end: cheap to clone.
#[derive(Clone)]
pub struct HttpContext {
    pub(crate) broker: Broker,
    pub(crate) node: Arc<NodeDescription>,
    pub(crate) options: Arc<HttpOptions>,
    pub(crate) counters: Arc<HttpCounters>,
    ready: Arc<AtomicBool>,
}

impl HttpContext {
    /// State for a node called `node.name` publishing into `broker`.
    pub fn new(broker: Broker, node: NodeDescription, options: HttpOptions) -> Self {
        Self {
            broker,
            node: Arc::new(node),
            options: Arc::new(options),
            counters: Arc::new(HttpCounters::default()),
            ready: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Marks the node ready (or not) for `/readyz`. The node is ready once every
    /// listener is bound; it stops being ready when shutdown starts.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Answers a request with `problem`, counting the rejection.
    pub(crate) fn reject(&self, problem: crate::problem::Problem) -> axum::response::Response {
        self.counters
            .requests_rejected
            .fetch_add(1, Ordering::Relaxed);
        axum::response::IntoResponse::into_response(problem)
    }

    /// The front end's counters.
    pub fn counters(&self) -> &HttpCounters {
        &self.counters
    }
}
