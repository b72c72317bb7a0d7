//! A fault-injecting TCP proxy for tests: put it between two nodes and cut, restore,
//! delay or blackhole the connection between them.
//!
//! [`Proxy::start`] listens on `127.0.0.1:0` and forwards every accepted connection to
//! its target. While it is [`cut`](Proxy::cut) every connection is closed and new ones
//! are accepted and closed at once (the peer sees its link go down and its redials
//! fail) until [`restore`](Proxy::restore). [`set_delay`](Proxy::set_delay) holds every
//! chunk of bytes back for a while in both directions (order kept, throughput not
//! limited); [`blackhole`](Proxy::blackhole) keeps connections open but drops every
//! byte, like a path that silently stopped carrying packets.
//!
//! The proxy runs on the caller's tokio runtime; dropping it stops it and closes every
//! connection.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Chunks in flight per direction (delayed bytes wait here).
const IN_FLIGHT: usize = 256;

/// What the proxy does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    /// Forward bytes both ways.
    Forward,
    /// Close every connection; accept new ones and close them at once.
    Down,
    /// Keep connections open, drop every byte.
    Blackhole,
}

#[derive(Debug)]
struct State {
    target: std::sync::Mutex<SocketAddr>,
    mode: watch::Sender<ProxyMode>,
    /// Bumped by every cut: connections of an older generation close.
    generation: watch::Sender<u64>,
    delay_micros: AtomicU64,
    open: AtomicUsize,
    accepted: AtomicU64,
}

/// A TCP proxy between a test's client (or node) and a target address.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    state: Arc<State>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Starts forwarding connections made to [`Proxy::addr`] to `target`.
    pub async fn start(target: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            target: std::sync::Mutex::new(target),
            mode: watch::Sender::new(ProxyMode::Forward),
            generation: watch::Sender::new(0),
            delay_micros: AtomicU64::new(0),
            open: AtomicUsize::new(0),
            accepted: AtomicU64::new(0),
        });
        let accept = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
        Ok(Self {
            addr,
            state,
            accept,
        })
    }

    /// The address to connect to instead of the target.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address new connections are forwarded to.
    pub fn target(&self) -> SocketAddr {
        self.state.target()
    }

    /// Forwards new connections to `target` from now on (a node restarted on another
    /// port); open connections keep theirs.
    pub fn set_target(&self, target: SocketAddr) {
        if let Ok(mut current) = self.state.target.lock() {
            *current = target;
        }
    }

    /// Link down: closes every connection and refuses new ones until [`Self::restore`].
    pub fn cut(&self) {
        self.state.mode.send_replace(ProxyMode::Down);
        self.state
            .generation
            .send_modify(|generation| *generation += 1);
    }

    /// Link up again: forwards new connections (and open ones, after a blackhole).
    pub fn restore(&self) {
        self.state.mode.send_replace(ProxyMode::Forward);
    }

    /// Keeps connections open but drops every byte from now on, both ways.
    pub fn blackhole(&self) {
        self.state.mode.send_replace(ProxyMode::Blackhole);
    }

    /// Holds every chunk back for `delay` in each direction (zero: no delay).
    pub fn set_delay(&self, delay: Duration) {
        let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.state.delay_micros.store(micros, Ordering::Relaxed);
    }

    /// What the proxy does now.
    pub fn mode(&self) -> ProxyMode {
        *self.state.mode.borrow()
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.state.open.load(Ordering::Relaxed)
    }

    /// Connections accepted so far (refused ones included).
    pub fn accepted(&self) -> u64 {
        self.state.accepted.load(Ordering::Relaxed)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        // Closes the open connections.
        self.state
            .generation
            .send_modify(|generation| *generation += 1);
    }
}

impl State {
    fn target(&self) -> SocketAddr {
        match self.target.lock() {
            Ok(target) => *target,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        state.accepted.fetch_add(1, Ordering::Relaxed);
        if *state.mode.borrow() == ProxyMode::Down {
            drop(inbound);
            continue;
        }
        tokio::spawn(connection(inbound, Arc::clone(&state)));
    }
}

/// Counts an open connection while alive.
struct OpenGuard(Arc<State>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn connection(inbound: TcpStream, state: Arc<State>) {
    let mut generation = state.generation.subscribe();
    let born = *generation.borrow_and_update();
    let Ok(outbound) = TcpStream::connect(state.target()).await else {
        return;
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    state.open.fetch_add(1, Ordering::Relaxed);
    let _guard = OpenGuard(Arc::clone(&state));
    let (inbound_read, inbound_write) = inbound.into_split();
    let (outbound_read, outbound_write) = outbound.into_split();
    let both = async {
        tokio::join!(
            direction(inbound_read, outbound_write, &state),
            direction(outbound_read, inbound_write, &state),
        )
    };
    tokio::select! {
        _ = both => {}
        _ = generation.wait_for(|now| *now != born) => {}
    }
}

/// Copies `from` to `to` through a queue, so each chunk can wait out the delay without
/// stopping the reader.
async fn direction(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, state: &State) {
    let (chunks, mut queued) = mpsc::channel::<(Instant, Bytes)>(IN_FLIGHT);
    let read = async move {
        loop {
            let mut buffer = BytesMut::with_capacity(64 * 1024);
            match from.read_buf(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if *state.mode.borrow() == ProxyMode::Blackhole {
                continue;
            }
            let delay = Duration::from_micros(state.delay_micros.load(Ordering::Relaxed));
            if chunks
                .send((Instant::now() + delay, buffer.freeze()))
                .await
                .is_err()
            {
                return;
            }
        }
    };
    let write = async move {
        while let Some((due, chunk)) = queued.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(read, write);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

    use super::*;

    const LIMIT: Duration = Duration::from_secs(5);

    /// An echo server; returns its address.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut read, mut write) = socket.split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                });
            }
        });
        addr
    }

    async fn round_trip(socket: &mut TcpStream, text: &[u8]) -> io::Result<Vec<u8>> {
        socket.write_all(text).await?;
        let mut answer = vec![0; text.len()];
        tokio::time::timeout(LIMIT, socket.read_exact(&mut answer))
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
        Ok(answer)
    }

    /// Whether the peer closed `socket` (end of stream or reset) within the limit.
    async fn closed(socket: &mut TcpStream) -> bool {
        let mut byte = [0u8; 1];
        matches!(
            tokio::time::timeout(LIMIT, socket.read(&mut byte)).await,
            Ok(Ok(0) | Err(_))
        )
    }

    #[tokio::test]
    async fn forwards_bytes_both_ways() {
        let proxy = Proxy::start(echo().await).await.unwrap();
        let mut socket = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut socket, b"hello").await.unwrap(), b"hello");
        assert_eq!(proxy.open_connections(), 1);
        assert_eq!(proxy.accepted(), 1);
    }

    #[tokio::test]
    async fn cut_closes_open_connections_and_refuses_new_ones_until_restored() {
        let proxy = Proxy::start(echo().await).await.unwrap();
        let mut socket = TcpStream::connect(proxy.addr()).await.unwrap();
        round_trip(&mut socket, b"before").await.unwrap();

        proxy.cut();
        assert!(closed(&mut socket).await, "the open connection was closed");
        let mut refused = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(
            closed(&mut refused).await,
            "a new connection is closed at once"
        );
        assert_eq!(proxy.mode(), ProxyMode::Down);

        proxy.restore();
        let mut again = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut again, b"after").await.unwrap(), b"after");
    }

    #[tokio::test]
    async fn delay_holds_bytes_back_in_order() {
        let proxy = Proxy::start(echo().await).await.unwrap();
        proxy.set_delay(Duration::from_millis(300));
        let mut socket = TcpStream::connect(proxy.addr()).await.unwrap();
        let started = std::time::Instant::now();
        socket.write_all(b"one").await.unwrap();
        socket.write_all(b"two").await.unwrap();
        let mut answer = [0u8; 6];
        tokio::time::timeout(LIMIT, socket.read_exact(&mut answer))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&answer, b"onetwo");
        // Delayed on the way there and on the way back.
        assert!(started.elapsed() >= Duration::from_millis(600));

        proxy.set_delay(Duration::ZERO);
        let started = std::time::Instant::now();
        round_trip(&mut socket, b"fast").await.unwrap();
        assert!(started.elapsed() < Duration::from_millis(600));
    }

    #[tokio::test]
    async fn blackhole_keeps_the_connection_but_drops_bytes() {
        let proxy = Proxy::start(echo().await).await.unwrap();
        let mut socket = TcpStream::connect(proxy.addr()).await.unwrap();
        round_trip(&mut socket, b"before").await.unwrap();

        proxy.blackhole();
        socket.write_all(b"lost").await.unwrap();
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_millis(200), socket.read(&mut byte)).await;
        assert!(read.is_err(), "nothing comes back: {read:?}");
        assert_eq!(proxy.open_connections(), 1);

        proxy.restore();
        assert_eq!(round_trip(&mut socket, b"again").await.unwrap(), b"again");
    }

    #[tokio::test]
    async fn new_connections_go_to_a_new_target() {
        let proxy = Proxy::start(echo().await).await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        proxy.set_target(listener.local_addr().unwrap());
        assert_eq!(proxy.target(), listener.local_addr().unwrap());
        let _socket = TcpStream::connect(proxy.addr()).await.unwrap();
        let accepted = tokio::time::timeout(LIMIT, listener.accept()).await;
        assert!(
            matches!(accepted, Ok(Ok(_))),
            "the new target got the connection"
        );
    }

    #[tokio::test]
    async fn dropping_the_proxy_closes_its_connections() {
        let proxy = Proxy::start(echo().await).await.unwrap();
        let mut socket = TcpStream::connect(proxy.addr()).await.unwrap();
        round_trip(&mut socket, b"hello").await.unwrap();
        drop(proxy);
        assert!(closed(&mut socket).await);
    }
}
