//! The HTTP sink: one POST per attempt in CloudEvents binary or structured mode, and
//! the classification of the outcome (Knative data-plane convention).
//!
//! The workspace builds reqwest without a TLS backend, so only `http://` URLs are
//! accepted for now: an `https://` sink is refused when the route starts
//! ([`RuntimeError::TlsUnavailable`]) rather than failing every delivery. When a TLS
//! feature lands, certificate verification stays on unless `tls.verify: false`.

use std::time::{Duration, SystemTime};

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use weft_core::{CloudEvent, json};

use super::RuntimeError;
use super::binding::{decode_reply, encode_binary, parse_retry_after};
use super::deliver::{Failure, error_text};
use crate::manifest::sink::{HttpMode, HttpSink};

/// A ready HTTP sink.
#[derive(Debug, Clone)]
pub(crate) struct HttpTarget {
    client: reqwest::Client,
    url: Url,
    mode: HttpMode,
    headers: HeaderMap,
    timeout: Duration,
}

impl HttpTarget {
    /// Checks the URL and headers and builds the client. `attempt_timeout` is the
    /// route's `delivery.timeout`; the shorter of it and the sink's `timeout` applies.
    pub(crate) fn new(spec: &HttpSink, attempt_timeout: Duration) -> Result<Self, RuntimeError> {
        let url = Url::parse(&spec.url).map_err(|error| RuntimeError::InvalidUrl {
            url: spec.url.clone(),
            reason: error.to_string(),
        })?;
        match url.scheme() {
            "http" => {}
            "https" => {
                return Err(RuntimeError::TlsUnavailable {
                    url: spec.url.clone(),
                });
            }
            other => {
                return Err(RuntimeError::InvalidUrl {
                    url: spec.url.clone(),
                    reason: format!("unsupported scheme `{other}`"),
                });
            }
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &spec.headers {
            let invalid = || RuntimeError::InvalidHeader { name: name.clone() };
            let header = HeaderName::try_from(name.as_str()).map_err(|_| invalid())?;
            let value = HeaderValue::try_from(value.as_str()).map_err(|_| invalid())?;
            headers.insert(header, value);
        }
        let client =
            reqwest::Client::builder()
                .build()
                .map_err(|error| RuntimeError::HttpClient {
                    reason: error_text(&error),
                })?;
        Ok(HttpTarget {
            client,
            url,
            mode: spec.mode,
            headers,
            timeout: spec.timeout.min(attempt_timeout),
        })
    }

    /// One attempt: `Ok(Some(event))` when the sink answered `200` with a CloudEvent.
    pub(crate) async fn send(&self, event: &CloudEvent) -> Result<Option<CloudEvent>, Failure> {
        let mut headers = self.headers.clone();
        let body = match self.mode {
            HttpMode::Binary => encode_binary(event, &mut headers).unwrap_or_default(),
            HttpMode::Structured => {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static(json::MEDIA_TYPE));
                json::encode(event).into()
            }
        };
        let response = self
            .client
            .post(self.url.clone())
            .headers(headers)
            .timeout(self.timeout)
            .body(body)
            .send()
            .await
            .map_err(|error| request_failure(&error, self.timeout))?;
        let status = response.status();
        let headers = response.headers().clone();
        if status.is_success() {
            let body = response
                .bytes()
                .await
                .map_err(|error| request_failure(&error, self.timeout))?;
            if status != StatusCode::OK {
                return Ok(None);
            }
            return match decode_reply(&headers, body) {
                Ok(reply) => Ok(reply),
                Err(error) => {
                    tracing::warn!(url = %self.url, %error, "sink reply is not a valid cloudevent; ignored");
                    Ok(None)
                }
            };
        }
        let retry_after = matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        )
        .then(|| headers.get(RETRY_AFTER)?.to_str().ok())
        .flatten()
        .and_then(|value| parse_retry_after(value, SystemTime::now()));
        Err(Failure {
            retryable: is_retryable(status),
            retry_after,
            message: format!("http status {status}"),
        })
    }
}

/// Knative's data-plane convention: 5xx, 404, 408, 409 and 429 are retried; every
/// other status that is not a success is final.
#[must_use]
pub fn is_retryable(status: StatusCode) -> bool {
    status.is_server_error()
        || matches!(
            status,
            StatusCode::NOT_FOUND
                | StatusCode::REQUEST_TIMEOUT
                | StatusCode::CONFLICT
                | StatusCode::TOO_MANY_REQUESTS
        )
}

/// A request that got no (complete) response: retried, unless the request could not
/// even be built.
fn request_failure(error: &reqwest::Error, timeout: Duration) -> Failure {
    let message = if error.is_timeout() {
        format!("no response within {}", crate::format_duration(timeout))
    } else {
        error_text(error)
    };
    Failure {
        retryable: !error.is_builder(),
        retry_after: None,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_knative_convention() {
        for code in [500, 502, 503, 504, 404, 408, 409, 429] {
            assert!(is_retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        for code in [400, 401, 403, 405, 410, 413, 415, 422, 301] {
            assert!(!is_retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
    }
}
