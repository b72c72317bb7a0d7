//! One task per TCP link: frames in to the owner, queued frames out to the socket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use super::owner::{Command, Opened};
use super::{LinkDirection, MeshHandle};
use crate::name::LinkId;
use crate::wire::decode_frame;

/// Frames written in one go at most.
const WRITE_BATCH: usize = 128;

/// Counters a connection task shares with the owner.
#[derive(Debug, Default)]
pub(crate) struct LinkCounters {
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    /// Set by the owner when the handshake completes.
    pub(crate) established: AtomicBool,
}

/// How a link ended, seen from its task.
enum Ended {
    /// The owner closed it (dropped its frame queue) or the node stopped.
    Local,
    /// The peer, the socket or the peer's bytes ended it.
    Remote(String),
}

/// Runs one link until it ends; returns whether its handshake completed.
pub(crate) async fn run(
    socket: TcpStream,
    remote: SocketAddr,
    handle: MeshHandle,
    direction: LinkDirection,
    join: Option<SocketAddr>,
) -> bool {
    let shared = handle.shared();
    let link = LinkId(shared.next_link.fetch_add(1, Ordering::Relaxed));
    let (writer, frames) = mpsc::channel(shared.options.link_queue.max(16));
    let counters = Arc::new(LinkCounters::default());
    let opened = Opened {
        link,
        writer,
        counters: Arc::clone(&counters),
        direction,
        remote,
        join,
    };
    if handle.command(Command::Opened(opened)).await.is_err() {
        return false;
    }
    tracing::debug!(%link, %remote, ?direction, "mesh connection open");
    let (reader, writer) = socket.into_split();
    let mut stopped = shared.stopped.clone();
    let ended = tokio::select! {
        ended = read_loop(reader, link, &handle, &counters) => ended,
        ended = write_loop(writer, frames, &counters) => ended,
        _ = stopped.wait_for(|stop| *stop) => Ended::Local,
    };
    if let Ended::Remote(error) = ended {
        let _ = handle.command(Command::Closed { link, error }).await;
    }
    counters.established.load(Ordering::Relaxed)
}

async fn read_loop(
    mut reader: OwnedReadHalf,
    link: LinkId,
    handle: &MeshHandle,
    counters: &LinkCounters,
) -> Ended {
    let max_frame = handle.shared().options.max_frame;
    let mut buffer = BytesMut::with_capacity(64 * 1024);
    loop {
        loop {
            match decode_frame(&mut buffer, max_frame) {
                Ok(Some(message)) => {
                    if handle
                        .command(Command::Received { link, message })
                        .await
                        .is_err()
                    {
                        return Ended::Local;
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    let _ = handle.command(Command::Malformed { link }).await;
                    return Ended::Remote(format!("peer sent a malformed frame: {error}"));
                }
            }
        }
        match reader.read_buf(&mut buffer).await {
            Ok(0) => return Ended::Remote("peer closed the connection".to_owned()),
            Ok(read) => {
                counters.bytes_in.fetch_add(read as u64, Ordering::Relaxed);
            }
            Err(error) => return Ended::Remote(format!("read failed: {error}")),
        }
    }
}

async fn write_loop(
    mut writer: OwnedWriteHalf,
    mut frames: mpsc::Receiver<Bytes>,
    counters: &LinkCounters,
) -> Ended {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    let mut out = BytesMut::new();
    loop {
        batch.clear();
        if frames.recv_many(&mut batch, WRITE_BATCH).await == 0 {
            // The owner closed the link: what was queued (a refusal) is written above.
            let _ = writer.shutdown().await;
            return Ended::Local;
        }
        out.clear();
        for frame in &batch {
            out.extend_from_slice(frame);
        }
        if let Err(error) = writer.write_all(&out).await {
            return Ended::Remote(format!("write failed: {error}"));
        }
        counters
            .bytes_out
            .fetch_add(out.len() as u64, Ordering::Relaxed);
    }
}
