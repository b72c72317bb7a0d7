//! The rest of a request body a handler left unread, read and discarded before the
//! answer goes out.
//!
//! A handler that refuses a request early answers without reading its body: `413` for a
//! body over the limit (declared in `Content-Length` or found while reading), `400` for
//! a bad topic or query. The HTTP server then closes the connection with the rest of
//! the body unread, and the kernel answers data arriving on a closed socket, or left
//! unread in it, with a reset. A client that writes its whole body before it reads
//! (Python's urllib, most simple clients: anything that does not send
//! `Expect: 100-continue`) then sees "connection reset" or "broken pipe" instead of the
//! problem document. So [`drain_unread_body`] reads and discards what the handler left,
//! within bounds, and only then lets the answer go: the client finishes writing, reads
//! the answer, and the connection stays open for its next request.
//!
//! Bounds: a body whose remaining declared length is over the limit
//! ([`HttpOptions::unread_body_limit`](crate::HttpOptions)) is not read at all, nor
//! is more than the limit of an undeclared (chunked) one, and the reading stops after
//! [`HttpOptions::unread_body_timeout`](crate::HttpOptions). Past a bound the answer goes
//! out as before (and the client may see a reset): the node never spends more than that
//! on a client that keeps sending.
//!
//! A client that sent `Expect: 100-continue` has not been told to send its body unless
//! the handler started reading it; such a body is left alone, so the client gets the
//! refusal instead of an invitation to send what will be thrown away.
//!
//! Requests with a body pay for one small wrapper and a one-shot channel; requests
//! without one (every `GET`) pass straight through.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt as _;
use tokio::sync::oneshot;

use crate::context::HttpContext;

/// How long the node reads an unread body by default before it answers anyway.
pub const DEFAULT_UNREAD_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The middleware: wraps a request's body so that the part a handler drops unread comes
/// back here, and reads that part (within bounds) before returning the response.
pub(crate) async fn drain_unread_body(
    State(context): State<HttpContext>,
    request: Request,
    next: Next,
) -> Response {
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let expects_continue = request
        .headers()
        .get(header::EXPECT)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let (give_back, mut given_back) = oneshot::channel();
    let request = request.map(|body| {
        Body::new(ReturningBody {
            inner: Some(body),
            polled: false,
            ended: false,
            expects_continue,
            give_back: Some(give_back),
        })
    });
    let response = next.run(request).await;
    // Empty when the handler read the body to its end, or still holds it (a response
    // that streams it); then there is nothing to do.
    if let Ok(body) = given_back.try_recv() {
        let options = &context.options;
        let outcome = drain(
            body,
            options.unread_body_limit(),
            options.unread_body_timeout,
        )
        .await;
        tracing::debug!(
            status = response.status().as_u16(),
            ?outcome,
            "read the rest of an unread request body"
        );
    }
    response
}

/// What became of an unread body.
#[derive(Debug, PartialEq, Eq)]
enum Drained {
    /// Read to its end: `bytes` were discarded.
    Whole { bytes: u64 },
    /// Not read: its declared remaining length is over the limit.
    DeclaredTooLarge { declared: u64 },
    /// Read up to the limit, and there was more.
    OverLimit,
    /// The client sent too slowly (or stopped sending).
    TimedOut,
    /// The connection failed while reading.
    Failed,
}

async fn drain(mut body: Body, limit: u64, timeout: Duration) -> Drained {
    let declared = body.size_hint().lower();
    if declared > limit {
        return Drained::DeclaredTooLarge { declared };
    }
    let reading = async {
        let mut bytes: u64 = 0;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                return Drained::Failed;
            };
            if let Some(data) = frame.data_ref() {
                bytes = bytes.saturating_add(data.len() as u64);
                if bytes > limit {
                    return Drained::OverLimit;
                }
            }
        }
        Drained::Whole { bytes }
    };
    tokio::time::timeout(timeout, reading)
        .await
        .unwrap_or(Drained::TimedOut)
}

/// A request body that, when dropped before its end, hands what is left to
/// [`drain_unread_body`].
struct ReturningBody {
    inner: Option<Body>,
    /// Whether the handler asked for data (the server then sent `100 Continue`).
    polled: bool,
    /// Whether the body reached its end.
    ended: bool,
    expects_continue: bool,
    give_back: Option<oneshot::Sender<Body>>,
}

impl HttpBody for ReturningBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        this.polled = true;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = Pin::new(inner).poll_frame(context);
        if let Poll::Ready(None) = frame {
            this.ended = true;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), HttpBody::size_hint)
    }
}

impl Drop for ReturningBody {
    fn drop(&mut self) {
        let (Some(body), Some(give_back)) = (self.inner.take(), self.give_back.take()) else {
            return;
        };
        // Unsent bytes of an `Expect: 100-continue` request stay unsent (see the module
        // documentation).
        let unread = !self.ended && !body.is_end_stream();
        if unread && (self.polled || !self.expects_continue) {
            // The receiver is gone only when the middleware was: then nobody drains.
            let _ = give_back.send(body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(sizes: &[usize]) -> Body {
        let frames: Vec<Result<Bytes, std::io::Error>> = sizes
            .iter()
            .map(|size| Ok(Bytes::from(vec![b'x'; *size])))
            .collect();
        Body::from_stream(futures_util::stream::iter(frames))
    }

    #[tokio::test]
    async fn a_body_within_the_limit_is_read_to_its_end() {
        let outcome = drain(chunks(&[10, 20, 30]), 100, Duration::from_secs(5)).await;
        assert_eq!(outcome, Drained::Whole { bytes: 60 });
    }

    #[tokio::test]
    async fn reading_stops_past_the_limit() {
        let outcome = drain(chunks(&[60, 60, 60]), 100, Duration::from_secs(5)).await;
        assert_eq!(outcome, Drained::OverLimit);
    }

    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_not_read() {
        let outcome = drain(Body::from(vec![0u8; 101]), 100, Duration::from_secs(5)).await;
        assert_eq!(outcome, Drained::DeclaredTooLarge { declared: 101 });
    }

    #[tokio::test]
    async fn a_client_that_stops_sending_is_given_up_on() {
        let stalled =
            Body::from_stream(futures_util::stream::pending::<Result<Bytes, std::io::Error>>());
        let outcome = drain(stalled, 100, Duration::from_millis(20)).await;
        assert_eq!(outcome, Drained::TimedOut);
    }
}
