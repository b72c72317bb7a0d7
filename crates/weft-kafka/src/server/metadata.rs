//! Metadata, DescribeCluster and FindCoordinator: weft as a one-node cluster.
//!
//! Every stream is a topic; this node leads every partition, is the only replica, the
//! controller and every group's coordinator. A Metadata request for a missing topic
//! creates it (a stream capturing the topic of the same name, with the default partition
//! count) when both the request and [`super::KafkaConfig::auto_create_topics`] allow it.
//! Topic ids are derived from the name, so they are stable across restarts.

use uuid::Uuid;
use weft_broker::{StreamConfig, StreamError, StreamName};
use weft_core::Filter;

use super::errors::stream_error;
use super::{Caller, Session};
use crate::protocol::{
    Coordinator, DescribeClusterBroker, DescribeClusterResponse, ErrorCode, FindCoordinatorRequest,
    FindCoordinatorResponse, MetadataRequest, MetadataResponse, MetadataResponseBroker,
    MetadataResponsePartition, MetadataResponseTopic,
};

pub(super) async fn metadata(
    context: &Caller<'_>,
    _session: &Session,
    request: MetadataRequest,
    version: i16,
) -> MetadataResponse {
    let config = context.config();
    let names: Vec<String> = match request.topics {
        // v0 sends an empty list for "every topic"; later versions send null.
        None => all_topics(context).await,
        Some(topics) if topics.is_empty() && version == 0 => all_topics(context).await,
        Some(topics) => topics.into_iter().filter_map(|topic| topic.name).collect(),
    };
    let auto_create =
        config.auto_create_topics && (version < 4 || request.allow_auto_topic_creation);
    let mut topics = Vec::with_capacity(names.len());
    for name in names {
        topics.push(describe_topic(context, name, auto_create).await);
    }
    MetadataResponse {
        throttle_time_ms: 0,
        brokers: vec![MetadataResponseBroker {
            node_id: config.node_id,
            host: config.advertised_host.clone(),
            port: i32::from(config.advertised_port),
            rack: None,
        }],
        cluster_id: Some(config.cluster_id.clone()),
        controller_id: config.node_id,
        topics,
        ..Default::default()
    }
}

async fn all_topics(context: &Caller<'_>) -> Vec<String> {
    context
        .broker()
        .list_streams(context.principal())
        .await
        .into_iter()
        .map(|info| info.config.name.to_string())
        .collect()
}

async fn describe_topic(
    context: &Caller<'_>,
    name: String,
    auto_create: bool,
) -> MetadataResponseTopic {
    let mut topic = MetadataResponseTopic {
        name: name.clone(),
        ..Default::default()
    };
    let stream = match StreamName::new(name.clone()) {
        Ok(stream) => stream,
        Err(_) => {
            topic.error_code = ErrorCode::INVALID_TOPIC_EXCEPTION;
            return topic;
        }
    };
    topic.topic_id = topic_id(&stream);
    let mut count = context
        .broker()
        .partition_count(context.principal(), &stream);
    if matches!(count, Err(StreamError::NotFound { .. })) && auto_create {
        count = create_default(context, &stream).await;
    }
    match count {
        Ok(count) => {
            let node = context.config().node_id;
            topic.partitions = (0..count)
                .map(|index| MetadataResponsePartition {
                    partition_index: i32::try_from(index).unwrap_or(i32::MAX),
                    leader_id: node,
                    leader_epoch: 0,
                    replica_nodes: vec![node],
                    isr_nodes: vec![node],
                    ..Default::default()
                })
                .collect();
        }
        Err(error) => topic.error_code = stream_error(&error),
    }
    topic
}

/// Creates the stream behind an auto-created topic; its partition count.
pub(super) async fn create_default(
    context: &Caller<'_>,
    stream: &StreamName,
) -> Result<u32, StreamError> {
    let config = default_stream(stream, context.config().default_partitions)?;
    match context
        .broker()
        .create_stream(context.principal(), config)
        .await
    {
        Ok(info) => {
            tracing::info!(topic = %stream, "kafka topic auto-created");
            Ok(info.partitions.len() as u32)
        }
        // Created concurrently by another connection: use it.
        Err(StreamError::AlreadyExists { .. }) => context
            .broker()
            .partition_count(context.principal(), stream),
        Err(error) => Err(error),
    }
}

/// The stream behind a Kafka topic: it captures the topic of the same name.
pub(super) fn default_stream(
    stream: &StreamName,
    partitions: u32,
) -> Result<StreamConfig, StreamError> {
    let filter = Filter::new(stream.as_str()).map_err(|error| StreamError::Invalid {
        reason: format!("topic {stream} is not a valid weft topic: {error}"),
    })?;
    let mut config = StreamConfig::new(stream.clone(), vec![filter]);
    config.partitions = partitions.max(1);
    Ok(config)
}

/// A stable id for a topic name (two FNV-1a hashes; never the nil or the sentinel id).
pub(super) fn topic_id(stream: &StreamName) -> Uuid {
    let hash = |seed: u64| {
        stream.as_str().bytes().fold(seed, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let high = hash(0xcbf2_9ce4_8422_2325);
    let low = hash(0x8422_2325_cbf2_9ce4) | 1;
    Uuid::from_u64_pair(high, low)
}

pub(super) fn describe_cluster(context: &Caller<'_>) -> DescribeClusterResponse {
    let config = context.config();
    DescribeClusterResponse {
        cluster_id: config.cluster_id.clone(),
        controller_id: config.node_id,
        brokers: vec![DescribeClusterBroker {
            broker_id: config.node_id,
            host: config.advertised_host.clone(),
            port: i32::from(config.advertised_port),
            rack: None,
        }],
        ..Default::default()
    }
}

pub(super) fn find_coordinator(
    context: &Caller<'_>,
    request: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let config = context.config();
    let port = i32::from(config.advertised_port);
    if version >= 4 {
        return FindCoordinatorResponse {
            coordinators: request
                .coordinator_keys
                .into_iter()
                .map(|key| Coordinator {
                    key,
                    node_id: config.node_id,
                    host: config.advertised_host.clone(),
                    port,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
    }
    FindCoordinatorResponse {
        node_id: config.node_id,
        host: config.advertised_host.clone(),
        port,
        ..Default::default()
    }
}
