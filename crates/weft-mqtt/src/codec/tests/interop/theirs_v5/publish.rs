//! PUBLISH ↔ mqttbytes.

use mqttbytes::v5 as theirs;

use super::{qos, their_qos};
use crate::codec::*;

pub(super) fn publish(theirs: theirs::Publish) -> Publish {
    Publish {
        dup: theirs.dup,
        qos: qos(theirs.qos),
        retain: theirs.retain,
        topic: theirs.topic,
        packet_id: (theirs.qos != mqttbytes::QoS::AtMostOnce).then_some(theirs.pkid),
        properties: theirs
            .properties
            .map_or_else(Properties::default, |p| Properties {
                payload_format_indicator: p.payload_format_indicator,
                message_expiry_interval: p.message_expiry_interval,
                topic_alias: p.topic_alias,
                response_topic: p.response_topic,
                correlation_data: p.correlation_data,
                user_properties: p.user_properties,
                subscription_identifiers: p
                    .subscription_identifiers
                    .into_iter()
                    .map(|id| u32::try_from(id).unwrap())
                    .collect(),
                content_type: p.content_type,
                ..Properties::default()
            }),
        payload: theirs.payload,
    }
}

pub(super) fn publish_to_theirs(publish: &Publish) -> theirs::Publish {
    let p = &publish.properties;
    theirs::Publish {
        dup: publish.dup,
        qos: their_qos(publish.qos),
        retain: publish.retain,
        topic: publish.topic.clone(),
        pkid: publish.packet_id.unwrap_or(0),
        properties: (!p.is_empty()).then(|| theirs::PublishProperties {
            payload_format_indicator: p.payload_format_indicator,
            message_expiry_interval: p.message_expiry_interval,
            topic_alias: p.topic_alias,
            response_topic: p.response_topic.clone(),
            correlation_data: p.correlation_data.clone(),
            user_properties: p.user_properties.clone(),
            subscription_identifiers: p
                .subscription_identifiers
                .iter()
                .map(|&id| id as usize)
                .collect(),
            content_type: p.content_type.clone(),
        }),
        payload: publish.payload.clone(),
    }
}
