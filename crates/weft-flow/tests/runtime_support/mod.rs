//! Helpers for the route runtime tests: a scripted local HTTP sink, manifests, events,
//! and waiting with timeouts.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tokio::sync::mpsc;
use weft_broker::{Broker, Principal, Subscription};
use weft_core::{Event, Filter, Topic};
use weft_flow::manifest::route::RouteSpec;
use weft_flow::manifest::sink::SinkSpec;
use weft_flow::manifest::{ResourceName, Spec};

/// How long any wait in these tests may take before the test fails.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

/// Awaits `future`, failing the test after [`PATIENCE`].
pub(crate) async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// One scripted answer of the sink.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub retry_after: Option<&'static str>,
}

impl Reply {
    pub(crate) fn status(status: u16) -> Self {
        Reply {
            status,
            retry_after: None,
        }
    }
}

/// A request the sink received.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub id: String,
    pub at: Instant,
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Default)]
struct Script {
    /// Per event id: the answers to give first, in order; then `200`.
    plans: HashMap<String, VecDeque<Reply>>,
    /// Whether a `200` carries a binary-mode CloudEvent reply.
    reply_event: bool,
}

#[derive(Clone)]
struct ServerState {
    script: Arc<Mutex<Script>>,
    received: mpsc::UnboundedSender<Received>,
}

/// A local HTTP sink that fails as scripted and reports every request.
pub(crate) struct Sink {
    pub url: String,
    script: Arc<Mutex<Script>>,
    received: mpsc::UnboundedReceiver<Received>,
}

impl Sink {
    pub(crate) async fn start() -> Sink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (sender, received) = mpsc::unbounded_channel();
        let script = Arc::new(Mutex::new(Script::default()));
        let state = ServerState {
            script: Arc::clone(&script),
            received: sender,
        };
        let app = Router::new()
            .route("/events", post(handle))
            .with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Sink {
            url: format!("http://{address}/events"),
            script,
            received,
        }
    }

    /// The first answers for event `id`.
    pub(crate) fn plan(&self, id: &str, replies: impl IntoIterator<Item = Reply>) {
        self.script
            .lock()
            .unwrap()
            .plans
            .insert(id.to_owned(), replies.into_iter().collect());
    }

    /// Makes every `200` carry a CloudEvent reply.
    pub(crate) fn reply_with_events(&self) {
        self.script.lock().unwrap().reply_event = true;
    }

    /// The next request.
    pub(crate) async fn next(&mut self) -> Received {
        within("a sink request", self.received.recv())
            .await
            .unwrap()
    }

    /// The next `count` requests.
    pub(crate) async fn take(&mut self, count: usize) -> Vec<Received> {
        let mut requests = Vec::with_capacity(count);
        for _ in 0..count {
            requests.push(self.next().await);
        }
        requests
    }

    /// Asserts that no request arrives within `quiet`.
    pub(crate) async fn assert_quiet(&mut self, quiet: Duration) {
        if let Ok(Some(request)) = tokio::time::timeout(quiet, self.received.recv()).await {
            panic!("unexpected request for {}", request.id);
        }
    }
}

async fn handle(State(state): State<ServerState>, headers: HeaderMap, body: Bytes) -> Response {
    let id = match headers.get("ce-id") {
        Some(id) => id.to_str().unwrap().to_owned(),
        None => weft_core::json::decode(&body).unwrap().attributes.id,
    };
    let (reply, reply_event) = {
        let mut script = state.script.lock().unwrap();
        let reply = script.plans.get_mut(&id).and_then(VecDeque::pop_front);
        (reply, script.reply_event)
    };
    let _ = state.received.send(Received {
        id: id.clone(),
        at: Instant::now(),
        headers,
        body,
    });
    let mut headers = HeaderMap::new();
    match reply {
        Some(reply) => {
            if let Some(retry_after) = reply.retry_after {
                headers.insert("retry-after", HeaderValue::from_static(retry_after));
            }
            (StatusCode::from_u16(reply.status).unwrap(), headers).into_response()
        }
        None if reply_event => {
            headers.insert("ce-specversion", HeaderValue::from_static("1.0"));
            headers.insert(
                "ce-id",
                HeaderValue::from_str(&format!("reply-{id}")).unwrap(),
            );
            headers.insert("ce-source", HeaderValue::from_static("/billing"));
            headers.insert("ce-type", HeaderValue::from_static("billing.receipt"));
            headers.insert("content-type", HeaderValue::from_static("application/json"));
            (StatusCode::OK, headers, r#"{"paid":true}"#).into_response()
        }
        None => StatusCode::ACCEPTED.into_response(),
    }
}

/// The route and (optional) sink in `yaml` (manifests separated by `---`).
pub(crate) fn manifests(yaml: &str) -> (ResourceName, RouteSpec, Option<SinkSpec>) {
    let set = weft_flow::load_str("test.yaml", yaml).unwrap_or_else(|errors| panic!("{errors}"));
    let mut route = None;
    let mut sink = None;
    for manifest in set.manifests() {
        match &manifest.spec {
            Spec::Route(spec) => route = Some((manifest.metadata.name.clone(), spec.clone())),
            Spec::Sink(spec) => sink = Some(spec.clone()),
            _ => {}
        }
    }
    let (name, spec) = route.expect("a route");
    (name, spec, sink)
}

/// A Sink manifest named `billing` posting to `url`.
pub(crate) fn http_sink(url: &str, extra: &str) -> String {
    format!(
        "apiVersion: weft/v1\nkind: Sink\nmetadata: {{name: billing}}\nspec:\n  http:\n    url: \"{url}\"\n    headers: {{x-team: billing}}\n    timeout: 2s\n{extra}"
    )
}

/// An event on `topic` with JSON data.
pub(crate) fn event(topic: &str, id: &str, ty: &str, data: &str) -> Event {
    let json = format!(
        r#"{{"specversion":"1.0","id":"{id}","source":"/shop","type":"{ty}","datacontenttype":"application/json","data":{data}}}"#
    );
    let cloudevent = weft_core::json::decode(json.as_bytes()).unwrap();
    Event::new(
        cloudevent,
        Topic::new(topic).unwrap(),
        "test",
        SystemTime::now(),
    )
}

/// The same with a key.
pub(crate) fn keyed(topic: &str, id: &str, key: &str) -> Event {
    let mut event = event(topic, id, "order.created", "{}");
    event.key = Some(key.as_bytes().to_vec().into());
    event
}

pub(crate) async fn publish(broker: &Broker, event: Event) {
    broker
        .publish(&Principal::anonymous(), event)
        .await
        .unwrap();
}

pub(crate) fn subscribe(broker: &Broker, filter: &str) -> Subscription {
    broker
        .subscribe(
            &Principal::anonymous(),
            vec![Filter::new(filter).unwrap()],
            Default::default(),
        )
        .unwrap()
}

/// The next event of `subscription`.
pub(crate) async fn next_event(subscription: &mut Subscription) -> Event {
    let event = within("an event", subscription.recv()).await.unwrap();
    Arc::unwrap_or_clone(event)
}

/// A string attribute of `event`.
pub(crate) fn attribute(event: &Event, name: &str) -> String {
    event
        .cloudevent
        .attributes
        .get(name)
        .unwrap_or_else(|| panic!("no attribute {name}"))
        .canonical()
        .into_owned()
}
