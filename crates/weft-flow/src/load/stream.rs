//! Reading a `Stream` spec.

use weft_yaml::Mapping;

use super::read::Doc;
use crate::manifest::stream::{
    Discard, Flush, MAX_EVENT_BYTES_LIMIT, MAX_PARTITIONS, Retention, StreamSpec,
};

const KEYS: &[&str] = &[
    "filters",
    "partitions",
    "retention",
    "compact",
    "max_event_bytes",
    "dedupe_window",
    "flush",
    "discard",
];
const RETENTION_KEYS: &[&str] = &["max_age", "max_bytes", "max_events"];

pub(crate) fn read(spec: &Mapping<'_>, doc: &mut Doc<'_>) -> Option<StreamSpec> {
    spec.deny_unknown(KEYS, doc.errors);
    let filters = spec.require("filters", doc.errors).and_then(|value| {
        let items = value.seq(doc.errors)?;
        if items.is_empty() {
            value.report_invalid(doc.errors, "a stream needs at least one filter");
            return None;
        }
        let filters: Vec<_> = items.iter().map(|item| doc.filter(&item)).collect();
        filters.into_iter().collect::<Option<Vec<_>>>()
    });
    let mut stream = StreamSpec::new(Vec::new());
    let mut ok = true;
    if let Some(value) = spec.take("partitions")
        && let Some(count) = value.u64(doc.errors)
    {
        match u32::try_from(count) {
            Ok(count) if (1..=MAX_PARTITIONS).contains(&count) => stream.partitions = count,
            _ => {
                let message = format!("partitions must be from 1 to {MAX_PARTITIONS}, got {count}");
                value.report_invalid(doc.errors, message);
                ok = false;
            }
        }
    }
    if let Some(retention) = spec.take_mapping("retention", doc.errors) {
        retention.deny_unknown(RETENTION_KEYS, doc.errors);
        stream.retention = Retention {
            max_age: retention.take_duration("max_age", doc.errors),
            max_bytes: retention.take_size("max_bytes", doc.errors),
            max_events: retention.take_u64("max_events", doc.errors),
        };
    }
    if let Some(compact) = spec.take_bool("compact", doc.errors) {
        stream.compact = compact;
    }
    if let Some(value) = spec.take("max_event_bytes")
        && let Some(bytes) = value.size(doc.errors)
    {
        if (1..=MAX_EVENT_BYTES_LIMIT).contains(&bytes) {
            stream.max_event_bytes = bytes;
        } else {
            let message = format!(
                "max_event_bytes must be from 1 to {MAX_EVENT_BYTES_LIMIT} (4MiB), got {bytes}"
            );
            value.report_invalid(doc.errors, message);
            ok = false;
        }
    }
    if let Some(window) = spec.take_duration("dedupe_window", doc.errors) {
        stream.dedupe_window = window;
    }
    if let Some(flush) = spec.take_parsed::<Flush>("flush", doc.errors) {
        stream.flush = flush;
    }
    if let Some(value) = spec.take("discard")
        && let Some(text) = value.str(doc.errors)
    {
        match text {
            "old" => stream.discard = Discard::Old,
            "new" => stream.discard = Discard::New,
            other => {
                let message = format!("discard must be `old` or `new`, got `{other}`");
                value.report_invalid(doc.errors, message);
                ok = false;
            }
        }
        let limited = stream.retention.max_bytes.is_some() || stream.retention.max_events.is_some();
        if stream.discard == Discard::New && !limited {
            let message = "discard `new` needs a retention.max_bytes or retention.max_events limit";
            value.report_invalid(doc.errors, message);
            ok = false;
        }
    }
    stream.filters = filters?;
    ok.then_some(stream)
}
