//! `weft flow explain ROUTE --event FILE`: what a route does with one event, step by
//! step, as `weft_flow::explain` tells it. Nothing is delivered.
//!
//! The route (and its sink) come from the manifests given with `-f` (default `.`), or
//! with `--url` from the node's `/v1/resources/route/NAME` (and `/sink/NAME`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use serde_json::Value;
use weft_core::Topic;
use weft_flow::explain;
use weft_flow::manifest::route::RouteSpec;
use weft_flow::manifest::sink::SinkSpec;

use super::EXIT_INVALID_INPUT;
use crate::cli::{FlowExplainArgs, TextOrJson};
use crate::client::NodeClient;
use crate::manifests;

pub(super) async fn run(args: FlowExplainArgs) -> anyhow::Result<ExitCode> {
    let event = match manifests::read_event(&args.event) {
        Ok(event) => event,
        Err(error) => {
            eprintln!("weft: {error:#}");
            return Ok(ExitCode::from(EXIT_INVALID_INPUT));
        }
    };
    let (route, sink) = if args.url {
        from_node(&args).await?
    } else {
        let files = if args.files.is_empty() {
            vec![PathBuf::from(".")]
        } else {
            args.files.clone()
        };
        let sources = manifests::read_sources(&files)?;
        let sets = match manifests::load(&sources) {
            Ok(sets) => sets,
            Err(errors) => {
                manifests::print_errors(&errors);
                return Ok(ExitCode::from(EXIT_INVALID_INPUT));
            }
        };
        explain::find_route(&sets, &args.route)
            .ok_or_else(|| anyhow!("route `{}` is not in the manifests", args.route))?
    };
    let topic = args
        .topic
        .as_deref()
        .or_else(|| explain::published_topic(&event))
        .map(Topic::new)
        .transpose()?;
    let explanation = explain::explain(&args.route, &route, sink.as_ref(), &event, topic.as_ref());
    match args.output {
        TextOrJson::Json => outln!("{}", serde_json::to_string_pretty(&explanation.to_json())?)?,
        TextOrJson::Text => out!("{explanation}")?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The route (and its sink) as the node has them.
async fn from_node(args: &FlowExplainArgs) -> anyhow::Result<(RouteSpec, Option<SinkSpec>)> {
    let client = NodeClient::new(&args.server.server)?;
    let resource = client
        .get_json(&format!("/v1/resources/route/{}", args.route))
        .await?;
    let spec = resource.get("spec").cloned().unwrap_or(Value::Null);
    let route: RouteSpec = serde_json::from_value(spec)
        .map_err(|error| anyhow!("the node's route `{}` is unreadable: {error}", args.route))?;
    let sink = match explain::sink_name(&route) {
        Some(sink) => client
            .get_json(&format!("/v1/resources/sink/{sink}"))
            .await
            .ok()
            .and_then(|resource| serde_json::from_value(resource.get("spec")?.clone()).ok()),
        None => None,
    };
    Ok((route, sink))
}
