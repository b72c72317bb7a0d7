//! Plain request/response services on the HTTP listener: the seam through which other
//! parts of the node (the flows resources API at `/v1/resources`, webhook sources on
//! paths that change at run time) are served without this crate knowing them.
//!
//! A [`RequestService`] says which paths it serves ([`ServicePaths`]: a fixed prefix, or
//! a predicate asked per request, so the set can change while the node runs), the
//! largest body it accepts, and a handler from a [`ServiceRequest`] (method, path,
//! query, headers, the whole body) to a [`ServiceResponse`]. Requests reach services
//! only on paths the API itself does not serve; the first service whose paths match
//! gets the request. A body over the limit is answered `413` before the handler runs.
//! Errors are expected as problem+json: [`ServiceResponse::problem`] builds one, with
//! extra members if needed.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::context::HttpContext;
use crate::problem::{PROBLEM_JSON, Problem};

/// One request, read completely.
#[derive(Debug, Clone)]
pub struct ServiceRequest {
    /// The method.
    pub method: Method,
    /// The path, percent-encoded as sent (`/v1/resources/route/x`).
    pub path: String,
    /// The query without `?`, if any.
    pub query: Option<String>,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

/// A service's answer.
#[derive(Debug, Clone)]
pub struct ServiceResponse {
    /// The status.
    pub status: StatusCode,
    /// The headers (`Content-Type` among them).
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl ServiceResponse {
    /// `status` with a JSON body.
    #[must_use]
    pub fn json(status: StatusCode, value: &serde_json::Value) -> ServiceResponse {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        ServiceResponse {
            status,
            headers,
            body: Bytes::from(serde_json::to_vec(value).unwrap_or_default()),
        }
    }

    /// A problem+json answer; `extra` members (such as `errors`) are added beside
    /// `type`, `title`, `status` and `detail`.
    #[must_use]
    pub fn problem(problem: &Problem, extra: serde_json::Map<String, serde_json::Value>) -> Self {
        let mut value = serde_json::to_value(problem).unwrap_or_default();
        if let serde_json::Value::Object(members) = &mut value {
            members.extend(extra);
        }
        let mut response = ServiceResponse::json(
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            &value,
        );
        response
            .headers
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}

impl IntoResponse for ServiceResponse {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body).into_response();
        *response.headers_mut() = self.headers;
        response
    }
}

/// The future a handler returns.
pub type ServiceFuture = Pin<Box<dyn Future<Output = ServiceResponse> + Send + 'static>>;

/// A handler: called once per request.
pub type ServiceHandler = Arc<dyn Fn(ServiceRequest) -> ServiceFuture + Send + Sync>;

/// Which paths a service serves.
#[derive(Clone)]
pub enum ServicePaths {
    /// The path itself and every path below it (`/v1/resources`,
    /// `/v1/resources/route/x`).
    Prefix(String),
    /// Whatever the predicate accepts, asked per request.
    Dynamic(Arc<dyn Fn(&str) -> bool + Send + Sync>),
}

impl ServicePaths {
    fn matches(&self, path: &str) -> bool {
        match self {
            ServicePaths::Prefix(prefix) => {
                path == prefix
                    || path
                        .strip_prefix(prefix.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            }
            ServicePaths::Dynamic(accepts) => accepts(path),
        }
    }
}

impl fmt::Debug for ServicePaths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServicePaths::Prefix(prefix) => write!(f, "Prefix({prefix:?})"),
            ServicePaths::Dynamic(_) => f.write_str("Dynamic"),
        }
    }
}

/// A request/response service on the HTTP listener.
#[derive(Clone)]
pub struct RequestService {
    /// The paths it serves.
    pub paths: ServicePaths,
    /// The largest body accepted, in bytes; a larger one gets `413`.
    pub max_body_bytes: usize,
    /// Serves one request.
    pub handler: ServiceHandler,
}

impl RequestService {
    /// A service for `paths` served by `handler`, accepting bodies up to
    /// `max_body_bytes`.
    pub fn new<F, Fut>(paths: ServicePaths, max_body_bytes: usize, handler: F) -> Self
    where
        F: Fn(ServiceRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ServiceResponse> + Send + 'static,
    {
        Self {
            paths,
            max_body_bytes,
            handler: Arc::new(move |request| Box::pin(handler(request))),
        }
    }
}

impl fmt::Debug for RequestService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestService")
            .field("paths", &self.paths)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

/// The router's fallback: the first service whose paths match gets the request; with
/// none, `404`.
pub(crate) async fn dispatch(State(context): State<HttpContext>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let Some(service) = context
        .options
        .request_services
        .iter()
        .find(|service| service.paths.matches(&path))
        .cloned()
    else {
        return Problem::not_found(&path).into_response();
    };
    let (parts, body) = request.into_parts();
    let limit = service.max_body_bytes;
    let too_large = || {
        Problem::too_large(format!(
            "request body is larger than the limit of {limit} bytes"
        ))
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return context.reject(too_large());
    }
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(body) => body,
        Err(error) => {
            let over_limit = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            let problem = if over_limit {
                too_large()
            } else {
                Problem::invalid_parameter(format!("could not read the request body: {error}"))
            };
            return context.reject(problem);
        }
    };
    let request = ServiceRequest {
        method: parts.method,
        path,
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
    };
    let response = (service.handler)(request).await;
    if response.status.is_client_error() || response.status.is_server_error() {
        context
            .counters
            .requests_rejected
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    response.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_the_path_and_paths_below_it_only() {
        let paths = ServicePaths::Prefix("/v1/resources".to_owned());
        assert!(paths.matches("/v1/resources"));
        assert!(paths.matches("/v1/resources/route/x"));
        assert!(!paths.matches("/v1/resourcesx"));
        assert!(!paths.matches("/v1"));
    }

    #[test]
    fn problems_carry_extra_members() {
        let problem = Problem::invalid_parameter("bad");
        let mut extra = serde_json::Map::new();
        extra.insert("errors".to_owned(), serde_json::json!([]));
        let response = ServiceResponse::problem(&problem, extra);
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
        assert_eq!(response.headers[header::CONTENT_TYPE], PROBLEM_JSON);
        let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(body["status"], 400);
        assert_eq!(body["errors"], serde_json::json!([]));
    }
}
