//! `weft pub`: publish an event in CloudEvents HTTP binary mode.

use std::io::Read as _;
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use bytes::Bytes;
use weft_http::binding::encode_header_value;

use crate::cli::PubArgs;
use crate::client::{NodeClient, encode_topic_path};

pub(crate) async fn run(args: PubArgs) -> anyhow::Result<ExitCode> {
    let client = NodeClient::new(&args.server.server)?;
    let data = read_data(args.data.as_deref())?;
    let headers = headers(&args, data.as_ref())?;
    let url = client.url(&format!("/v1/topics/{}", encode_topic_path(&args.topic)));
    for _ in 0..args.count {
        let mut request = client.http().post(&url).headers(headers.clone());
        if let Some(data) = &data {
            request = request.body(data.clone());
        }
        let response = request
            .send()
            .await
            .map_err(|error| client.explain(error))?;
        if !response.status().is_success() {
            return Err(NodeClient::problem(response).await);
        }
        let accepted: serde_json::Value = response
            .json()
            .await
            .context("unreadable reply from the node")?;
        for id in accepted["ids"].as_array().into_iter().flatten() {
            outln!("{}", id.as_str().unwrap_or_default())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_data(argument: Option<&str>) -> anyhow::Result<Option<Bytes>> {
    let Some(argument) = argument else {
        return Ok(None);
    };
    if argument == "-" {
        let mut buffer = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buffer)
            .context("cannot read standard input")?;
        return Ok(Some(buffer.into()));
    }
    if let Some(path) = argument.strip_prefix('@') {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read data file {path}"))?;
        return Ok(Some(bytes.into()));
    }
    Ok(Some(Bytes::copy_from_slice(argument.as_bytes())))
}

/// The media type `weft pub` declares when `--content-type` is not given.
fn guess_content_type(data: &[u8]) -> &'static str {
    if serde_json::from_slice::<serde::de::IgnoredAny>(data).is_ok() {
        "application/json"
    } else if std::str::from_utf8(data).is_ok() {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

fn headers(args: &PubArgs, data: Option<&Bytes>) -> anyhow::Result<reqwest::header::HeaderMap> {
    // No `ce-specversion`: the node fills in whatever attributes are not given here
    // (id, source, type, time), and honours the ones that are.
    let mut attributes: Vec<(String, String)> = Vec::new();
    if let Some(ty) = &args.ty {
        attributes.push(("type".to_owned(), ty.clone()));
    }
    if let Some(source) = &args.source {
        attributes.push(("source".to_owned(), source.clone()));
    }
    if let Some(id) = &args.id {
        attributes.push(("id".to_owned(), id.clone()));
    }
    for pair in &args.attributes {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| anyhow!("--attr takes NAME=VALUE, got `{pair}`"))?;
        if matches!(name, "datacontenttype" | "specversion") {
            bail!("--attr {name} is not allowed: use --content-type for the media type");
        }
        attributes.push((name.to_owned(), value.to_owned()));
    }
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in attributes {
        let header_name = reqwest::header::HeaderName::try_from(format!("ce-{name}"))
            .map_err(|_| anyhow!("`{name}` is not a valid attribute name"))?;
        let header_value = reqwest::header::HeaderValue::try_from(encode_header_value(&value))
            .map_err(|_| anyhow!("the value of `{name}` cannot be sent"))?;
        headers.insert(header_name, header_value);
    }
    let content_type = match (&args.content_type, data) {
        (Some(content_type), _) => Some(content_type.as_str()),
        (None, Some(data)) => Some(guess_content_type(data)),
        (None, None) => None,
    };
    if let Some(content_type) = content_type {
        let value = reqwest::header::HeaderValue::try_from(content_type)
            .map_err(|_| anyhow!("invalid --content-type `{content_type}`"))?;
        headers.insert(reqwest::header::CONTENT_TYPE, value);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_is_guessed_from_the_data() {
        assert_eq!(guess_content_type(br#"{"id":1}"#), "application/json");
        assert_eq!(guess_content_type(b"hello"), "text/plain; charset=utf-8");
        assert_eq!(
            guess_content_type(&[0xff, 0x00]),
            "application/octet-stream"
        );
    }
}
