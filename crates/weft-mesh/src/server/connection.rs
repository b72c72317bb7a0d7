//! One task per TCP link: frames in to the owner, queued frames out to the socket.
//!
//! The writer takes everything queued at once (it never waits for more, so an idle link
//! adds no latency), merges runs of `Events` frames into batches and compresses large
//! frames ([`FrameBatcher`]) once the peer's `HelloAck` has told which capabilities the
//! link shares. Until then frames go out as they are.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use super::owner::{Command, Opened};
use super::{LinkDirection, MeshHandle};
use crate::name::LinkId;
use crate::wire::{
    Capabilities, Compression, DEFAULT_MAX_BATCH, FrameBatcher, FrameOptions, Message,
    decode_frame_sized,
};

/// Frames taken off the queue for one write at most.
const WRITE_BATCH: usize = 1024;

/// Set in [`LinkCounters::negotiated`] once the peer's `HelloAck` arrived.
const NEGOTIATED: u8 = 0x80;

/// Counters a connection task shares with the owner.
#[derive(Debug, Default)]
pub(crate) struct LinkCounters {
    /// Bytes read from the socket.
    pub(crate) bytes_in: AtomicU64,
    /// Bytes written to the socket.
    pub(crate) bytes_out: AtomicU64,
    /// Bytes of the frames read, as they were before compression.
    pub(crate) uncompressed_in: AtomicU64,
    /// Bytes of the frames written, as they were before compression.
    pub(crate) uncompressed_out: AtomicU64,
    /// Frames (batches included) written.
    pub(crate) frames_out: AtomicU64,
    /// The capabilities of the link (lz4 1, zstd 2, batching 4), with [`NEGOTIATED`].
    negotiated: AtomicU8,
    /// The compression this node wants to use ([`super::MeshOptions::compression`]).
    wanted: Option<Compression>,
    /// Set by the owner when the handshake completes.
    pub(crate) established: AtomicBool,
}

impl LinkCounters {
    /// The compression the link uses, if any (both sides must support it).
    pub(crate) fn compression(&self) -> Option<Compression> {
        let bits = self.negotiated.load(Ordering::Relaxed);
        match self.wanted? {
            Compression::Lz4 if bits & 1 != 0 => Some(Compression::Lz4),
            Compression::Zstd if bits & 2 != 0 => Some(Compression::Zstd),
            _ => None,
        }
    }

    fn record_capabilities(&self, capabilities: Capabilities) {
        let bits = NEGOTIATED
            | u8::from(capabilities.lz4)
            | (u8::from(capabilities.zstd) << 1)
            | (u8::from(capabilities.batching) << 2);
        self.negotiated.store(bits, Ordering::Relaxed);
    }

    /// How the writer merges and compresses frames now.
    fn batcher(&self, options: &super::MeshOptions) -> FrameBatcher {
        let bits = self.negotiated.load(Ordering::Relaxed);
        FrameBatcher {
            options: FrameOptions {
                compression: self.compression(),
                threshold: options.compression_threshold,
            },
            batching: options.batching && bits & 4 != 0,
            max_batch: DEFAULT_MAX_BATCH.min(options.max_frame),
        }
    }
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
    let counters = Arc::new(LinkCounters {
        wanted: shared.options.compression,
        ..LinkCounters::default()
    });
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
        ended = write_loop(writer, frames, &counters, &shared.options) => ended,
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
            match decode_frame_sized(&mut buffer, max_frame) {
                Ok(Some((message, size))) => {
                    counters
                        .uncompressed_in
                        .fetch_add(size.logical as u64, Ordering::Relaxed);
                    if let Message::HelloAck(ack) = &message {
                        // The peer's answer carries what both sides share.
                        counters.record_capabilities(ack.capabilities);
                    }
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
    options: &super::MeshOptions,
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
        let written = counters.batcher(options).write(&batch, &mut out);
        if let Err(error) = writer.write_all(&out).await {
            return Ended::Remote(format!("write failed: {error}"));
        }
        counters
            .bytes_out
            .fetch_add(written.size.wire as u64, Ordering::Relaxed);
        counters
            .uncompressed_out
            .fetch_add(written.size.logical as u64, Ordering::Relaxed);
        counters
            .frames_out
            .fetch_add(written.frames as u64, Ordering::Relaxed);
    }
}
