//! A connection's bytes: the socket (or another byte stream) and its buffers, kept
//! small while the connection is idle.
//!
//! A TCP connection reads into a scratch buffer of the worker thread and copies what it
//! read into its input buffer, which is dropped whenever every packet in it was decoded:
//! an idle connection holds no read buffer. Writes are tried at once without waiting
//! (`try_write`); only a socket that cannot take everything waits, in a boxed future.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// Bytes a TCP connection reads at a time (into the thread's scratch buffer).
const READ_CHUNK: usize = 64 * 1024;
/// A TCP read spends one unit of the task's scheduling budget per this many bytes.
const BUDGET_BYTES: usize = 4096;
/// Bytes another byte stream reads at a time (into the connection's own buffer).
const STREAM_READ_CHUNK: usize = 2048;
/// An output buffer bigger than this is dropped once written.
const KEEP_OUTPUT: usize = 512;
/// How long a connection the server closed waits for the client to close its side.
const LINGER: Duration = Duration::from_secs(2);
/// How long a write may take before the client is considered gone.
pub(super) const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

thread_local! {
    /// Where TCP connections on this thread read into before copying what they got.
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_CHUNK].into_boxed_slice());
}

/// Any byte stream a session can run on (a WebSocket bridged to bytes, a test pipe).
pub(crate) trait ByteStream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<S: AsyncRead + AsyncWrite + Send + Unpin> ByteStream for S {}

/// Where a connection's bytes come from and go to.
pub(super) enum Transport {
    /// A TCP socket, read with `readable` + `try_read` and written with `try_write`.
    Tcp(TcpStream),
    /// Another byte stream (MQTT over WebSocket). `_closed` is dropped with the
    /// connection, which ends [`serve_connection`](crate::server::serve_connection).
    Stream {
        /// Only ever used through `&mut` (`get_mut`, never locked): the mutex makes the
        /// task `Sync` without asking the stream to be.
        stream: std::sync::Mutex<Box<dyn ByteStream>>,
        _closed: oneshot::Sender<()>,
    },
}

fn stream_mut(stream: &mut std::sync::Mutex<Box<dyn ByteStream>>) -> &mut Box<dyn ByteStream> {
    // Never locked, so never poisoned; `into_inner` keeps this total anyway.
    stream
        .get_mut()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Who is on the other end, for logs.
pub(crate) enum Peer {
    /// A TCP client.
    Tcp(SocketAddr),
    /// A client on another transport, as that transport names it (`ws://1.2.3.4:5`).
    Named(Box<str>),
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Tcp(address) => write!(f, "{address}"),
            Peer::Named(name) => f.write_str(name),
        }
    }
}

/// The network side of a connected session.
pub(super) struct Connection {
    pub(super) transport: Transport,
    /// Bytes read and not decoded yet (empty and unallocated between packets).
    pub(super) input: BytesMut,
    /// Encoded packets not written yet.
    pub(super) output: BytesMut,
    /// False after a decode error: the session is closing the connection.
    pub(super) reading: bool,
    /// Scheduling budget units still to spend for the last read (see `read_some`).
    budget_owed: usize,
}

/// What [`Connection::try_flush`] managed.
pub(super) enum Flushed {
    /// Everything was written.
    Done,
    /// The socket is full: the rest must be written by [`Connection::write_rest`].
    Blocked,
}

impl Connection {
    pub(super) fn new(transport: Transport) -> Self {
        Self {
            transport,
            input: BytesMut::new(),
            output: BytesMut::new(),
            reading: true,
            budget_owed: 0,
        }
    }

    /// Reads more bytes into `input`; pending forever when the connection is not
    /// reading. Cancel-safe: nothing is read before the socket is readable.
    pub(super) async fn read_some(&mut self) -> io::Result<usize> {
        if !self.reading {
            return std::future::pending().await;
        }
        match &mut self.transport {
            Transport::Tcp(socket) => loop {
                // `readable` + `try_read` never use up the task's scheduling budget, so
                // a connection that always has input would never yield and would
                // starve the subscribers it wakes on the same worker. Spending budget
                // here (before anything is read, so cancelling is harmless) makes it
                // yield in turn: one unit per `BUDGET_BYTES` of the previous read, so a
                // big read costs what several small ones would.
                while self.budget_owed > 0 {
                    tokio::task::consume_budget().await;
                    self.budget_owed -= 1;
                }
                tokio::task::consume_budget().await;
                socket.readable().await?;
                let read = SCRATCH.with(|scratch| {
                    let mut scratch = scratch.borrow_mut();
                    let read = socket.try_read(&mut scratch)?;
                    self.input.extend_from_slice(&scratch[..read]);
                    Ok::<_, io::Error>(read)
                });
                match read {
                    Ok(read) => {
                        self.budget_owed = read / BUDGET_BYTES;
                        return Ok(read);
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(error) => return Err(error),
                }
            },
            // `read_buf` is cancel safe: bytes read before the select picks another
            // branch stay in `input`.
            Transport::Stream { stream, .. } => {
                self.input.reserve(STREAM_READ_CHUNK);
                stream_mut(stream).read_buf(&mut self.input).await
            }
        }
    }

    /// Drops the input buffer once every byte in it was decoded.
    pub(super) fn release_input(&mut self) {
        if self.input.is_empty() && self.input.capacity() > 0 {
            self.input = BytesMut::new();
        }
    }

    /// Writes as much of `output` as the socket takes without waiting.
    pub(super) fn try_flush(&mut self) -> io::Result<Flushed> {
        let Transport::Tcp(socket) = &self.transport else {
            return Ok(Flushed::Blocked);
        };
        while !self.output.is_empty() {
            match socket.try_write(&self.output) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(written) => {
                    let _ = self.output.split_to(written);
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    return Ok(Flushed::Blocked);
                }
                Err(error) => return Err(error),
            }
        }
        self.written();
        Ok(Flushed::Done)
    }

    /// Writes the rest of `output`, waiting for the socket (and flushes a buffered
    /// stream), within [`WRITE_TIMEOUT`].
    pub(super) async fn write_rest(&mut self) -> io::Result<()> {
        let write = async {
            match &mut self.transport {
                Transport::Tcp(socket) => socket.write_all(&self.output).await,
                Transport::Stream { stream, .. } => {
                    let stream = stream_mut(stream);
                    stream.write_all(&self.output).await?;
                    stream.flush().await
                }
            }
        };
        let written = tokio::time::timeout(WRITE_TIMEOUT, write)
            .await
            .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out")));
        self.output.clear();
        self.written();
        written
    }

    fn written(&mut self) {
        if self.output.capacity() > KEEP_OUTPUT {
            self.output = BytesMut::new();
        }
    }

    /// After the server closed the write side: reads and discards what the client
    /// still sends until it closes its side too, for at most [`LINGER`], then drops the
    /// connection. Closing a socket with unread input makes the kernel answer with a
    /// reset, and a client still writing (a burst of publishes past the Receive
    /// Maximum) would then get a broken pipe, and might lose the DISCONNECT that says
    /// why, instead of reading it and an orderly end of stream.
    pub(super) async fn linger(mut self) {
        let mut discard = vec![0; STREAM_READ_CHUNK];
        let drain = async {
            loop {
                let read = match &mut self.transport {
                    Transport::Tcp(socket) => socket.read(&mut discard).await,
                    Transport::Stream { stream, .. } => stream_mut(stream).read(&mut discard).await,
                };
                if !matches!(read, Ok(read) if read > 0) {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(LINGER, drain).await;
    }

    /// Closes the write side.
    pub(super) async fn shutdown(&mut self) -> io::Result<()> {
        match &mut self.transport {
            Transport::Tcp(socket) => socket.shutdown().await,
            Transport::Stream { stream, .. } => stream_mut(stream).shutdown().await,
        }
    }
}
