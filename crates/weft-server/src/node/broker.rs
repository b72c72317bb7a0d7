//! The broker and its streams (`<data_dir>/streams`): the one place a node constructs
//! them, so a change to how they are built stays here.

use std::sync::Arc;

use weft_broker::{AllowAll, Broker, StreamsOptions};

use super::StartError;
use crate::config::Config;

/// Opens the broker with the streams in `<data_dir>/streams`.
pub(super) async fn open(config: &Config) -> Result<Broker, StartError> {
    let streams_dir = config.data_dir.join("streams");
    let options = StreamsOptions {
        node: Arc::from(config.node_name.to_string()),
        ..StreamsOptions::default()
    };
    Broker::open(Arc::new(AllowAll), streams_dir.clone(), options)
        .await
        .map_err(|source| StartError::Streams {
            path: streams_dir,
            source,
        })
}
