//! `weft sub`: a live subscription over Server-Sent Events, printed line by line.

use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use futures_util::StreamExt as _;

use crate::cli::{Output, SubArgs};
use weft_http::event_stream::EventStreamParser;

use crate::client::{NodeClient, problem_detail};

pub(crate) async fn run(args: SubArgs) -> anyhow::Result<ExitCode> {
    let client = NodeClient::new(&args.server.server)?;
    let mut query = form_urlencoded::Serializer::new(String::new());
    for filter in &args.filters {
        query.append_pair("filter", filter);
    }
    let url = client.url(&format!("/v1/subscribe?{}", query.finish()));
    let response = client
        .http()
        .get(&url)
        .header(reqwest::header::ACCEPT, "text/event-stream")
        .send()
        .await
        .map_err(|error| client.explain(error))?;
    if !response.status().is_success() {
        return Err(NodeClient::problem(response).await);
    }
    // On stderr, so scripts (and tests) know the subscription is live before they publish.
    eprintln!(
        "weft: subscribed to {} at {}",
        args.filters.join(", "),
        client.base()
    );

    let mut remaining = args.count;
    if remaining == Some(0) {
        return Ok(ExitCode::SUCCESS);
    }
    let mut parser = EventStreamParser::default();
    let mut body = response.bytes_stream();
    let mut stdout = std::io::stdout().lock();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|error| client.explain(error))?;
        for message in parser.push(&chunk) {
            if message.event.as_deref() == Some("weft-error") {
                bail!(
                    "the node ended the subscription: {}",
                    problem_detail(message.data.as_bytes())
                );
            }
            print_event(&mut stdout, &message.data, args.output)?;
            if let Some(left) = remaining.as_mut() {
                *left -= 1;
                if *left == 0 {
                    return Ok(ExitCode::SUCCESS);
                }
            }
        }
    }
    Err(anyhow!(
        "the node closed the subscription (it may be shutting down)"
    ))
}

pub(crate) fn print_event(
    out: &mut impl std::io::Write,
    json: &str,
    output: Output,
) -> anyhow::Result<()> {
    match output {
        Output::Json => writeln!(out, "{json}")?,
        Output::Data => {
            let event = weft_core::json::decode(json.as_bytes())
                .context("the node sent an invalid event")?;
            if let Some(data) = &event.data {
                out.write_all(data)?;
            }
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(())
}
