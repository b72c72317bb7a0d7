//! CONNECT and CONNACK ↔ mqttbytes.

use bytes::Bytes;
use mqttbytes::v5 as theirs;

use super::{CONNACK, pick, qos, reason, their_qos};
use crate::codec::*;

pub(super) fn connect(theirs: theirs::Connect) -> Connect {
    let properties = theirs
        .properties
        .map_or_else(Properties::default, |p| Properties {
            session_expiry_interval: p.session_expiry_interval,
            receive_maximum: p.receive_maximum,
            maximum_packet_size: p.max_packet_size,
            topic_alias_maximum: p.topic_alias_max,
            request_response_information: p.request_response_info,
            request_problem_information: p.request_problem_info,
            user_properties: p.user_properties,
            authentication_method: p.authentication_method,
            authentication_data: p.authentication_data,
            ..Properties::default()
        });
    let will = theirs.last_will.map(|will| LastWill {
        topic: will.topic,
        payload: will.message,
        qos: qos(will.qos),
        retain: will.retain,
        properties: will
            .properties
            .map_or_else(Properties::default, |p| Properties {
                will_delay_interval: p.delay_interval,
                payload_format_indicator: p.payload_format_indicator,
                message_expiry_interval: p.message_expiry_interval,
                content_type: p.content_type,
                response_topic: p.response_topic,
                correlation_data: p.correlation_data,
                user_properties: p.user_properties,
                ..Properties::default()
            }),
    });
    // mqttbytes keeps credentials as two strings, empty meaning absent.
    let (username, password) = match theirs.login {
        Some(login) => (
            (!login.username.is_empty()).then_some(login.username),
            (!login.password.is_empty()).then(|| Bytes::from(login.password)),
        ),
        None => (None, None),
    };
    Connect {
        version: match theirs.protocol {
            mqttbytes::Protocol::V4 => ProtocolVersion::V311,
            mqttbytes::Protocol::V5 => ProtocolVersion::V5,
        },
        clean_start: theirs.clean_session,
        keep_alive: theirs.keep_alive,
        properties,
        client_id: theirs.client_id,
        will,
        username,
        password,
    }
}

pub(super) fn connect_to_theirs(connect: &Connect) -> theirs::Connect {
    let p = &connect.properties;
    let will = connect.will.as_ref().map(|will| {
        let w = &will.properties;
        theirs::LastWill {
            topic: will.topic.clone(),
            message: will.payload.clone(),
            qos: their_qos(will.qos),
            retain: will.retain,
            properties: (!w.is_empty()).then(|| theirs::WillProperties {
                delay_interval: w.will_delay_interval,
                payload_format_indicator: w.payload_format_indicator,
                message_expiry_interval: w.message_expiry_interval,
                content_type: w.content_type.clone(),
                response_topic: w.response_topic.clone(),
                correlation_data: w.correlation_data.clone(),
                user_properties: w.user_properties.clone(),
            }),
        }
    });
    let login = (connect.username.is_some() || connect.password.is_some()).then(|| theirs::Login {
        username: connect.username.clone().unwrap_or_default(),
        password: connect
            .password
            .as_ref()
            .map(|password| String::from_utf8(password.to_vec()).unwrap())
            .unwrap_or_default(),
    });
    theirs::Connect {
        protocol: mqttbytes::Protocol::V5,
        keep_alive: connect.keep_alive,
        client_id: connect.client_id.clone(),
        clean_session: connect.clean_start,
        last_will: will,
        login,
        properties: (!p.is_empty()).then(|| theirs::ConnectProperties {
            session_expiry_interval: p.session_expiry_interval,
            receive_maximum: p.receive_maximum,
            max_packet_size: p.maximum_packet_size,
            topic_alias_max: p.topic_alias_maximum,
            request_response_info: p.request_response_information,
            request_problem_info: p.request_problem_information,
            user_properties: p.user_properties.clone(),
            authentication_method: p.authentication_method.clone(),
            authentication_data: p.authentication_data.clone(),
        }),
    }
}

pub(super) fn connack(theirs: theirs::ConnAck) -> ConnAck {
    ConnAck {
        session_present: theirs.session_present,
        code: reason(theirs.code as u8),
        properties: theirs
            .properties
            .map_or_else(Properties::default, |p| Properties {
                session_expiry_interval: p.session_expiry_interval,
                receive_maximum: p.receive_max,
                maximum_qos: p.max_qos,
                retain_available: p.retain_available,
                maximum_packet_size: p.max_packet_size,
                assigned_client_identifier: p.assigned_client_identifier,
                topic_alias_maximum: p.topic_alias_max,
                reason_string: p.reason_string,
                user_properties: p.user_properties,
                wildcard_subscription_available: p.wildcard_subscription_available,
                subscription_identifier_available: p.subscription_identifiers_available,
                shared_subscription_available: p.shared_subscription_available,
                server_keep_alive: p.server_keep_alive,
                response_information: p.response_information,
                server_reference: p.server_reference,
                authentication_method: p.authentication_method,
                authentication_data: p.authentication_data,
                ..Properties::default()
            }),
    }
}

pub(super) fn connack_to_theirs(connack: &ConnAck) -> theirs::ConnAck {
    let p = &connack.properties;
    // Always `Some`: with `None` mqttbytes leaves the property length out of CONNACK,
    // which MQTT 5.0 section 3.2.2.3 requires (a quirk of mqttbytes, not of the spec).
    let properties = theirs::ConnAckProperties {
        session_expiry_interval: p.session_expiry_interval,
        receive_max: p.receive_maximum,
        max_qos: p.maximum_qos,
        retain_available: p.retain_available,
        max_packet_size: p.maximum_packet_size,
        assigned_client_identifier: p.assigned_client_identifier.clone(),
        topic_alias_max: p.topic_alias_maximum,
        reason_string: p.reason_string.clone(),
        user_properties: p.user_properties.clone(),
        wildcard_subscription_available: p.wildcard_subscription_available,
        subscription_identifiers_available: p.subscription_identifier_available,
        shared_subscription_available: p.shared_subscription_available,
        server_keep_alive: p.server_keep_alive,
        response_information: p.response_information.clone(),
        server_reference: p.server_reference.clone(),
        authentication_method: p.authentication_method.clone(),
        authentication_data: p.authentication_data.clone(),
    };
    theirs::ConnAck {
        session_present: connack.session_present,
        code: pick(CONNACK, connack.code),
        properties: Some(properties),
    }
}
