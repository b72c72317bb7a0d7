//! Topic administration: CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs
//! and IncrementalAlterConfigs, as operations on streams.

use weft_broker::{StreamConfig, StreamError, StreamName};

use super::Caller;
use super::configs::{self, ConfigRejected, DescribedConfig};
use super::errors::{error_chain, stream_error};
use super::metadata::{default_stream, topic_id};
use crate::protocol::{
    AlterConfigsResourceResponse, CreatableTopic, CreatableTopicConfigs, CreatableTopicResult,
    CreatePartitionsRequest, CreatePartitionsResponse, CreatePartitionsTopicResult,
    CreateTopicsRequest, CreateTopicsResponse, DeletableTopicResult, DeleteTopicsRequest,
    DeleteTopicsResponse, DescribeConfigsRequest, DescribeConfigsResourceResult,
    DescribeConfigsResponse, DescribeConfigsResult, ErrorCode, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
};

/// DescribeConfigs / IncrementalAlterConfigs resource types.
const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;

pub(super) async fn create_topics(
    context: &Caller<'_>,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        topics.push(create_topic(context, topic, request.validate_only).await);
    }
    CreateTopicsResponse {
        throttle_time_ms: 0,
        topics,
    }
}

async fn create_topic(
    context: &Caller<'_>,
    topic: CreatableTopic,
    validate_only: bool,
) -> CreatableTopicResult {
    let mut result = CreatableTopicResult {
        name: topic.name.clone(),
        ..Default::default()
    };
    let fail = |mut result: CreatableTopicResult, code: ErrorCode, message: String| {
        result.error_code = code;
        result.error_message = Some(message);
        result
    };
    let stream = match StreamName::new(topic.name.clone()) {
        Ok(stream) => stream,
        Err(error) => {
            return fail(
                result,
                ErrorCode::INVALID_TOPIC_EXCEPTION,
                error.to_string(),
            );
        }
    };
    if !matches!(topic.replication_factor, -1 | 1) {
        return fail(
            result,
            ErrorCode::INVALID_REPLICATION_FACTOR,
            format!(
                "replication factor {} is not available: weft keeps one copy per node",
                topic.replication_factor
            ),
        );
    }
    if !topic.assignments.is_empty() {
        return fail(
            result,
            ErrorCode::INVALID_REPLICA_ASSIGNMENT,
            "replica assignments are not supported".to_owned(),
        );
    }
    let partitions = match topic.num_partitions {
        -1 => context.config().default_partitions,
        count => match u32::try_from(count) {
            Ok(count) if count > 0 => count,
            _ => {
                return fail(
                    result,
                    ErrorCode::INVALID_PARTITIONS,
                    format!("{count} partitions"),
                );
            }
        },
    };
    let mut config = match default_stream(&stream, partitions) {
        Ok(config) => config,
        Err(error) => {
            return fail(
                result,
                ErrorCode::INVALID_TOPIC_EXCEPTION,
                error.to_string(),
            );
        }
    };
    for entry in &topic.configs {
        if let Err(ConfigRejected(message)) =
            configs::apply(&mut config, &entry.name, entry.value.as_deref(), true)
        {
            return fail(result, ErrorCode::INVALID_CONFIG, message);
        }
    }
    if let Err(error) = config.validate() {
        return fail(result, ErrorCode::INVALID_REQUEST, error.to_string());
    }
    if context
        .broker()
        .partition_count(context.principal(), &stream)
        .is_ok()
    {
        return fail(
            result,
            ErrorCode::TOPIC_ALREADY_EXISTS,
            format!("topic {stream} already exists"),
        );
    }
    if !validate_only
        && let Err(error) = context
            .broker()
            .create_stream(context.principal(), config.clone())
            .await
    {
        return fail(result, stream_error(&error), error_chain(&error));
    }
    result.topic_id = topic_id(&stream);
    result.num_partitions = i32::try_from(config.partitions).unwrap_or(i32::MAX);
    result.replication_factor = 1;
    result.configs = Some(
        configs::describe_topic(&config)
            .into_iter()
            .map(|described| CreatableTopicConfigs {
                name: described.name.to_owned(),
                value: Some(described.value.clone()),
                read_only: described.read_only,
                config_source: described.source(),
                is_sensitive: false,
            })
            .collect(),
    );
    result
}

pub(super) async fn delete_topics(
    context: &Caller<'_>,
    request: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    // v6 names topics by name or id; earlier versions by name.
    let mut wanted: Vec<(Option<String>, uuid::Uuid)> = request
        .topic_names
        .into_iter()
        .map(|name| (Some(name), uuid::Uuid::nil()))
        .collect();
    wanted.extend(
        request
            .topics
            .into_iter()
            .map(|topic| (topic.name, topic.topic_id)),
    );
    let known: Vec<StreamName> = context
        .broker()
        .list_streams(context.principal())
        .await
        .into_iter()
        .map(|info| info.config.name)
        .collect();
    let mut responses = Vec::with_capacity(wanted.len());
    for (name, id) in wanted {
        let stream = match &name {
            Some(name) => StreamName::new(name.clone()).ok(),
            None => known.iter().find(|stream| topic_id(stream) == id).cloned(),
        };
        let mut response = DeletableTopicResult {
            name: name
                .clone()
                .or_else(|| stream.as_ref().map(ToString::to_string)),
            topic_id: id,
            ..Default::default()
        };
        match stream {
            None if name.is_none() => response.error_code = ErrorCode::UNKNOWN_TOPIC_ID,
            None => response.error_code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            Some(stream) => match context
                .broker()
                .delete_stream(context.principal(), &stream)
                .await
            {
                Ok(()) => {
                    response.topic_id = topic_id(&stream);
                    if let Err(error) = context.groups().delete_topic_offsets(stream.as_str()).await
                    {
                        tracing::warn!(%error, topic = %stream, "committed offsets of a deleted topic not removed");
                    }
                }
                Err(error) => {
                    response.error_code = stream_error(&error);
                    response.error_message = Some(error.to_string());
                }
            },
        }
        responses.push(response);
    }
    DeleteTopicsResponse {
        throttle_time_ms: 0,
        responses,
    }
}

pub(super) async fn create_partitions(
    context: &Caller<'_>,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut results = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let mut result = CreatePartitionsTopicResult {
            name: topic.name.clone(),
            ..Default::default()
        };
        let outcome = grow(context, &topic.name, topic.count, request.validate_only).await;
        if let Err((code, message)) = outcome {
            result.error_code = code;
            result.error_message = Some(message);
        }
        results.push(result);
    }
    CreatePartitionsResponse {
        throttle_time_ms: 0,
        results,
    }
}

async fn grow(
    context: &Caller<'_>,
    name: &str,
    count: i32,
    validate_only: bool,
) -> Result<(), (ErrorCode, String)> {
    let stream = StreamName::new(name)
        .map_err(|error| (ErrorCode::INVALID_TOPIC_EXCEPTION, error.to_string()))?;
    let info = context
        .broker()
        .describe_stream(context.principal(), &stream)
        .await
        .map_err(|error| (stream_error(&error), error.to_string()))?;
    let current = info.config.partitions;
    let wanted = u32::try_from(count).unwrap_or(0);
    if wanted <= current {
        return Err((
            ErrorCode::INVALID_PARTITIONS,
            format!("topic {name} has {current} partitions; the count can only grow"),
        ));
    }
    let mut config = info.config;
    config.partitions = wanted;
    config
        .validate()
        .map_err(|error| (ErrorCode::INVALID_PARTITIONS, error.to_string()))?;
    if validate_only {
        return Ok(());
    }
    context
        .broker()
        .update_stream(context.principal(), config)
        .await
        .map(|_| ())
        .map_err(|error| (stream_error(&error), error.to_string()))
}

pub(super) async fn describe_configs(
    context: &Caller<'_>,
    request: DescribeConfigsRequest,
    version: i16,
) -> DescribeConfigsResponse {
    let mut results = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let mut result = DescribeConfigsResult {
            resource_type: resource.resource_type,
            resource_name: resource.resource_name.clone(),
            ..Default::default()
        };
        let described: Result<Vec<DescribedConfig>, (ErrorCode, String)> =
            match resource.resource_type {
                RESOURCE_TOPIC => topic_config(context, &resource.resource_name)
                    .await
                    .map(|config| configs::describe_topic(&config)),
                RESOURCE_BROKER => Ok(configs::describe_broker(
                    context.config().auto_create_topics,
                    context.config().default_partitions,
                )),
                other => Err((
                    ErrorCode::INVALID_REQUEST,
                    format!("resource type {other} is not supported"),
                )),
            };
        match described {
            Ok(configs) => {
                result.configs = configs
                    .into_iter()
                    .filter(|config| {
                        resource
                            .configuration_keys
                            .as_ref()
                            .is_none_or(|keys| keys.iter().any(|key| key == config.name))
                    })
                    .map(|config| DescribeConfigsResourceResult {
                        name: config.name.to_owned(),
                        value: Some(config.value.clone()),
                        read_only: config.read_only,
                        is_default: config.is_default,
                        config_source: config.source(),
                        is_sensitive: false,
                        synonyms: Vec::new(),
                        config_type: config.config_type,
                        documentation: (version >= 3 && request.include_documentation)
                            .then(|| config.documentation.to_owned()),
                    })
                    .collect();
            }
            Err((code, message)) => {
                result.error_code = code;
                result.error_message = Some(message);
            }
        }
        results.push(result);
    }
    DescribeConfigsResponse {
        throttle_time_ms: 0,
        results,
    }
}

async fn topic_config(
    context: &Caller<'_>,
    name: &str,
) -> Result<StreamConfig, (ErrorCode, String)> {
    let stream = StreamName::new(name)
        .map_err(|error| (ErrorCode::INVALID_TOPIC_EXCEPTION, error.to_string()))?;
    context
        .broker()
        .describe_stream(context.principal(), &stream)
        .await
        .map(|info| info.config)
        .map_err(|error| (stream_error(&error), error.to_string()))
}

/// IncrementalAlterConfigs operations.
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;

pub(super) async fn alter_configs(
    context: &Caller<'_>,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let mut response = AlterConfigsResourceResponse {
            resource_type: resource.resource_type,
            resource_name: resource.resource_name.clone(),
            ..Default::default()
        };
        let outcome = alter_one(context, &resource, request.validate_only).await;
        if let Err((code, message)) = outcome {
            response.error_code = code;
            response.error_message = Some(message);
        }
        responses.push(response);
    }
    IncrementalAlterConfigsResponse {
        throttle_time_ms: 0,
        responses,
    }
}

async fn alter_one(
    context: &Caller<'_>,
    resource: &crate::protocol::AlterConfigsResource,
    validate_only: bool,
) -> Result<(), (ErrorCode, String)> {
    if resource.resource_type != RESOURCE_TOPIC {
        return Err((
            ErrorCode::INVALID_REQUEST,
            "only topic configs can be altered".to_owned(),
        ));
    }
    let mut config = topic_config(context, &resource.resource_name).await?;
    for entry in &resource.configs {
        let value = match entry.config_operation {
            OP_SET => entry.value.as_deref(),
            OP_DELETE => None,
            other => {
                return Err((
                    ErrorCode::INVALID_REQUEST,
                    format!(
                        "operation {other} on {} is not supported (only set and delete)",
                        entry.name
                    ),
                ));
            }
        };
        configs::apply(&mut config, &entry.name, value, false)
            .map_err(|ConfigRejected(message)| (ErrorCode::INVALID_CONFIG, message))?;
    }
    if validate_only {
        return config
            .validate()
            .map_err(|error| (ErrorCode::INVALID_CONFIG, error.to_string()));
    }
    context
        .broker()
        .update_stream(context.principal(), config)
        .await
        .map(|_| ())
        .map_err(|error: StreamError| (stream_error(&error), error.to_string()))
}
