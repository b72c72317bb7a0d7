//! One node per data directory: a second node started on a directory a running node
//! holds is refused before it opens anything there, and starts once the first stopped.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use std::net::SocketAddr;
use std::path::Path;

use weft_server::config::{Config, Listen, NodeName};
use weft_server::{RunningNode, StartError};

fn config(data_dir: &Path, name: &str) -> Config {
    let mut config = Config::defaults();
    config.node_name = name.parse::<NodeName>().unwrap();
    config.data_dir = data_dir.to_owned();
    // Every front end on, on a free port: each one's state lives in the data directory.
    let loopback = Listen::Addr(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.http.listen = loopback;
    config.kafka.listen = loopback;
    config.mqtt.listen = loopback;
    config.mesh.listen = loopback;
    config
}

async fn start(config: &Config) -> Result<RunningNode, StartError> {
    let listeners = weft_server::bind(config).await.unwrap();
    weft_server::start(config, listeners).await
}

#[tokio::test]
async fn a_second_node_on_a_held_data_directory_is_refused_with_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let first = start(&config(dir.path(), "n1")).await.unwrap();
    let lock_file = dir.path().join(weft_server::LOCK_FILE);
    let lock_text = std::fs::read(&lock_file).unwrap();

    let Err(error) = start(&config(dir.path(), "n2")).await else {
        panic!("a second node started on a data directory in use");
    };
    let StartError::DataDirInUse { path, holder } = &error else {
        panic!("unexpected error: {error}");
    };
    assert_eq!(path, dir.path());
    let holder = holder.as_ref().expect("the first node wrote its name");
    assert_eq!(holder.pid, std::process::id());
    assert_eq!(holder.node, "n1");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "data directory {} is in use by another weft node (pid {}, node n1, started ",
            dir.path().display(),
            std::process::id()
        )),
        "{message}"
    );
    assert!(
        message.ends_with("; stop it or choose another --data-dir"),
        "{message}"
    );
    assert_eq!(
        std::fs::read(&lock_file).unwrap(),
        lock_text,
        "the refused node left the lock file alone"
    );

    first.shutdown().await.unwrap();
    let second = start(&config(dir.path(), "n2")).await.unwrap();
    let text = std::fs::read_to_string(&lock_file).unwrap();
    assert!(text.contains("\"node\":\"n2\""), "{text}");
    second.shutdown().await.unwrap();
}
