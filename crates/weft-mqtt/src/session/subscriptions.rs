//! SUBSCRIBE and UNSUBSCRIBE: filter parsing (shared subscriptions included), granted
//! QoS, authorisation, retain handling and subscription identifiers.

use std::time::SystemTime;

use weft_core::Filter;
use weft_topic::mqtt::{MqttFilterError, SHARED_SUBSCRIPTION_PREFIX, filter_from_mqtt};

use super::state::StoredSubscription;
use super::{ActiveSubscription, Output, Session};
use crate::codec::{
    Packet, Properties, ProtocolVersion, ReasonCode, RetainHandling, SubAck, Subscribe, UnsubAck,
    Unsubscribe,
};

/// A topic filter from SUBSCRIBE, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedFilter {
    /// The filter as the client wrote it (`$share/group/a/+` for a shared one).
    pub full: String,
    /// The share group of a shared subscription.
    pub share_group: Option<String>,
    /// The MQTT filter without the `$share/group/` prefix.
    pub mqtt_filter: String,
    /// The equivalent weft filters (`a/#` becomes `a` and `a/>`).
    pub weft_filters: Vec<Filter>,
}

impl ParsedFilter {
    /// Whether the filter has a wildcard.
    pub fn has_wildcard(&self) -> bool {
        self.mqtt_filter.contains(['+', '#'])
    }
}

/// Why a topic filter is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// `$share/` without a valid group name and filter (MQTT 5.0 section 4.8.2: the
    /// group is at least one character without `/`, `+` or `#`, followed by `/` and a
    /// filter).
    #[error("invalid shared subscription {filter:?}")]
    InvalidShare {
        /// The filter.
        filter: String,
    },
    /// The filter is malformed MQTT or not representable in weft.
    #[error(transparent)]
    Filter(#[from] MqttFilterError),
}

/// Parses a SUBSCRIBE topic filter, shared (`$share/GROUP/FILTER`) or not.
///
/// # Errors
/// A [`FilterError`] when the filter cannot be used (SUBACK 0x8F Topic Filter invalid).
pub fn parse_filter(filter: &str) -> Result<ParsedFilter, FilterError> {
    let (share_group, mqtt_filter) = match filter.strip_prefix(SHARED_SUBSCRIPTION_PREFIX) {
        Some(rest) => {
            let invalid = || FilterError::InvalidShare {
                filter: filter.to_owned(),
            };
            let (group, inner) = rest.split_once('/').ok_or_else(invalid)?;
            if group.is_empty() || group.contains(['+', '#']) || inner.is_empty() {
                return Err(invalid());
            }
            (Some(group.to_owned()), inner)
        }
        None => (None, filter),
    };
    let weft_filters = filter_from_mqtt(mqtt_filter)?;
    Ok(ParsedFilter {
        full: filter.to_owned(),
        share_group,
        mqtt_filter: mqtt_filter.to_owned(),
        weft_filters,
    })
}

impl Session {
    pub(super) fn handle_subscribe(&mut self, now: SystemTime, subscribe: Subscribe) {
        let identifier = subscribe
            .properties
            .subscription_identifiers
            .first()
            .copied();
        if identifier.is_some() && !self.config.subscription_identifier_available {
            return self.protocol_violation(
                now,
                ReasonCode::SubscriptionIdentifiersNotSupported,
                "subscription identifiers are not supported",
            );
        }
        let mut codes = Vec::with_capacity(subscribe.filters.len());
        let mut added = Vec::new();
        for (filter, requested) in subscribe.filters {
            let parsed = match parse_filter(&filter) {
                Ok(parsed) => parsed,
                Err(_) => {
                    codes.push(ReasonCode::TopicFilterInvalid);
                    continue;
                }
            };
            if parsed.share_group.is_some() && requested.no_local {
                // MQTT-3.8.3-4.
                return self.protocol_violation(
                    now,
                    ReasonCode::ProtocolError,
                    "no local on a shared subscription",
                );
            }
            if let Some(code) = self.refusal(&parsed) {
                codes.push(code);
                continue;
            }
            let mut options = requested;
            options.qos = options.qos.min(self.config.maximum_qos);
            let existed = self.state.subscriptions.contains_key(&filter);
            // Retained messages are never sent to shared subscriptions (section 4.8.2).
            let send_retained = parsed.share_group.is_none()
                && match options.retain_handling {
                    RetainHandling::SendAtSubscribe => true,
                    RetainHandling::SendIfNew => !existed,
                    RetainHandling::DoNotSend => false,
                };
            self.state.subscriptions.insert(
                filter.clone(),
                StoredSubscription {
                    options,
                    identifier,
                },
            );
            self.active.insert(
                filter,
                ActiveSubscription {
                    parsed: parsed.clone(),
                },
            );
            codes.push(match options.qos.as_u8() {
                0 => ReasonCode::Success,
                1 => ReasonCode::GrantedQos1,
                _ => ReasonCode::GrantedQos2,
            });
            added.push(Output::Subscribe {
                filter: parsed,
                options,
                identifier,
                send_retained,
            });
        }
        let changed = !added.is_empty();
        self.outputs.extend(added);
        self.send(Packet::SubAck(SubAck {
            packet_id: subscribe.packet_id,
            properties: Properties::default(),
            codes,
        }));
        if changed {
            self.state_changed();
        }
    }

    /// The SUBACK error for a filter this server or this client may not use.
    fn refusal(&self, parsed: &ParsedFilter) -> Option<ReasonCode> {
        if parsed.share_group.is_some() && !self.config.shared_subscription_available {
            return Some(ReasonCode::SharedSubscriptionsNotSupported);
        }
        if parsed.has_wildcard() && !self.config.wildcard_subscription_available {
            return Some(ReasonCode::WildcardSubscriptionsNotSupported);
        }
        if !(self.policy)(&self.state.client_id, parsed) {
            return Some(ReasonCode::NotAuthorized);
        }
        None
    }

    pub(super) fn handle_unsubscribe(&mut self, unsubscribe: Unsubscribe) {
        let mut codes = Vec::with_capacity(unsubscribe.filters.len());
        for filter in unsubscribe.filters {
            let removed = self.state.subscriptions.remove(&filter).is_some();
            match self.active.remove(&filter) {
                Some(active) if removed => {
                    self.outputs.push_back(Output::Unsubscribe {
                        filter: active.parsed,
                    });
                    codes.push(ReasonCode::Success);
                }
                _ => codes.push(ReasonCode::NoSubscriptionExisted),
            }
        }
        if codes.contains(&ReasonCode::Success) {
            self.state_changed();
        }
        let codes = match self.version {
            ProtocolVersion::V5 => codes,
            ProtocolVersion::V311 => Vec::new(),
        };
        self.send(Packet::UnsubAck(UnsubAck {
            packet_id: unsubscribe.packet_id,
            properties: Properties::default(),
            codes,
        }));
    }
}
