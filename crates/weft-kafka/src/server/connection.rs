//! One client connection: read a size-prefixed request, answer it, repeat.
//!
//! A malformed frame, an unknown API or an unsupported version (other than ApiVersions,
//! which is answered with `UNSUPPORTED_VERSION` and the supported list at v0) closes the
//! connection, as Kafka does; a request larger than
//! [`KafkaConfig::max_request_bytes`](super::KafkaConfig) closes it before it is read.
//! Nothing a client sends affects other connections.

use std::io;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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

pub(crate) async fn run(
    mut socket: TcpStream,
    context: KafkaContext,
    session: Session,
) -> Result<(), ConnectionError> {
    let max = context.config().max_request_bytes;
    loop {
        let size = match socket.read_i32().await {
            Ok(size) => size,
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(error) => return Err(error.into()),
        };
        let size_ok = usize::try_from(size).ok().filter(|&size| size <= max);
        let Some(size) = size_ok else {
            tracing::warn!(size, max, "kafka request too large; closing the connection");
            return Err(ConnectionError::TooLarge {
                size: i64::from(size),
                max,
            });
        };
        let mut frame = BytesMut::zeroed(size);
        socket.read_exact(&mut frame).await?;
        let (header, request) = match decode_request(frame.freeze()) {
            Ok(decoded) => decoded,
            Err(DecodeError::UnsupportedVersion { header })
                if header.api_key == ApiKey::ApiVersions as i16 =>
            {
                let mut answer_header = header.clone();
                answer_header.api_version = 0;
                let response = Response::ApiVersions(ApiVersionsResponse::supported(
                    ErrorCode::UNSUPPORTED_VERSION,
                ));
                write(&mut socket, &answer_header, &response).await?;
                continue;
            }
            Err(error) => {
                tracing::warn!(%error, "kafka request not served; closing the connection");
                return Err(error.into());
            }
        };
        let response = handle(&context, &session, &header, request).await;
        if let Some(response) = response {
            write(&mut socket, &header, &response).await?;
        }
    }
}

async fn write(
    socket: &mut TcpStream,
    header: &RequestHeader,
    response: &Response,
) -> io::Result<()> {
    let frame = encode_response(header, response);
    write_chunks(socket, frame.chunks).await
}

/// Writes every chunk, several per system call where the kernel takes them.
async fn write_chunks(socket: &mut TcpStream, mut chunks: Vec<Bytes>) -> io::Result<()> {
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

/// Answers one request; `None` for a produce with `acks=0`, which gets no response.
async fn handle(
    context: &KafkaContext,
    session: &Session,
    header: &RequestHeader,
    request: Request,
) -> Option<Response> {
    let version = header.api_version;
    let client_id = header.client_id.clone().unwrap_or_default();
    Some(match request {
        Request::ApiVersions(_) => {
            Response::ApiVersions(ApiVersionsResponse::supported(ErrorCode::NONE))
        }
        Request::Metadata(request) => {
            Response::Metadata(metadata::metadata(context, session, request, version).await)
        }
        Request::DescribeCluster(_) => {
            Response::DescribeCluster(metadata::describe_cluster(context))
        }
        Request::FindCoordinator(request) => {
            Response::FindCoordinator(metadata::find_coordinator(context, request, version))
        }
        Request::Produce(request) => {
            let acks = request.acks;
            let response = produce::produce(context, session, request).await;
            if acks == 0 {
                return None;
            }
            Response::Produce(response)
        }
        Request::InitProducerId(request) => {
            Response::InitProducerId(produce::init_producer_id(context, &request))
        }
        Request::Fetch(request) => Response::Fetch(fetch::fetch(context, request, version).await),
        Request::ListOffsets(request) => {
            Response::ListOffsets(fetch::list_offsets(context, request, version).await)
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
            Response::OffsetCommit(groups::commit(context, request).await)
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
            Response::CreateTopics(admin::create_topics(context, request).await)
        }
        Request::DeleteTopics(request) => {
            Response::DeleteTopics(admin::delete_topics(context, request).await)
        }
        Request::CreatePartitions(request) => {
            Response::CreatePartitions(admin::create_partitions(context, request).await)
        }
        Request::DescribeConfigs(request) => {
            Response::DescribeConfigs(admin::describe_configs(context, request, version).await)
        }
        Request::IncrementalAlterConfigs(request) => {
            Response::IncrementalAlterConfigs(admin::alter_configs(context, request).await)
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
    })
}
