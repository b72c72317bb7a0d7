//! `weft mesh status`: the mesh as the node at --server sees it (`GET /v1/mesh`).
//! `weft mesh route TOPIC`: where an event on TOPIC would travel (`GET /v1/mesh/route`).
//! `weft mesh forget NODE`: forgets a node that left (`DELETE /v1/mesh/nodes/NODE`).

use std::process::ExitCode;

use serde_json::Value;

use crate::cli::{MeshCommand, MeshForgetArgs, OutputFormat};
use crate::client::NodeClient;

pub(crate) async fn manage(command: MeshCommand) -> anyhow::Result<ExitCode> {
    match command {
        MeshCommand::Status(args) => {
            let client = NodeClient::new(&args.server.server)?;
            let status = client.get_json("/v1/mesh").await?;
            match args.output {
                OutputFormat::Json => outln!("{}", serde_json::to_string_pretty(&status)?)?,
                OutputFormat::Table => print_table(&status)?,
            }
        }
        MeshCommand::Route(args) => {
            let client = NodeClient::new(&args.server.server)?;
            let path = format!("/v1/mesh/route?topic={}", encode_query(&args.topic));
            let route = client.get_json(&path).await?;
            match args.output {
                OutputFormat::Json => outln!("{}", serde_json::to_string_pretty(&route)?)?,
                OutputFormat::Table => out!("{}", route_text(&route))?,
            }
        }
        MeshCommand::Forget(args) => return forget(args).await,
    }
    Ok(ExitCode::SUCCESS)
}

/// `weft mesh forget`: confirms (unless `--yes`), then asks the node to forget.
async fn forget(args: MeshForgetArgs) -> anyhow::Result<ExitCode> {
    use std::io::{BufRead, IsTerminal, Write};
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!(
                "forgetting {} drops the events kept for it; pass --yes to confirm",
                args.node
            );
        }
        eprint!(
            "forget node {} at {}: drop its durable interest and every event kept for it? [y/N] ",
            args.node, args.server.server
        );
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("nothing forgotten");
            return Ok(ExitCode::FAILURE);
        }
    }
    let client = NodeClient::new(&args.server.server)?;
    let path = format!("/v1/mesh/nodes/{}", encode_query(&args.node));
    let answer = client.send(client.http().delete(client.url(&path))).await?;
    outln!(
        "forgot {}: {} interest entries, {} stored events dropped",
        args.node,
        answer["interest_entries"].as_u64().unwrap_or(0),
        answer["dropped_events"].as_u64().unwrap_or(0)
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Percent-encodes a query value (`/` kept: topics read better with it).
fn encode_query(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The route explanation for people.
fn route_text(route: &Value) -> String {
    use std::fmt::Write as _;
    let text = |value: &Value| value.as_str().unwrap_or("-").to_owned();
    let list = |value: &Value| -> Vec<String> {
        value.as_array().into_iter().flatten().map(text).collect()
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "an event on {} published at {}:",
        text(&route["topic"]),
        text(&route["origin"])
    );
    let local = if route["local"].as_bool() == Some(true) {
        "wanted by local subscribers or streams (delivered by the broker)"
    } else {
        "not wanted locally"
    };
    let _ = writeln!(out, "  here: {local}");
    let targets = route["targets"].as_array().cloned().unwrap_or_default();
    if targets.is_empty() {
        let _ = writeln!(out, "  no remote node wants it: it stays on this node");
    }
    for target in &targets {
        let how = match (target["receives"].as_bool(), target["durable"].as_bool()) {
            (Some(true), Some(true)) => "durable (stored here until it acknowledges)",
            (Some(true), _) => "live",
            _ => "not chosen (queue group served elsewhere)",
        };
        let reachable = if target["reachable"].as_bool() == Some(true) {
            "reachable"
        } else {
            "unreachable: waits in the outbox"
        };
        let _ = writeln!(out, "  to {}: {how}, {reachable}", text(&target["node"]));
        let path = list(&target["path"]);
        if !path.is_empty() {
            let _ = writeln!(out, "    path: {}", path.join(" -> "));
        }
        for matched in target["matches"].as_array().into_iter().flatten() {
            let group = matched["group"]
                .as_str()
                .map(|group| format!(" (group {group})"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "    matched {} interest {}{group}",
                text(&matched["kind"]),
                text(&matched["filter"])
            );
        }
        if let Some(depth) = target["outbox_depth"].as_u64().filter(|depth| *depth > 0) {
            let _ = writeln!(out, "    {depth} durable events waiting for it");
        }
    }
    for group in route["groups"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  queue group {}: members on {}; chosen {} ({})",
            text(&group["group"]),
            list(&group["members"]).join(","),
            text(&group["chosen"]),
            text(&group["reason"])
        );
    }
    let edges: Vec<String> = route["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|edge| format!("{}->{}", text(&edge[0]), text(&edge[1])))
        .collect();
    if !edges.is_empty() {
        let _ = writeln!(out, "  tree edges crossed (once each): {}", edges.join(" "));
        let _ = writeln!(
            out,
            "  sent from here to: {}",
            list(&route["next_hops"]).join(",")
        );
    }
    out
}

fn print_table(status: &Value) -> std::io::Result<()> {
    let text = |value: &Value| value.as_str().unwrap_or("-").to_owned();
    outln!(
        "mesh {}  node {}  reachable nodes {}",
        text(&status["mesh"]),
        text(&status["node"]),
        status["reachable"]
    )?;
    outln!()?;
    outln!(
        "{:<24} {:>9} {:>9} NEIGHBOURS",
        "NODE",
        "REACHABLE",
        "INTEREST"
    )?;
    for node in status["nodes"].as_array().into_iter().flatten() {
        let neighbours: Vec<String> = node["neighbours"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text)
            .collect();
        outln!(
            "{:<24} {:>9} {:>9} {}",
            text(&node["name"]),
            node["reachable"].to_string(),
            node["interest"].to_string(),
            neighbours.join(",")
        )?;
    }
    outln!()?;
    outln!(
        "{:<24} {:<9} {:<22} {:>10} {:>10} {:>11} {:>11} {:>6} {:>5} {:>9}",
        "LINK PEER",
        "DIRECTION",
        "REMOTE",
        "EVENTS-IN",
        "EVENTS-OUT",
        "BYTES-IN",
        "BYTES-OUT",
        "QUEUE",
        "RECON",
        "RTT-µs"
    )?;
    for link in status["links"].as_array().into_iter().flatten() {
        outln!(
            "{:<24} {:<9} {:<22} {:>10} {:>10} {:>11} {:>11} {:>6} {:>5} {:>9}",
            text(&link["peer"]),
            text(&link["direction"]),
            text(&link["remote"]),
            link["events_in"].to_string(),
            link["events_out"].to_string(),
            link["bytes_in"].to_string(),
            link["bytes_out"].to_string(),
            link["queue_depth"].to_string(),
            link["reconnects"].to_string(),
            link["round_trip_us"]
                .as_u64()
                .map_or("-".to_owned(), |rtt| rtt.to_string())
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_text_names_the_matching_interest_path_and_group_choice() {
        let route = serde_json::json!({
            "origin": "a", "topic": "orders/eu", "local": false,
            "targets": [{"node": "c", "reachable": false, "durable": true, "receives": true,
                "path": ["a", "b", "c"], "outbox_depth": 3,
                "matches": [{"filter": "orders/>", "kind": "durable"}]}],
            "edges": [["a", "b"], ["b", "c"]], "next_hops": ["b"],
            "groups": [{"group": "workers", "members": ["b"], "chosen": "b",
                "reason": "no local member"}]
        });
        let text = route_text(&route);
        assert!(text.contains("to c: durable"), "{text}");
        assert!(text.contains("unreachable: waits in the outbox"));
        assert!(text.contains("path: a -> b -> c"));
        assert!(text.contains("matched durable interest orders/>"));
        assert!(text.contains("queue group workers: members on b; chosen b"));
        assert!(text.contains("a->b b->c"));
    }

    #[test]
    fn query_values_are_percent_encoded_keeping_slashes() {
        assert_eq!(encode_query("a/b c&d#"), "a/b%20c%26d%23");
    }
}
