//! Stream maintenance: retention and compaction on a timer, until the node stops.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use weft_broker::Broker;

use super::wait_for_stop;

/// How often stream retention and compaction run (and once at start).
pub(super) const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(30);

/// Starts the maintenance task; it ends when `stopped` turns true.
pub(super) fn spawn(broker: Broker, stopped: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(maintain(broker, stopped))
}

/// Applies retention and compaction to every stream now and every
/// [`MAINTENANCE_INTERVAL`], until the node stops.
async fn maintain(broker: Broker, stopped: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(MAINTENANCE_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = wait_for_stop(stopped.clone()) => return,
        }
        broker.maintain_streams().await;
    }
}
