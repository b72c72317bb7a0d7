//! The broker and its streams (`<data_dir>/streams`): the one place a node constructs
//! them, so a change to how they are built stays here.

use std::sync::Arc;

use weft_broker::stream::StreamsOptions;
use weft_broker::{AllowAll, Broker, Streams};

use super::StartError;
use crate::config::Config;

/// Opens the streams in `<data_dir>/streams` and the broker in front of them.
pub(super) async fn open(config: &Config) -> Result<(Broker, Streams), StartError> {
    let streams_dir = config.data_dir.join("streams");
    let options = StreamsOptions {
        node: Arc::from(config.node_name.to_string()),
        ..StreamsOptions::default()
    };
    let streams = Streams::open_with(streams_dir.clone(), options)
        .await
        .map_err(|source| StartError::Streams {
            path: streams_dir,
            source,
        })?;
    let broker = Broker::with_streams(Arc::new(AllowAll), streams.clone());
    Ok((broker, streams))
}
