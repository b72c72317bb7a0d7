//! `weft mesh status`: the mesh as the node at --server sees it (`GET /v1/mesh`).

use std::process::ExitCode;

use serde_json::Value;

use crate::cli::{MeshCommand, OutputFormat};
use crate::client::NodeClient;

pub async fn manage(command: MeshCommand) -> anyhow::Result<ExitCode> {
    match command {
        MeshCommand::Status(args) => {
            let client = NodeClient::new(&args.server.server)?;
            let status = client.get_json("/v1/mesh").await?;
            match args.output {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&status)?),
                OutputFormat::Table => print_table(&status),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(status: &Value) {
    let text = |value: &Value| value.as_str().unwrap_or("-").to_owned();
    println!(
        "mesh {}  node {}  reachable nodes {}",
        text(&status["mesh"]),
        text(&status["node"]),
        status["reachable"]
    );
    println!();
    println!(
        "{:<24} {:>9} {:>9} NEIGHBOURS",
        "NODE", "REACHABLE", "INTEREST"
    );
    for node in status["nodes"].as_array().into_iter().flatten() {
        let neighbours: Vec<String> = node["neighbours"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text)
            .collect();
        println!(
            "{:<24} {:>9} {:>9} {}",
            text(&node["name"]),
            node["reachable"].to_string(),
            node["interest"].to_string(),
            neighbours.join(",")
        );
    }
    println!();
    println!(
        "{:<24} {:<9} {:<22} {:>10} {:>10} {:>9}",
        "LINK PEER", "DIRECTION", "REMOTE", "EVENTS-IN", "EVENTS-OUT", "RTT-µs"
    );
    for link in status["links"].as_array().into_iter().flatten() {
        println!(
            "{:<24} {:<9} {:<22} {:>10} {:>10} {:>9}",
            text(&link["peer"]),
            text(&link["direction"]),
            text(&link["remote"]),
            link["events_in"].to_string(),
            link["events_out"].to_string(),
            link["round_trip_us"]
                .as_u64()
                .map_or("-".to_owned(), |rtt| rtt.to_string())
        );
    }
}
