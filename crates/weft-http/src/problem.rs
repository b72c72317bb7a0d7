//! RFC 9457 problem details, and the one place that maps weft errors to HTTP statuses.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use weft_broker::{Denied, PublishError, StreamError, SubscribeError};
use weft_core::{EventError, TopicError, error_chain};

use crate::binding::BindingError;

/// The media type of every error response.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error response: `application/problem+json` with a stable `type` URN per kind of
/// problem (documented in `docs/http.md`), a human `title` and a `detail` naming what
/// was wrong.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// A stable identifier of the kind of problem, `urn:weft:problem:<slug>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: &'static str,
    /// The HTTP status code.
    pub status: u16,
    /// What exactly was wrong with this request.
    pub detail: String,
}

impl Problem {
    /// A problem of kind `slug` with the given status, title and detail.
    pub fn new(
        status: StatusCode,
        slug: &str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind: format!("urn:weft:problem:{slug}"),
            title,
            status: status.as_u16(),
            detail: detail.into(),
        }
    }

    /// `400`: the topic in the path is invalid.
    pub fn invalid_topic(error: &TopicError) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-topic",
            "invalid topic",
            error.to_string(),
        )
    }

    /// `400`: a subscription filter is invalid.
    pub fn invalid_filter(error: &TopicError) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-filter",
            "invalid filter",
            error.to_string(),
        )
    }

    /// `400`: a request parameter is invalid.
    pub fn invalid_parameter(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            "invalid request parameter",
            detail,
        )
    }

    /// `413`: the body or one event in it is larger than allowed.
    pub fn too_large(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "event-too-large",
            "event too large",
            detail,
        )
    }

    /// `507`: a stream that discards new events is at one of its limits; `detail` names
    /// the stream and the limit.
    pub fn stream_full(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "stream-full",
            "stream full",
            detail,
        )
    }

    /// `404`: no such route.
    pub fn not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "not found",
            format!("no route for {path}"),
        )
    }
}

impl From<EventError> for Problem {
    fn from(error: EventError) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-event",
            "invalid cloudevent",
            error.to_string(),
        )
    }
}

impl From<BindingError> for Problem {
    fn from(error: BindingError) -> Self {
        match error {
            BindingError::UnsupportedMediaType { .. } => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "unsupported media type",
                error.to_string(),
            ),
            other => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid-event",
                "invalid cloudevent",
                other.to_string(),
            ),
        }
    }
}

impl From<PublishError> for Problem {
    fn from(error: PublishError) -> Self {
        match error {
            PublishError::Denied(denied) => denied.into(),
            PublishError::EventTooLarge { .. } => Self::too_large(error.to_string()),
            PublishError::Forward(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "mesh-outbox-full",
                "mesh outbox full",
                error.to_string(),
            ),
            PublishError::SubscriberFull { .. } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "subscriber-queue-full",
                "subscriber queue full",
                error.to_string(),
            ),
            PublishError::Storage {
                source: full @ StreamError::Full { .. },
                ..
            } => Self::stream_full(full.to_string()),
            PublishError::Storage { .. } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage-unavailable",
                "storage unavailable",
                error_chain(&error),
            ),
        }
    }
}

impl From<SubscribeError> for Problem {
    fn from(error: SubscribeError) -> Self {
        match error {
            SubscribeError::NoFilters => Self::invalid_parameter(
                "at least one `filter` query parameter is required, e.g. ?filter=orders/>",
            ),
            SubscribeError::Denied(denied) => denied.into(),
        }
    }
}

/// The one answer to a refusal by the authoriser, whatever was refused.
impl From<Denied> for Problem {
    fn from(denied: Denied) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "forbidden",
            denied.to_string(),
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}
