//! SUBSCRIBE/UNSUBSCRIBE and how subscriptions shape deliveries.

use std::sync::Arc;

use super::*;
use crate::codec::{RetainHandling, Unsubscribe};

fn options(qos: QoS) -> SubscriptionOptions {
    SubscriptionOptions::new(qos)
}

fn subscribes(outputs: &[Output]) -> Vec<(ParsedFilter, bool)> {
    outputs
        .iter()
        .filter_map(|output| match output {
            Output::Subscribe {
                filter,
                send_retained,
                ..
            } => Some((filter.clone(), *send_retained)),
            _ => None,
        })
        .collect()
}

#[test]
fn subscribe_grants_the_lower_of_requested_and_server_maximum_qos() {
    let config = SessionConfig {
        maximum_qos: QoS::AtLeastOnce,
        ..SessionConfig::default()
    };
    let (mut session, _) = connect_with(config, connect_packet(V5, "c"), None, at(0));
    let outputs = subscribe_with(
        &mut session,
        at(1),
        1,
        &[
            ("a", options(QoS::ExactlyOnce)),
            ("b", options(QoS::AtMostOnce)),
        ],
        None,
    );
    assert_eq!(
        suback_codes(&outputs),
        [ReasonCode::GrantedQos1, ReasonCode::Success]
    );
    let stored = &session.state().subscriptions["a"];
    assert_eq!(stored.options.qos, QoS::AtLeastOnce);
}

#[test]
fn invalid_filters_get_topic_filter_invalid_and_valid_ones_are_granted() {
    let mut session = connected(V5);
    let outputs = subscribe_with(
        &mut session,
        at(1),
        1,
        &[
            ("a/#/b", options(QoS::AtMostOnce)),
            ("ok", options(QoS::AtMostOnce)),
        ],
        None,
    );
    assert_eq!(
        suback_codes(&outputs),
        [ReasonCode::TopicFilterInvalid, ReasonCode::Success]
    );
    assert_eq!(subscribes(&outputs).len(), 1);
}

#[test]
fn refused_by_policy_gets_not_authorized_and_failure_on_v3() {
    for version in [V5, V3] {
        let mut session = connected(version);
        session.set_subscribe_policy(Arc::new(|_, filter| {
            !filter.mqtt_filter.starts_with("secret")
        }));
        let outputs = subscribe_with(
            &mut session,
            at(1),
            1,
            &[
                ("secret/#", options(QoS::AtMostOnce)),
                ("public", options(QoS::AtMostOnce)),
            ],
            None,
        );
        let codes = suback_codes(&outputs);
        assert_eq!(codes, [ReasonCode::NotAuthorized, ReasonCode::Success]);
        let mut wire = bytes::BytesMut::new();
        crate::codec::encode(&sent(&outputs)[0], version, &mut wire);
        let expected_failure = if version == V5 { 0x87 } else { 0x80 };
        assert_eq!(wire[wire.len() - 2], expected_failure);
    }
}

#[test]
fn subscribe_reports_filters_to_the_broker_before_the_suback() {
    let mut session = connected(V5);
    let outputs = subscribe(&mut session, "a/#", QoS::AtLeastOnce);
    assert!(matches!(outputs[0], Output::Subscribe { .. }));
    assert!(matches!(outputs[1], Output::Send(Packet::SubAck(_))));
    let (parsed, _) = subscribes(&outputs).remove(0);
    let weft: Vec<_> = parsed
        .weft_filters
        .iter()
        .map(|filter| filter.as_str())
        .collect();
    assert_eq!(weft, ["a", "a/>"]);
}

#[test]
fn retain_handling_decides_when_retained_messages_are_sent() {
    let mut session = connected(V5);
    let with = |handling| SubscriptionOptions {
        retain_handling: handling,
        ..options(QoS::AtMostOnce)
    };
    let send = |session: &mut Session, handling| {
        let outputs = subscribe_with(session, at(1), 1, &[("a", with(handling))], None);
        subscribes(&outputs)[0].1
    };
    assert!(send(&mut session, RetainHandling::SendAtSubscribe));
    assert!(send(&mut session, RetainHandling::SendAtSubscribe));
    // "a" exists now: 1 does not send.
    assert!(!send(&mut session, RetainHandling::SendIfNew));
    assert!(!send(&mut session, RetainHandling::DoNotSend));
    let outputs = subscribe_with(
        &mut session,
        at(1),
        1,
        &[("new", with(RetainHandling::SendIfNew))],
        None,
    );
    assert!(subscribes(&outputs)[0].1);
}

#[test]
fn retained_message_sent_at_subscribe_has_retain_set() {
    let mut session = connected(V5);
    subscribe(&mut session, "a", QoS::AtMostOnce);
    let mut message = message("a", QoS::AtMostOnce);
    message.retain = true;
    session.handle_delivery(
        at(1),
        Delivery {
            message,
            publisher: None,
            target: DeliveryTarget::Subscription {
                filter: "a".to_owned(),
                retained: true,
            },
        },
    );
    assert!(publishes(&drain(&mut session))[0].retain);
}

#[test]
fn live_messages_lose_retain_unless_retain_as_published() {
    let mut session = connected(V5);
    subscribe(&mut session, "plain", QoS::AtMostOnce);
    let as_published = SubscriptionOptions {
        retain_as_published: true,
        ..options(QoS::AtMostOnce)
    };
    subscribe_with(&mut session, at(0), 2, &[("rap", as_published)], None);
    for topic in ["plain", "rap"] {
        let mut delivery = delivery(topic, QoS::AtMostOnce);
        delivery.message.retain = true;
        session.handle_delivery(at(1), delivery);
    }
    let publishes = publishes(&drain(&mut session));
    assert!(!publishes[0].retain);
    assert!(publishes[1].retain);
}

#[test]
fn shared_subscription_is_parsed_and_never_gets_retained_messages() {
    let mut session = connected(V5);
    let outputs = subscribe(&mut session, "$share/workers/jobs/+", QoS::AtLeastOnce);
    assert_eq!(suback_codes(&outputs), [ReasonCode::GrantedQos1]);
    let (parsed, send_retained) = subscribes(&outputs).remove(0);
    assert_eq!(parsed.share_group.as_deref(), Some("workers"));
    assert_eq!(parsed.mqtt_filter, "jobs/+");
    assert!(!send_retained);
}

#[test]
fn shared_subscriptions_get_only_deliveries_that_name_them() {
    let mut session = connected(V5);
    subscribe(&mut session, "$share/g/jobs/+", QoS::AtLeastOnce);
    session.handle_delivery(at(1), delivery("jobs/1", QoS::AtLeastOnce));
    assert!(publishes(&drain(&mut session)).is_empty());
    session.handle_delivery(
        at(1),
        Delivery {
            message: message("jobs/1", QoS::AtLeastOnce),
            publisher: None,
            target: DeliveryTarget::Subscription {
                filter: "$share/g/jobs/+".to_owned(),
                retained: false,
            },
        },
    );
    assert_eq!(publishes(&drain(&mut session)).len(), 1);
}

#[test]
fn no_local_on_a_shared_subscription_is_a_protocol_error() {
    let mut session = connected(V5);
    let no_local = SubscriptionOptions {
        no_local: true,
        ..options(QoS::AtMostOnce)
    };
    let outputs = subscribe_with(&mut session, at(1), 1, &[("$share/g/a", no_local)], None);
    assert_eq!(disconnect_code(&outputs), Some(ReasonCode::ProtocolError));
}

#[test]
fn shared_subscriptions_unavailable_are_refused() {
    let config = SessionConfig {
        shared_subscription_available: false,
        ..SessionConfig::default()
    };
    let (mut session, _) = connect_with(config, connect_packet(V5, "c"), None, at(0));
    let outputs = subscribe(&mut session, "$share/g/a", QoS::AtMostOnce);
    assert_eq!(
        suback_codes(&outputs),
        [ReasonCode::SharedSubscriptionsNotSupported]
    );
}

#[test]
fn malformed_share_names_are_topic_filter_invalid() {
    for filter in ["$share/g", "$share//a", "$share/g+/a", "$share/g/"] {
        assert!(parse_filter(filter).is_err(), "{filter}");
    }
    let mut session = connected(V5);
    let outputs = subscribe(&mut session, "$share/g", QoS::AtMostOnce);
    assert_eq!(suback_codes(&outputs), [ReasonCode::TopicFilterInvalid]);
}

#[test]
fn unsubscribe_reports_each_filter_and_no_subscription_existed() {
    let mut session = connected(V5);
    subscribe(&mut session, "a", QoS::AtMostOnce);
    session.handle_packet(
        at(1),
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 4,
            properties: Properties::default(),
            filters: vec!["a".to_owned(), "b".to_owned()],
        }),
    );
    let outputs = drain(&mut session);
    assert!(matches!(outputs[0], Output::Unsubscribe { .. }));
    let Some(Packet::UnsubAck(unsuback)) = sent(&outputs).pop() else {
        panic!("{outputs:?}");
    };
    assert_eq!(unsuback.packet_id, 4);
    assert_eq!(
        unsuback.codes,
        [ReasonCode::Success, ReasonCode::NoSubscriptionExisted]
    );
    session.handle_delivery(at(2), delivery("a", QoS::AtMostOnce));
    assert!(publishes(&drain(&mut session)).is_empty());
}

#[test]
fn overlapping_subscriptions_deliver_once_at_the_highest_qos_with_all_identifiers() {
    let mut session = connected(V5);
    subscribe_with(
        &mut session,
        at(0),
        1,
        &[("a/+", options(QoS::AtMostOnce))],
        Some(1),
    );
    subscribe_with(
        &mut session,
        at(0),
        2,
        &[("a/#", options(QoS::AtLeastOnce))],
        Some(2),
    );
    subscribe_with(
        &mut session,
        at(0),
        3,
        &[("a/b", options(QoS::AtMostOnce))],
        None,
    );
    session.handle_delivery(at(1), delivery("a/b", QoS::ExactlyOnce));
    let publishes = publishes(&drain(&mut session));
    assert_eq!(publishes.len(), 1);
    assert_eq!(publishes[0].qos, QoS::AtLeastOnce);
    assert_eq!(publishes[0].properties.subscription_identifiers, [1, 2]);
}

#[test]
fn overlapping_subscriptions_on_v3_deliver_once_at_the_highest_qos() {
    let mut session = connected(V3);
    subscribe(&mut session, "a/+", QoS::AtMostOnce);
    subscribe(&mut session, "a/#", QoS::ExactlyOnce);
    session.handle_delivery(at(1), delivery("a/b", QoS::ExactlyOnce));
    let publishes = publishes(&drain(&mut session));
    assert_eq!(publishes.len(), 1);
    assert_eq!(publishes[0].qos, QoS::ExactlyOnce);
}

#[test]
fn no_local_skips_the_clients_own_messages() {
    let mut session = connected(V5);
    let no_local = SubscriptionOptions {
        no_local: true,
        ..options(QoS::AtMostOnce)
    };
    subscribe_with(&mut session, at(0), 1, &[("a", no_local)], None);
    let mut own = delivery("a", QoS::AtMostOnce);
    own.publisher = Some("c".to_owned());
    session.handle_delivery(at(1), own);
    assert!(publishes(&drain(&mut session)).is_empty());
    let mut other = delivery("a", QoS::AtMostOnce);
    other.publisher = Some("someone-else".to_owned());
    session.handle_delivery(at(1), other);
    assert_eq!(publishes(&drain(&mut session)).len(), 1);
}

#[test]
fn leading_wildcards_do_not_match_dollar_topics() {
    let mut session = connected(V5);
    subscribe(&mut session, "#", QoS::AtMostOnce);
    subscribe(&mut session, "+/stats", QoS::AtMostOnce);
    session.handle_delivery(at(1), delivery("$SYS/stats", QoS::AtMostOnce));
    assert!(publishes(&drain(&mut session)).is_empty());
    subscribe(&mut session, "$SYS/#", QoS::AtMostOnce);
    session.handle_delivery(at(1), delivery("$SYS/stats", QoS::AtMostOnce));
    assert_eq!(publishes(&drain(&mut session)).len(), 1);
}

#[test]
fn hash_filter_also_matches_the_parent_level() {
    let mut session = connected(V5);
    subscribe(&mut session, "a/#", QoS::AtMostOnce);
    session.handle_delivery(at(1), delivery("a", QoS::AtMostOnce));
    assert_eq!(publishes(&drain(&mut session)).len(), 1);
}

#[test]
fn subscription_identifier_is_replaced_when_the_subscription_is() {
    let mut session = connected(V5);
    subscribe_with(
        &mut session,
        at(0),
        1,
        &[("a", options(QoS::AtMostOnce))],
        Some(7),
    );
    session.handle_delivery(at(1), delivery("a", QoS::AtMostOnce));
    assert_eq!(
        publishes(&drain(&mut session))[0]
            .properties
            .subscription_identifiers,
        [7]
    );
    subscribe_with(
        &mut session,
        at(2),
        2,
        &[("a", options(QoS::AtMostOnce))],
        None,
    );
    session.handle_delivery(at(3), delivery("a", QoS::AtMostOnce));
    assert!(
        publishes(&drain(&mut session))[0]
            .properties
            .subscription_identifiers
            .is_empty()
    );
}

#[test]
fn subscription_identifiers_unavailable_is_refused() {
    let config = SessionConfig {
        subscription_identifier_available: false,
        ..SessionConfig::default()
    };
    let (mut session, _) = connect_with(config, connect_packet(V5, "c"), None, at(0));
    let outputs = subscribe_with(
        &mut session,
        at(1),
        1,
        &[("a", options(QoS::AtMostOnce))],
        Some(1),
    );
    assert_eq!(
        disconnect_code(&outputs),
        Some(ReasonCode::SubscriptionIdentifiersNotSupported)
    );
}

fn shared_delivery(qos: QoS) -> Delivery {
    Delivery {
        message: message("jobs/1", qos),
        publisher: None,
        target: DeliveryTarget::Subscription {
            filter: "$share/g/jobs/+".to_owned(),
            retained: false,
        },
    }
}

fn redelivered(outputs: &[Output]) -> Vec<(String, QoS)> {
    outputs
        .iter()
        .filter_map(|output| match output {
            Output::SharedRedeliver { filter, message } => Some((filter.clone(), message.qos)),
            _ => None,
        })
        .collect()
}

fn persistent_member(receive_maximum: u16) -> Session {
    let mut connect = connect_packet(V5, "c");
    connect.clean_start = false;
    connect.properties.session_expiry_interval = Some(3600);
    connect.properties.receive_maximum = Some(receive_maximum);
    let (mut session, _) = connect_with(SessionConfig::default(), connect, None, at(0));
    subscribe(&mut session, "$share/g/jobs/+", QoS::ExactlyOnce);
    session
}

#[test]
fn shared_qos1_in_flight_goes_to_another_member_when_the_client_disconnects() {
    let mut session = persistent_member(10);
    session.handle_delivery(at(1), shared_delivery(QoS::AtLeastOnce));
    drain(&mut session);
    session.connection_lost(at(2));
    let outputs = drain(&mut session);
    assert_eq!(
        redelivered(&outputs),
        [("$share/g/jobs/+".to_owned(), QoS::AtLeastOnce)]
    );
    assert!(session.state().inflight.is_empty());
}

#[test]
fn shared_qos2_in_flight_stays_with_its_member() {
    let mut session = persistent_member(10);
    session.handle_delivery(at(1), shared_delivery(QoS::ExactlyOnce));
    drain(&mut session);
    session.connection_lost(at(2));
    assert!(redelivered(&drain(&mut session)).is_empty());
    assert_eq!(session.state().inflight.len(), 1);
}

#[test]
fn queued_shared_messages_go_to_another_member_when_the_client_disconnects() {
    let mut session = persistent_member(1);
    session.handle_delivery(at(1), shared_delivery(QoS::ExactlyOnce));
    session.handle_delivery(at(1), shared_delivery(QoS::ExactlyOnce));
    drain(&mut session);
    assert_eq!(session.state().queue.len(), 1);
    session.connection_lost(at(2));
    let outputs = drain(&mut session);
    assert_eq!(redelivered(&outputs).len(), 1);
    assert!(session.state().queue.is_empty());
    // A shared delivery to the offline member is handed straight back.
    session.handle_delivery(at(3), shared_delivery(QoS::AtLeastOnce));
    assert_eq!(redelivered(&drain(&mut session)).len(), 1);
}
