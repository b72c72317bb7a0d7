//! Reading `Sink` and `Source` specs.

use std::collections::BTreeMap;

use weft_core::Attributes;
use weft_yaml::{Mapping, Value};

use super::read::{Doc, one_of};
use crate::manifest::sink::{DEFAULT_HTTP_TIMEOUT, HttpMode, HttpSink, SinkSpec, SinkTarget, Tls};
use crate::manifest::source::{Schedule, Secret, SourceKind, SourceSpec, Webhook};

const SINK_KEYS: &[&str] = &["http", "topic", "stream", "reply"];
const HTTP_KEYS: &[&str] = &["url", "mode", "headers", "timeout", "tls"];
const SOURCE_KEYS: &[&str] = &["topic", "webhook", "schedule"];
const WEBHOOK_KEYS: &[&str] = &["path", "type", "source", "secret"];
const SCHEDULE_KEYS: &[&str] = &["cron", "type", "source", "data"];

pub(crate) fn read_sink(spec: &Mapping<'_>, doc: &mut Doc<'_>) -> Option<SinkSpec> {
    spec.deny_unknown(SINK_KEYS, doc.errors);
    let target = match one_of(spec, &["http", "topic", "stream"], doc.errors) {
        Some(("http", http)) => read_http(&http, doc).map(SinkTarget::Http),
        Some(("topic", topic)) => doc.topic(&topic).map(SinkTarget::Topic),
        Some((_, stream)) => doc.stream(&stream).map(SinkTarget::Stream),
        None => None,
    };
    let reply = spec.take("reply").and_then(|reply| {
        if spec.take("http").is_none() {
            reply.report_invalid(doc.errors, "`reply` is only for http sinks");
        }
        doc.topic(&reply)
    });
    Some(SinkSpec {
        target: target?,
        reply,
    })
}

fn read_http(value: &Value<'_>, doc: &mut Doc<'_>) -> Option<HttpSink> {
    let http = value.mapping(doc.errors)?;
    http.deny_unknown(HTTP_KEYS, doc.errors);
    let url = http.require("url", doc.errors).and_then(|url| {
        let text = url.str(doc.errors)?;
        let rest = text
            .strip_prefix("http://")
            .or_else(|| text.strip_prefix("https://"));
        let host = rest.map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default());
        let problem = match host {
            None => Some("url must start with http:// or https://"),
            Some("") => Some("url has no host"),
            Some(_) if text.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                Some("url may not contain spaces or control characters")
            }
            Some(_) => None,
        };
        if let Some(problem) = problem {
            url.report_invalid(doc.errors, format!("{problem}, got `{text}`"));
            return None;
        }
        Some(text.to_owned())
    });
    let mode = match http.take("mode") {
        None => HttpMode::Binary,
        Some(mode) => match mode.str(doc.errors) {
            Some("binary") => HttpMode::Binary,
            Some("structured") => HttpMode::Structured,
            Some(other) => {
                let message = format!("mode must be `binary` or `structured`, got `{other}`");
                mode.report_invalid(doc.errors, message);
                HttpMode::Binary
            }
            None => HttpMode::Binary,
        },
    };
    let headers = http
        .take_mapping("headers", doc.errors)
        .map(|headers| read_headers(&headers, doc))
        .unwrap_or_default();
    let timeout = http
        .take_duration("timeout", doc.errors)
        .unwrap_or(DEFAULT_HTTP_TIMEOUT);
    let tls = http
        .take_mapping("tls", doc.errors)
        .map(|settings| read_tls(&settings, url.as_deref(), doc))
        .unwrap_or_default();
    Some(HttpSink {
        url: url?,
        mode,
        headers,
        timeout,
        tls,
    })
}

/// `tls: {caFile, insecureSkipVerify}`, for `https://` URLs only.
fn read_tls(settings: &Mapping<'_>, url: Option<&str>, doc: &mut Doc<'_>) -> Tls {
    settings.deny_unknown(&["caFile", "insecureSkipVerify"], doc.errors);
    if url.is_some_and(|url| url.starts_with("http://")) {
        let message = "`tls` applies to https:// urls only";
        settings.as_value().report_invalid(doc.errors, message);
    }
    let ca_file = settings
        .take("caFile")
        .and_then(|value| doc.text(&value).map(|text| (value, text)));
    let insecure_skip_verify = settings
        .take_bool("insecureSkipVerify", doc.errors)
        .unwrap_or(false);
    if insecure_skip_verify && let Some((value, _)) = &ca_file {
        let message = "`caFile` cannot be used together with `insecureSkipVerify: true`";
        value.report_invalid(doc.errors, message);
    }
    Tls {
        ca_file: ca_file.map(|(_, text)| text),
        insecure_skip_verify,
    }
}

fn read_headers(headers: &Mapping<'_>, doc: &mut Doc<'_>) -> BTreeMap<String, String> {
    let mut result = BTreeMap::new();
    for (key, value) in headers.entries() {
        let name = key.key_text().to_ascii_lowercase();
        let token = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
        let problem = if !token {
            Some(format!("`{name}` is not a valid header name"))
        } else if name.starts_with("ce-") || name == "content-type" || name == "content-length" {
            Some(format!("header `{name}` is set by weft from the event"))
        } else if result.contains_key(&name) {
            Some(format!(
                "header `{name}` is given twice (names are case-insensitive)"
            ))
        } else {
            None
        };
        let text = value.str(doc.errors);
        if let Some(problem) = problem {
            value.report_invalid(doc.errors, problem);
            continue;
        }
        let Some(text) = text else { continue };
        if text.chars().any(|c| c.is_control() && c != '\t') {
            value.report_invalid(
                doc.errors,
                "header values may not contain control characters",
            );
            continue;
        }
        result.insert(name, text.to_owned());
    }
    result
}

pub(crate) fn read_source(spec: &Mapping<'_>, doc: &mut Doc<'_>) -> Option<SourceSpec> {
    spec.deny_unknown(SOURCE_KEYS, doc.errors);
    let topic = spec
        .require("topic", doc.errors)
        .and_then(|topic| doc.topic(&topic));
    let kind = match one_of(spec, &["webhook", "schedule"], doc.errors) {
        Some(("webhook", webhook)) => read_webhook(&webhook, doc).map(SourceKind::Webhook),
        Some((_, schedule)) => read_schedule(&schedule, doc).map(SourceKind::Schedule),
        None => None,
    };
    Some(SourceSpec {
        topic: topic?,
        kind: kind?,
    })
}

/// `type` and `source` of produced events, checked by the event model.
fn type_and_source(mapping: &Mapping<'_>, doc: &mut Doc<'_>) -> Option<(String, String)> {
    let ty = mapping
        .require("type", doc.errors)
        .and_then(|ty| doc.text(&ty));
    let source_value = mapping.require("source", doc.errors);
    let source = source_value.as_ref().and_then(|source| doc.text(source));
    let (ty, source) = (ty?, source?);
    if let Err(error) = Attributes::new("probe", source.as_str(), ty.as_str()) {
        let place = source_value.as_ref().unwrap_or(mapping.as_value());
        place.report_invalid(doc.errors, error.to_string());
        return None;
    }
    Some((ty, source))
}

fn read_webhook(value: &Value<'_>, doc: &mut Doc<'_>) -> Option<Webhook> {
    let webhook = value.mapping(doc.errors)?;
    webhook.deny_unknown(WEBHOOK_KEYS, doc.errors);
    let path = webhook.require("path", doc.errors).and_then(|path| {
        doc.remember(&path);
        let text = path.str(doc.errors)?;
        let problem = if !text.starts_with('/') {
            Some("a webhook path starts with `/`")
        } else if text.contains(['?', '#']) || text.chars().any(char::is_whitespace) {
            Some("a webhook path has no query, fragment or spaces")
        } else if text == "/v1" || text.starts_with("/v1/") {
            Some("paths under /v1/ belong to the weft api")
        } else {
            None
        };
        if let Some(problem) = problem {
            path.report_invalid(doc.errors, format!("{problem}, got `{text}`"));
            return None;
        }
        Some(text.to_owned())
    });
    let identity = type_and_source(&webhook, doc);
    let secret = webhook
        .take_mapping("secret", doc.errors)
        .and_then(|secret| {
            secret.deny_unknown(&["env", "value"], doc.errors);
            match one_of(&secret, &["env", "value"], doc.errors)? {
                ("env", name) => doc.text(&name).map(Secret::Env),
                (_, value) => doc.text(&value).map(Secret::Value),
            }
        });
    let (ty, source) = identity?;
    Some(Webhook {
        path: path?,
        ty,
        source,
        secret,
    })
}

fn read_schedule(value: &Value<'_>, doc: &mut Doc<'_>) -> Option<Schedule> {
    let schedule = value.mapping(doc.errors)?;
    schedule.deny_unknown(SCHEDULE_KEYS, doc.errors);
    let cron = schedule.require("cron", doc.errors).and_then(|cron| {
        cron.parse_with(doc.errors, |text| {
            crate::cron::check(text).map(|()| text.to_owned())
        })
    });
    let identity = type_and_source(&schedule, doc);
    let data = schedule.take("data").and_then(|data| doc.json(&data));
    let (ty, source) = identity?;
    Some(Schedule {
        cron: cron?,
        ty,
        source,
        data,
    })
}

#[cfg(test)]
mod tls_tests {
    fn sink(http: &str) -> String {
        format!("apiVersion: weft/v1\nkind: Sink\nmetadata: {{name: s}}\nspec:\n  http: {http}\n")
    }

    #[test]
    fn tls_settings_are_read_in_camel_case() {
        let text = sink("{url: \"https://h/x\", tls: {caFile: /etc/weft/ca.pem}}");
        let set = crate::load_str("s.yaml", &text).unwrap();
        let crate::Spec::Sink(spec) = &set.manifests().next().unwrap().spec else {
            panic!("a sink");
        };
        let crate::manifest::sink::SinkTarget::Http(http) = &spec.target else {
            panic!("an http sink");
        };
        assert_eq!(http.tls.ca_file.as_deref(), Some("/etc/weft/ca.pem"));
        assert!(!http.tls.insecure_skip_verify);
    }

    #[test]
    fn tls_needs_https_and_one_way_of_trusting() {
        let errors = crate::load_str(
            "s.yaml",
            &sink("{url: \"http://h/x\", tls: {insecureSkipVerify: true, verify: false}}"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            errors.contains("`tls` applies to https:// urls only"),
            "{errors}"
        );
        assert!(errors.contains("unknown field `verify`"), "{errors}");
        let errors = crate::load_str(
            "s.yaml",
            &sink("{url: \"https://h/x\", tls: {caFile: ca.pem, insecureSkipVerify: true}}"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            errors.contains("`caFile` cannot be used together with `insecureSkipVerify: true`"),
            "{errors}"
        );
    }
}
