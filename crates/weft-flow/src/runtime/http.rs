//! The HTTP sink: one POST per attempt in CloudEvents binary or structured mode, and
//! the classification of the outcome (Knative data-plane convention).
//!
//! `https://` URLs use rustls. The server's certificate is verified against the
//! platform's trusted roots, or only against the CAs of the sink's `tls.caFile` (read
//! when the route starts: [`RuntimeError::TlsCaFile`]), unless
//! `tls.insecureSkipVerify: true`. A certificate the verification rejects is a final
//! failure (retrying cannot fix it): the event is dead-lettered at once.

use std::time::{Duration, SystemTime};

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use weft_core::{CloudEvent, json};

use super::RuntimeError;
use super::binding::{decode_reply, encode_binary, parse_retry_after};
use super::deliver::{Failure, error_text};
use crate::manifest::sink::{HttpMode, HttpSink, Tls};

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
        if !matches!(url.scheme(), "http" | "https") {
            return Err(RuntimeError::InvalidUrl {
                url: spec.url.clone(),
                reason: format!("unsupported scheme `{}`", url.scheme()),
            });
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &spec.headers {
            let invalid = || RuntimeError::InvalidHeader { name: name.clone() };
            let header = HeaderName::try_from(name.as_str()).map_err(|_| invalid())?;
            let value = HeaderValue::try_from(value.as_str()).map_err(|_| invalid())?;
            headers.insert(header, value);
        }
        let client = client(&spec.tls)?;
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

/// The HTTP client of one sink, with its TLS settings.
fn client(tls: &Tls) -> Result<reqwest::Client, RuntimeError> {
    let mut builder = reqwest::Client::builder();
    if let Some(path) = &tls.ca_file {
        let ca_error = |reason: String| RuntimeError::TlsCaFile {
            path: path.clone(),
            reason,
        };
        // A small file read once when the route starts.
        let pem = std::fs::read(path).map_err(|error| ca_error(error.to_string()))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|error| ca_error(error_text(&error)))?;
        if certificates.is_empty() {
            return Err(ca_error("no pem certificates in the file".to_owned()));
        }
        builder = builder.tls_certs_only(certificates);
    }
    if tls.insecure_skip_verify {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder.build().map_err(|error| RuntimeError::HttpClient {
        reason: error_text(&error),
    })
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
        retryable: !error.is_builder() && !is_certificate_error(error),
        retry_after: None,
        message,
    }
}

/// Whether the TLS handshake failed on the server's certificate (unknown issuer, wrong
/// name, expired, ...), which no retry can fix.
fn is_certificate_error(error: &reqwest::Error) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = current {
        if matches!(
            cause.downcast_ref::<rustls::Error>(),
            Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
        ) {
            return true;
        }
        // An `io::Error` wrapping another error does not report it as its source.
        current = match cause
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner),
            None => cause.source(),
        };
    }
    false
}

#[cfg(test)]
mod tls_tests;

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
