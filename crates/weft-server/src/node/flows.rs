//! Flows in the node: the controller with the stored flows, and the GitOps directory.

use tokio::sync::watch;
use tokio::task::JoinHandle;
use weft_broker::Broker;
use weft_flow::Controller;

use super::StartError;
use crate::config::Config;

/// Opens the controller and starts the stored flows (`<data_dir>/flows`).
pub(super) async fn open(config: &Config, broker: &Broker) -> Result<Controller, StartError> {
    crate::flows::open(config, broker)
        .await
        .map_err(|source| StartError::Flows {
            path: config.data_dir.join("flows"),
            source,
        })
}

/// Applies the `--resources` directory (and watches it with `--watch`), if there is one.
pub(super) async fn start_gitops(
    config: &Config,
    flows: &Controller,
    stopped: &watch::Receiver<bool>,
) -> Option<JoinHandle<()>> {
    let dir = config.flows.resources.as_ref()?;
    crate::flows::start_gitops(flows, dir, config.flows.watch, stopped.clone()).await
}

/// The flows' evaluation threads for `/v1/node`: how many run jq programs, and how many
/// of them were given up past a route's budget (they end with the process).
pub(super) fn counters() -> weft_http::CounterSource {
    weft_http::CounterSource(std::sync::Arc::new(|| {
        let pool = weft_flow::EvaluationPool::shared();
        [
            ("flows_evaluation_threads", pool.threads() as u64),
            ("flows_evaluations_abandoned", pool.abandoned() as u64),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }))
}
