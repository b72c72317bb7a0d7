//! The broker and its streams (`<data_dir>/streams`): the one place a node constructs
//! them, so a change to how they are built stays here.

use std::sync::Arc;

use weft_broker::state::Disk;
use weft_broker::{AllowAll, Broker, StreamsOptions};

use super::StartError;
use crate::config::Config;

/// Opens the broker with the streams in `<data_dir>/streams`, on `disk`: the node's
/// disk, which the broker then hands the other components their parts of
/// (`Broker::state_dir`).
pub(super) async fn open(config: &Config, disk: Arc<dyn Disk>) -> Result<Broker, StartError> {
    let streams_dir = config.data_dir.join("streams");
    let options = StreamsOptions {
        node: Arc::from(config.node_name.to_string()),
        ..StreamsOptions::on_disk(disk)
    };
    Broker::open(Arc::new(AllowAll), streams_dir.clone(), options)
        .await
        .map_err(|source| StartError::Streams {
            path: streams_dir,
            source,
        })
}
