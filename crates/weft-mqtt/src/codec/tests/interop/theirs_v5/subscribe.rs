//! SUBSCRIBE ↔ mqttbytes.

use mqttbytes::v5 as theirs;

use super::{qos, their_qos};
use crate::codec::*;

pub(super) fn subscribe(theirs: theirs::Subscribe) -> Subscribe {
    let properties = theirs
        .properties
        .map_or_else(Properties::default, |p| Properties {
            subscription_identifiers: p
                .id
                .map(|id| u32::try_from(id).unwrap())
                .into_iter()
                .collect(),
            user_properties: p.user_properties,
            ..Properties::default()
        });
    let filters = theirs
        .filters
        .into_iter()
        .map(|filter| {
            let options = SubscriptionOptions {
                qos: qos(filter.qos),
                no_local: filter.nolocal,
                retain_as_published: filter.preserve_retain,
                retain_handling: match filter.retain_forward_rule {
                    theirs::RetainForwardRule::OnEverySubscribe => RetainHandling::SendAtSubscribe,
                    theirs::RetainForwardRule::OnNewSubscribe => RetainHandling::SendIfNew,
                    theirs::RetainForwardRule::Never => RetainHandling::DoNotSend,
                },
            };
            (filter.path, options)
        })
        .collect();
    Subscribe {
        packet_id: theirs.pkid,
        properties,
        filters,
    }
}

pub(super) fn subscribe_to_theirs(subscribe: &Subscribe) -> theirs::Subscribe {
    let p = &subscribe.properties;
    assert!(
        p.subscription_identifiers.len() <= 1,
        "SUBSCRIBE carries one identifier"
    );
    theirs::Subscribe {
        pkid: subscribe.packet_id,
        filters: subscribe
            .filters
            .iter()
            .map(|(path, options)| theirs::SubscribeFilter {
                path: path.clone(),
                qos: their_qos(options.qos),
                nolocal: options.no_local,
                preserve_retain: options.retain_as_published,
                retain_forward_rule: match options.retain_handling {
                    RetainHandling::SendAtSubscribe => theirs::RetainForwardRule::OnEverySubscribe,
                    RetainHandling::SendIfNew => theirs::RetainForwardRule::OnNewSubscribe,
                    RetainHandling::DoNotSend => theirs::RetainForwardRule::Never,
                },
            })
            .collect(),
        properties: (!p.is_empty()).then(|| theirs::SubscribeProperties {
            id: p.subscription_identifiers.first().map(|&id| id as usize),
            user_properties: p.user_properties.clone(),
        }),
    }
}
