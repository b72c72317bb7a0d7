//! One client connection: read a size-prefixed request, answer it, repeat.
//!
//! A malformed frame, an unknown API or an unsupported version (other than ApiVersions,
//! which is answered with `UNSUPPORTED_VERSION` and the supported list at v0) closes the
//! connection, as Kafka does; a request larger than
//! [`KafkaConfig::max_request_bytes`](super::KafkaConfig) closes it before it is read.
//! How a request is received (memory as bytes arrive, a deadline, a node-wide budget) is
//! in `connection/incoming.rs`: what one client sends costs other connections at most a
//! wait for room in that budget.

mod incoming;

use std::io;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

pub(crate) use self::incoming::RequestBudget;
use super::{KafkaContext, Session, admin, fetch, groups, metadata, produce};
use crate::protocol::{
    ApiKey, ApiVersionsResponse, DecodeError, ErrorCode, Request, RequestHeader, Response,
    decode_request, encode_response,
};

/// Why a connection ended early.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectionError {
    /// Reading or writing failed (or the client went away).
    #[error("connection i/o failed")]
    Io(#[from] io::Error),
    /// A request was still incomplete at its deadline.
    #[error("request still incomplete after {} ms", timeout.as_millis())]
    TimedOut {
        /// [`KafkaConfig::request_read_timeout`](super::KafkaConfig).
        timeout: Duration,
        /// Whether it was waiting for room in the node-wide budget then.
        waiting_for_budget: bool,
    },
    /// The size prefix is negative or above the limit.
    #[error("request of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The announced size.
        size: i64,
        /// The limit.
        max: usize,
    },
    /// The request could not be decoded, or is not served.
    #[error("cannot serve request")]
    Decode(#[from] DecodeError),
}

/// Responses waiting to be written, in request order. Produce answers are finished by
/// the writer, so the reader can queue the next request's batches while earlier ones
/// wait for their fsync (one group commit covers them), as pipelining clients expect.
const PIPELINE_DEPTH: usize = 64;

/// One answer in the writer's queue.
enum Outgoing {
    /// A response already computed (`None`: nothing to send).
    Ready(RequestHeader, Option<Response>),
    /// A produce whose batches are queued: finish it, then answer unless `acks` is 0.
    Produce(RequestHeader, i16, produce::InFlight),
}

pub(crate) async fn run(
    socket: TcpStream,
    context: KafkaContext,
    session: Session,
) -> Result<(), ConnectionError> {
    let (mut reader, writer) = socket.into_split();
    let (queue, outgoing) = mpsc::channel(PIPELINE_DEPTH);
    let writing = tokio::spawn(write_responses(writer, outgoing));
    let read = read_requests(&mut reader, &context, &session, &queue).await;
    drop(queue);
    let written = writing
        .await
        .unwrap_or_else(|error| Err(io::Error::other(error)));
    read?;
    written.map_err(ConnectionError::from)
}

async fn read_requests(
    reader: &mut OwnedReadHalf,
    context: &KafkaContext,
    session: &Session,
    queue: &mpsc::Sender<Outgoing>,
) -> Result<(), ConnectionError> {
    loop {
        let Some(frame) = incoming::read_request(reader, context).await? else {
            return Ok(());
        };
        let outgoing = match decode_request(frame) {
            Ok((header, Request::Produce(request))) => {
                let acks = request.acks;
                let in_flight = produce::submit(context, session, request).await;
                Outgoing::Produce(header, acks, in_flight)
            }
            Ok((header, request)) => {
                let response = handle(context, session, &header, request).await;
                Outgoing::Ready(header, Some(response))
            }
            Err(DecodeError::UnsupportedVersion { header })
                if header.api_key == ApiKey::ApiVersions as i16 =>
            {
                let mut answer_header = header;
                answer_header.api_version = 0;
                let response = Response::ApiVersions(ApiVersionsResponse::supported(
                    ErrorCode::UNSUPPORTED_VERSION,
                ));
                Outgoing::Ready(answer_header, Some(response))
            }
            Err(error) => {
                tracing::warn!(%error, "kafka request not served; closing the connection");
                return Err(error.into());
            }
        };
        if queue.send(outgoing).await.is_err() {
            // The writer stopped (the client went away).
            return Ok(());
        }
    }
}

async fn write_responses(
    mut writer: OwnedWriteHalf,
    mut outgoing: mpsc::Receiver<Outgoing>,
) -> io::Result<()> {
    while let Some(next) = outgoing.recv().await {
        let (header, response) = match next {
            Outgoing::Ready(header, response) => (header, response),
            Outgoing::Produce(header, acks, in_flight) => {
                let response = Response::Produce(in_flight.finish().await);
                (header, (acks != 0).then_some(response))
            }
        };
        if let Some(response) = response {
            let frame = encode_response(&header, &response);
            write_chunks(&mut writer, frame.chunks).await?;
        }
    }
    Ok(())
}

/// Writes every chunk, several per system call where the kernel takes them.
async fn write_chunks(socket: &mut OwnedWriteHalf, mut chunks: Vec<Bytes>) -> io::Result<()> {
    let mut first = 0;
    while first < chunks.len() {
        let slices: Vec<io::IoSlice<'_>> = chunks[first..]
            .iter()
            .take(64)
            .map(|chunk| io::IoSlice::new(chunk))
            .collect();
        let mut written = socket.write_vectored(&slices).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        while first < chunks.len() && written >= chunks[first].len() {
            written -= chunks[first].len();
            first += 1;
        }
        if written > 0 {
            let rest = chunks[first].slice(written..);
            chunks[first] = rest;
        }
    }
    Ok(())
}

/// Answers one request other than Produce (which the reader submits and the writer
/// finishes).
async fn handle(
    context: &KafkaContext,
    session: &Session,
    header: &RequestHeader,
    request: Request,
) -> Response {
    let version = header.api_version;
    let client_id = header.client_id.clone().unwrap_or_default();
    let caller = &context.caller(&session.principal);
    match request {
        Request::ApiVersions(_) => {
            Response::ApiVersions(ApiVersionsResponse::supported(ErrorCode::NONE))
        }
        Request::Metadata(request) => {
            Response::Metadata(metadata::metadata(caller, session, request, version).await)
        }
        Request::DescribeCluster(_) => {
            Response::DescribeCluster(metadata::describe_cluster(caller))
        }
        Request::FindCoordinator(request) => {
            Response::FindCoordinator(metadata::find_coordinator(caller, request, version))
        }
        Request::Produce(request) => Response::Produce(
            produce::submit(context, session, request)
                .await
                .finish()
                .await,
        ),
        Request::InitProducerId(request) => {
            Response::InitProducerId(produce::init_producer_id(context, &request))
        }
        Request::Fetch(request) => Response::Fetch(fetch::fetch(caller, request).await),
        Request::ListOffsets(request) => {
            Response::ListOffsets(fetch::list_offsets(caller, request, version).await)
        }
        Request::JoinGroup(request) => {
            Response::JoinGroup(groups::join(context, session, &client_id, request, version).await)
        }
        Request::SyncGroup(request) => Response::SyncGroup(groups::sync(context, request).await),
        Request::Heartbeat(request) => {
            Response::Heartbeat(groups::heartbeat(context, request).await)
        }
        Request::LeaveGroup(request) => {
            Response::LeaveGroup(groups::leave(context, request, version).await)
        }
        Request::OffsetCommit(request) => {
            Response::OffsetCommit(groups::commit(context, session, request).await)
        }
        Request::OffsetFetch(request) => {
            Response::OffsetFetch(groups::fetch_offsets(context, request, version))
        }
        Request::DescribeGroups(request) => {
            Response::DescribeGroups(groups::describe(context, request).await)
        }
        Request::ListGroups(request) => Response::ListGroups(groups::list(context, request).await),
        Request::DeleteGroups(request) => {
            Response::DeleteGroups(groups::delete(context, request).await)
        }
        Request::CreateTopics(request) => {
            Response::CreateTopics(admin::create_topics(caller, request).await)
        }
        Request::DeleteTopics(request) => {
            Response::DeleteTopics(admin::delete_topics(caller, request).await)
        }
        Request::CreatePartitions(request) => {
            Response::CreatePartitions(admin::create_partitions(caller, request).await)
        }
        Request::DescribeConfigs(request) => {
            Response::DescribeConfigs(admin::describe_configs(caller, request, version).await)
        }
        Request::IncrementalAlterConfigs(request) => {
            Response::IncrementalAlterConfigs(admin::alter_configs(caller, request).await)
        }
        Request::SaslHandshake(_) => {
            Response::SaslHandshake(crate::protocol::SaslHandshakeResponse {
                error_code: ErrorCode::UNSUPPORTED_SASL_MECHANISM,
                mechanisms: Vec::new(),
            })
        }
        Request::SaslAuthenticate(_) => {
            Response::SaslAuthenticate(crate::protocol::SaslAuthenticateResponse {
                error_code: ErrorCode::ILLEGAL_SASL_STATE,
                error_message: Some("sasl is not enabled on this listener".to_owned()),
                ..Default::default()
            })
        }
    }
}
