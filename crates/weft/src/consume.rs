//! `weft consume` and `weft consumer …`: durable consumers over the HTTP API.

use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::{Value, json};

use crate::cli::{ConsumeArgs, ConsumerCommand};
use crate::client::NodeClient;
use crate::stream::stream_path;
use crate::subscribe::print_event;

/// How long one pull waits for events.
const PULL_WAIT: &str = "5s";
/// The member id `weft consume` uses unless `--member` names another.
const DEFAULT_MEMBER: &str = "weft-cli";
/// Deliveries one pull asks for.
const PULL_MAX: u64 = 100;

fn consumer_path(stream: &str, name: &str, rest: &str) -> String {
    let name: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
    stream_path(stream, &format!("/consumers/{name}{rest}"))
}

pub(crate) async fn run(args: ConsumeArgs) -> anyhow::Result<ExitCode> {
    let client = NodeClient::new(&args.server.server)?;
    ensure_consumer(&client, &args.stream, &args.group).await?;
    // One default member id for every run: a run that ended without leaving would
    // otherwise keep its partitions until its session expires.
    let member = args
        .member
        .clone()
        .unwrap_or_else(|| DEFAULT_MEMBER.to_owned());
    eprintln!(
        "weft: consuming {} as {} of group {}",
        args.stream, member, args.group
    );
    let mut remaining = args.count;
    if remaining == Some(0) {
        return Ok(ExitCode::SUCCESS);
    }
    let settle = if args.nack { "/nack" } else { "/ack" };
    let mut stdout = std::io::stdout().lock();
    loop {
        let max = remaining.map_or(PULL_MAX, |left| left.min(PULL_MAX));
        let query = format!(
            "/pull?member={}&max={max}&wait={PULL_WAIT}",
            encode(&member)
        );
        let request =
            client
                .http()
                .post(client.url(&consumer_path(&args.stream, &args.group, &query)));
        let answer = client.send(request).await?;
        let deliveries = answer["deliveries"].as_array().cloned().unwrap_or_default();
        for delivery in &deliveries {
            print_event(&mut stdout, &delivery["event"].to_string(), args.output)?;
            let token = delivery["token"]
                .as_str()
                .context("a delivery without a token")?;
            let body = json!({ "tokens": [token] });
            let request = client
                .http()
                .post(client.url(&consumer_path(&args.stream, &args.group, settle)))
                .json(&body);
            client.send(request).await?;
            if let Some(left) = remaining.as_mut() {
                *left -= 1;
                if *left == 0 {
                    return Ok(ExitCode::SUCCESS);
                }
            }
        }
    }
}

/// Creates the consumer with default settings unless it exists.
async fn ensure_consumer(client: &NodeClient, stream: &str, group: &str) -> anyhow::Result<()> {
    let exists = client
        .http()
        .get(client.url(&consumer_path(stream, group, "")))
        .send()
        .await;
    let exists = exists.map_err(|error| client.explain(error))?;
    if exists.status().is_success() {
        return Ok(());
    }
    if exists.status() != reqwest::StatusCode::NOT_FOUND {
        return Err(NodeClient::problem(exists).await);
    }
    let body = json!({ "name": group });
    let request = client
        .http()
        .post(client.url(&stream_path(stream, "/consumers")))
        .json(&body);
    client.send(request).await?;
    eprintln!("weft: created consumer {group} on stream {stream}");
    Ok(())
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

pub(crate) async fn manage(command: ConsumerCommand) -> anyhow::Result<ExitCode> {
    match command {
        ConsumerCommand::Ls(args) => {
            let client = NodeClient::new(&args.server.server)?;
            let all = client
                .get_json(&stream_path(&args.stream, "/consumers"))
                .await?;
            outln!(
                "{:<32} {:>10} {:>10} {:>12} {:>10}",
                "NAME",
                "PENDING",
                "IN-FLIGHT",
                "REDELIVERED",
                "ACKED"
            )?;
            for consumer in all["consumers"].as_array().into_iter().flatten() {
                outln!(
                    "{:<32} {:>10} {:>10} {:>12} {:>10}",
                    consumer["name"].as_str().unwrap_or_default(),
                    consumer["pending"],
                    consumer["in_flight"],
                    consumer["redelivered"],
                    consumer["acked"]
                )?;
            }
        }
        ConsumerCommand::Info(args) => {
            let client = NodeClient::new(&args.server.server)?;
            let info: Value = client
                .get_json(&consumer_path(&args.stream, &args.name, ""))
                .await?;
            outln!("{}", serde_json::to_string_pretty(&info)?)?;
        }
        ConsumerCommand::Rm(args) => {
            let client = NodeClient::new(&args.server.server)?;
            let request =
                client
                    .http()
                    .delete(client.url(&consumer_path(&args.stream, &args.name, "")));
            client.send(request).await?;
            eprintln!(
                "weft: deleted consumer {} of stream {}",
                args.name, args.stream
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
