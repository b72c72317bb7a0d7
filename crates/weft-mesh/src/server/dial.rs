//! Outgoing links: dial a join address, run the link, redial with backoff and jitter.

use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use super::owner::Command;
use super::{LinkDirection, MeshHandle, connection};

/// Dials `addr` until the node stops. The delay doubles from `reconnect_min` to
/// `reconnect_max` after each attempt that did not establish a link, and is reset by one
/// that did; each delay is drawn uniformly from its upper half (jitter).
pub(crate) async fn run(handle: MeshHandle, addr: SocketAddr) {
    let options = handle.shared().options.clone();
    let mut stopped = handle.shared().stopped.clone();
    let mut backoff = options.reconnect_min;
    let random = RandomState::new();
    let mut attempt: u64 = 0;
    loop {
        if *stopped.borrow() {
            return;
        }
        attempt += 1;
        let connected =
            tokio::time::timeout(options.connect_timeout, TcpStream::connect(addr)).await;
        let established = match connected {
            Ok(Ok(socket)) => {
                let _ = socket.set_nodelay(true);
                connection::run(
                    socket,
                    addr,
                    handle.clone(),
                    LinkDirection::Outbound,
                    Some(addr),
                )
                .await
            }
            Ok(Err(error)) => {
                report(&handle, addr, format!("connect failed: {error}")).await;
                false
            }
            Err(_) => {
                report(&handle, addr, "connect timed out".to_owned()).await;
                false
            }
        };
        if established {
            backoff = options.reconnect_min;
        }
        let delay = jitter(backoff, random.hash_one(attempt));
        backoff = (backoff * 2).min(options.reconnect_max);
        tracing::debug!(%addr, delay_ms = delay.as_millis() as u64, "mesh redial scheduled");
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
    }
}

async fn report(handle: &MeshHandle, addr: SocketAddr, error: String) {
    tracing::debug!(%addr, %error, "mesh join attempt failed");
    let _ = handle.command(Command::JoinFailed { addr, error }).await;
}

/// A delay in `[backoff / 2, backoff]`, chosen by `random`.
fn jitter(backoff: Duration, random: u64) -> Duration {
    let half = backoff / 2;
    let span = half.as_micros().max(1) as u64;
    half + Duration::from_micros(random % (span + 1))
}
