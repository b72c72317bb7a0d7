//! `weft stream …`: manage durable streams and read them over the HTTP API.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::cli::{InfoOutput, StreamCommand, StreamCreateArgs, StreamReadArgs};
use crate::client::NodeClient;
use crate::subscribe::print_event;

/// How many events one read request asks for.
const PAGE: u64 = 500;
/// How long `--follow` waits between polls of a partition that had nothing new.
const FOLLOW_POLL: Duration = Duration::from_millis(250);

pub(crate) async fn run(command: StreamCommand) -> anyhow::Result<ExitCode> {
    match command {
        StreamCommand::Create(args) => create(args).await,
        StreamCommand::Ls(args) => {
            let client = NodeClient::new(&args.server.server)?;
            let all = client.get_json("/v1/streams").await?;
            let streams = all["streams"].as_array().cloned().unwrap_or_default();
            match args.output {
                InfoOutput::Json => outln!("{}", serde_json::to_string_pretty(&all)?)?,
                InfoOutput::Text => {
                    outln!(
                        "{:<32} {:>10} {:>12} {:>14}  FILTERS",
                        "NAME",
                        "PARTITIONS",
                        "EVENTS",
                        "BYTES"
                    )?;
                    for stream in &streams {
                        // As text: a JSON value's `Display` ignores the column width.
                        outln!(
                            "{:<32} {:>10} {:>12} {:>14}  {}",
                            stream["name"].as_str().unwrap_or_default(),
                            stream["partitions"].to_string(),
                            stream["events"].to_string(),
                            stream["bytes"].to_string(),
                            join_filters(stream)
                        )?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        StreamCommand::Info(args) => {
            let client = NodeClient::new(&args.server.server)?;
            let info = client.get_json(&stream_path(&args.name, "")).await?;
            match args.output {
                InfoOutput::Json => outln!("{}", serde_json::to_string_pretty(&info)?)?,
                InfoOutput::Text => print_info(&info)?,
            }
            Ok(ExitCode::SUCCESS)
        }
        StreamCommand::Rm(args) => {
            let client = NodeClient::new(&args.server.server)?;
            client
                .send(
                    client
                        .http()
                        .delete(client.url(&stream_path(&args.name, ""))),
                )
                .await?;
            eprintln!("weft: deleted stream {}", args.name);
            Ok(ExitCode::SUCCESS)
        }
        StreamCommand::Read(args) => read(args).await,
    }
}

pub(crate) fn stream_path(name: &str, rest: &str) -> String {
    let name: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
    format!("/v1/streams/{name}{rest}")
}

fn join_filters(stream: &Value) -> String {
    stream["filters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

fn print_info(info: &Value) -> std::io::Result<()> {
    outln!("stream      {}", info["name"].as_str().unwrap_or_default())?;
    outln!("filters     {}", join_filters(info))?;
    outln!("partitions  {}", info["partitions"])?;
    outln!("events      {}", info["events"])?;
    outln!("bytes       {}", info["bytes"])?;
    outln!("compact     {}", info["compact"])?;
    outln!("flush       {}", info["flush"].as_str().unwrap_or_default())?;
    outln!(
        "discard     {}",
        info["discard"].as_str().unwrap_or_default()
    )?;
    let retention = &info["retention"];
    outln!(
        "retention   max_age_ms={} max_bytes={} max_events={}",
        retention["max_age_ms"],
        retention["max_bytes"],
        retention["max_events"]
    )?;
    for partition in info["partition_offsets"].as_array().into_iter().flatten() {
        outln!(
            "partition {:>3}  first_offset={} next_offset={} bytes={}",
            partition["partition"],
            partition["first_offset"],
            partition["next_offset"],
            partition["bytes"]
        )?;
    }
    Ok(())
}

async fn create(args: StreamCreateArgs) -> anyhow::Result<ExitCode> {
    let client = NodeClient::new(&args.server.server)?;
    let mut body = json!({ "name": args.name, "filters": args.filters, "compact": args.compact });
    if let Some(partitions) = args.partitions {
        body["partitions"] = json!(partitions);
    }
    if let Some(discard) = args.discard {
        body["discard"] = json!(discard.as_str());
    }
    let mut retention = serde_json::Map::new();
    if let Some(age) = &args.retention_age {
        retention.insert("max_age".to_owned(), json!(age));
    }
    if let Some(bytes) = &args.retention_bytes {
        retention.insert("max_bytes".to_owned(), json!(bytes));
    }
    if let Some(events) = args.retention_events {
        retention.insert("max_events".to_owned(), json!(events));
    }
    body["retention"] = Value::Object(retention);
    let info = client
        .send(client.http().post(client.url("/v1/streams")).json(&body))
        .await?;
    eprintln!(
        "weft: stream {} captures {} in {} partition(s)",
        info["name"].as_str().unwrap_or_default(),
        join_filters(&info),
        info["partitions"]
    );
    Ok(ExitCode::SUCCESS)
}

/// Reads partition by partition up to the end each had when the read began (or forever
/// with `--follow`, polling each partition in turn).
async fn read(args: StreamReadArgs) -> anyhow::Result<ExitCode> {
    let client = NodeClient::new(&args.server.server)?;
    let info = client.get_json(&stream_path(&args.name, "")).await?;
    let mut ends = BTreeMap::new();
    for partition in info["partition_offsets"].as_array().into_iter().flatten() {
        let number = partition["partition"]
            .as_u64()
            .context("bad partition in the node's answer")?;
        let end = partition["next_offset"]
            .as_u64()
            .context("bad offset in the node's answer")?;
        if args
            .partition
            .is_none_or(|wanted| u64::from(wanted) == number)
        {
            ends.insert(number, end);
        }
    }
    if ends.is_empty() {
        bail!(
            "stream {} has no partition {}",
            args.name,
            args.partition.unwrap_or_default()
        );
    }
    // Each partition's next read position: the user's `--from` until the first page.
    // `latest` is pinned to the end seen now, so `--follow` misses nothing published
    // between two polls.
    let mut cursors: BTreeMap<u64, String> = ends
        .iter()
        .map(|(&partition, end)| {
            let start = if args.from == "latest" {
                end.to_string()
            } else {
                args.from.clone()
            };
            (partition, start)
        })
        .collect();
    let mut remaining = args.count;
    if remaining == Some(0) {
        return Ok(ExitCode::SUCCESS);
    }
    let mut stdout = std::io::stdout().lock();
    let mut print = |event: &Value| -> anyhow::Result<bool> {
        print_event(&mut stdout, &event.to_string(), args.output)?;
        if let Some(left) = remaining.as_mut() {
            *left -= 1;
            return Ok(*left == 0);
        }
        Ok(false)
    };
    loop {
        let mut progressed = false;
        for (&partition, cursor) in cursors.iter_mut() {
            let end = ends[&partition];
            loop {
                let path = stream_path(
                    &args.name,
                    &format!(
                        "/events?partition={partition}&max={PAGE}&from={}",
                        encode(cursor)
                    ),
                );
                let page = client.get_json(&path).await?;
                let events = page["events"].as_array().cloned().unwrap_or_default();
                let mut done_with_partition = events.is_empty();
                for event in &events {
                    let offset: u64 = event["weftoffset"]
                        .as_str()
                        .and_then(|o| o.parse().ok())
                        .unwrap_or(u64::MAX);
                    if !args.follow && offset >= end {
                        done_with_partition = true;
                        break;
                    }
                    *cursor = offset.saturating_add(1).to_string();
                    progressed = true;
                    if print(event)? {
                        return Ok(ExitCode::SUCCESS);
                    }
                }
                if done_with_partition || (args.follow && (events.len() as u64) < PAGE) {
                    break;
                }
            }
        }
        if !args.follow {
            return Ok(ExitCode::SUCCESS);
        }
        if !progressed {
            tokio::time::sleep(FOLLOW_POLL).await;
        }
    }
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
