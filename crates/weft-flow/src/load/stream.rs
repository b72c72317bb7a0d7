//! Reading a `Stream` spec: the broker's [`StreamSpec`] (its `StreamSettings`) read from
//! YAML so that every error carries its position. The spellings (sizes, durations,
//! `flush`, `discard`) and the limits are the settings' own; this file only knows where
//! each value was written.

use weft_broker::SettingsError;
use weft_yaml::{Mapping, Value};

use super::read::Doc;
use crate::manifest::stream::{Discard, Flush, StreamSpec};

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
    let mut ok = true;
    let filters = spec.require("filters", doc.errors).and_then(|value| {
        let items = value.seq(doc.errors)?;
        if items.is_empty() {
            value.report_invalid(doc.errors, SettingsError::NoFilters.to_string());
            return None;
        }
        let filters: Vec<_> = items.iter().map(|item| doc.filter(&item)).collect();
        filters.into_iter().collect::<Option<Vec<_>>>()
    });
    let mut stream = StreamSpec::new(Vec::new());
    if let Some(value) = spec.take("partitions")
        && let Some(count) = value.u64(doc.errors)
    {
        ok &= checked(&value, doc, StreamSpec::checked_partitions(count))
            .map(|count| stream.partitions = count)
            .is_some();
    }
    if let Some(retention) = spec.take_mapping("retention", doc.errors) {
        retention.deny_unknown(RETENTION_KEYS, doc.errors);
        stream.retention.max_age = retention.take_duration("max_age", doc.errors);
        stream.retention.max_bytes = retention.take_size("max_bytes", doc.errors);
        stream.retention.max_events = retention.take_u64("max_events", doc.errors);
    }
    if let Some(compact) = spec.take_bool("compact", doc.errors) {
        stream.compact = compact;
    }
    if let Some(value) = spec.take("max_event_bytes")
        && let Some(bytes) = value.size(doc.errors)
    {
        ok &= checked(&value, doc, StreamSpec::checked_max_event_bytes(bytes))
            .map(|bytes| stream.max_event_bytes = bytes)
            .is_some();
    }
    if let Some(window) = spec.take_duration("dedupe_window", doc.errors) {
        stream.dedupe_window = window;
    }
    if let Some(flush) = spec.take_parsed::<Flush>("flush", doc.errors) {
        stream.flush = flush;
    }
    if let Some(value) = spec.take("discard") {
        match value.parse::<Discard>(doc.errors) {
            Some(discard) => {
                stream.discard = discard;
                ok &= checked(&value, doc, stream.check_discard()).is_some();
            }
            None => ok = false,
        }
    }
    stream.filters = filters?;
    ok.then_some(stream)
}

/// `outcome`'s value, or its error reported at `value`.
fn checked<T>(
    value: &Value<'_>,
    doc: &mut Doc<'_>,
    outcome: Result<T, SettingsError>,
) -> Option<T> {
    outcome
        .map_err(|error| value.report_invalid(doc.errors, error.to_string()))
        .ok()
}

#[cfg(test)]
mod tests {
    /// Every problem of a stream spec at once, each at the value it is about, in the
    /// settings' own words.
    #[test]
    fn every_stream_problem_is_reported_at_its_value() {
        let text = "apiVersion: weft/v1\nkind: Stream\nmetadata: {name: s}\nspec:\n  \
                    filters: [a]\n  max_event_bytes: 5MiB\n  flush: sometimes\n  discard: new\n";
        let errors = crate::load_str("s.yaml", text).unwrap_err().to_string();
        assert_eq!(
            errors,
            "s.yaml:6:20: spec.max_event_bytes: max_event_bytes must be from 1 to 4194304 (4MiB), got 5242880\n\
             s.yaml:7:10: spec.flush: `flush` must be `always`, `never`, `interval` or `interval:DURATION`, got `sometimes`\n\
             s.yaml:8:12: spec.discard: discard `new` needs a retention.max_bytes or retention.max_events limit"
        );
        let text = "apiVersion: weft/v1\nkind: Stream\nmetadata: {name: s}\nspec:\n  \
                    filters: [a]\n  discard: newest\n  dedupe_window: 5\n";
        let errors = crate::load_str("s.yaml", text).unwrap_err().to_string();
        assert_eq!(
            errors,
            "s.yaml:6:12: spec.discard: `discard` must be `old` or `new`, got `newest`\n\
             s.yaml:7:18: spec.dedupe_window: duration `5` needs a unit, such as 5s or 5ms"
        );
    }
}
