//! Support for `mesh_faults.rs`: the `weft` binary, node processes, status and stream
//! helpers.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long to wait for something that should happen.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// The `weft` binary: `WEFT_BIN`, or built once per test process with the cargo that
/// built this test, into its target directory and profile.
pub(crate) fn weft_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Some(path) = std::env::var_os("WEFT_BIN") {
            return PathBuf::from(path);
        }
        // <target>/<profile>/deps/mesh_faults-<hash>
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().and_then(Path::parent).unwrap();
        let target_dir = profile_dir.parent().unwrap();
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
        let mut build = Command::new(env!("CARGO"));
        build
            .args(["build", "--quiet", "-p", "weft", "--bin", "weft"])
            .arg("--manifest-path")
            .arg(&manifest)
            .arg("--target-dir")
            .arg(target_dir);
        if profile_dir
            .file_name()
            .is_some_and(|name| name == "release")
        {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build for the weft binary");
        assert!(status.success(), "building the weft binary failed");
        profile_dir.join("weft")
    })
}

/// A `weft serve` child process in the mesh `faults`, with HTTP and mesh listeners on
/// port 0 and a data directory that outlives restarts. Killed when dropped.
pub(crate) struct WeftNode {
    name: String,
    joins: Vec<SocketAddr>,
    dir: tempfile::TempDir,
    child: Option<Child>,
    http: SocketAddr,
    mesh: SocketAddr,
    client: reqwest::Client,
}

impl WeftNode {
    /// Starts a node called `name` that links to `joins`; returns once it is ready.
    pub(crate) async fn start(name: &str, joins: &[SocketAddr]) -> WeftNode {
        let mut node = WeftNode {
            name: name.to_owned(),
            joins: joins.to_vec(),
            dir: tempfile::tempdir().unwrap(),
            child: None,
            http: SocketAddr::from(([127, 0, 0, 1], 0)),
            mesh: SocketAddr::from(([127, 0, 0, 1], 0)),
            client: reqwest::Client::new(),
        };
        node.spawn().await;
        node
    }

    async fn spawn(&mut self) {
        let ready = self.dir.path().join("ready.json");
        let _ = std::fs::remove_file(&ready);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let mut command = Command::new(weft_binary());
        for (name, _) in std::env::vars() {
            if name.starts_with("WEFT_") {
                command.env_remove(name);
            }
        }
        command
            .args([
                "serve",
                "--http",
                "127.0.0.1:0",
                "--kafka",
                "off",
                "--mqtt",
                "off",
            ])
            .args(["--mesh", "127.0.0.1:0", "--mesh-name", "faults"])
            .args(["--node-name", &self.name])
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .arg("--ready-file")
            .arg(&ready);
        for join in &self.joins {
            command.args(["--join", &join.to_string()]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start weft serve");
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        let document: Value = loop {
            if let Ok(text) = std::fs::read(&ready) {
                break serde_json::from_slice(&text).unwrap();
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("node {} exited ({status}): {}", self.name, self.log_tail());
            }
            assert!(
                Instant::now() < deadline,
                "node {} not ready within {WAIT:?}: {}",
                self.name,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        self.http = document["http"].as_str().unwrap().parse().unwrap();
        self.mesh = document["mesh"].as_str().unwrap().parse().unwrap();
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("stderr.log")
    }

    /// The last lines the node logged.
    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// The mesh listener's address (changes on restart).
    pub(crate) fn mesh(&self) -> SocketAddr {
        self.mesh
    }

    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// `http://<node><path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// SIGKILL: no chance to flush anything.
    pub(crate) fn kill_9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the node again on the same data directory, with the same joins.
    pub(crate) async fn restart(&mut self) {
        self.kill_9();
        self.spawn().await;
    }

    /// `GET /v1/mesh`.
    pub(crate) async fn status(&self) -> Value {
        match self.client.get(self.url("/v1/mesh")).send().await {
            Ok(response) => response.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }

    /// Waits until the status satisfies `done`; fails with the last status after
    /// [`WAIT`].
    pub(crate) async fn wait_status(&self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let status = self.status().await;
            if done(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{}: not {what} within {WAIT:?}: {status}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until this node sees `peer` reachable with some interest.
    pub(crate) async fn wait_for_interest(&self, peer: &str) {
        let what = format!("seeing interest of {peer}");
        self.wait_status(&what, |status| {
            status["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|node| {
                    node["name"] == peer
                        && node["reachable"] == true
                        && node["interest"].as_u64() >= Some(1)
                })
        })
        .await;
    }
}

impl Drop for WeftNode {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- log of {} ---\n{}", self.name, self.log_tail());
        }
        self.kill_9();
    }
}

/// The established link to `peer` in a status document.
pub(crate) fn link_to<'a>(status: &'a Value, peer: &str) -> Option<&'a Value> {
    status["links"]
        .as_array()?
        .iter()
        .find(|link| link["established"] == true && link["peer"] == peer)
}

/// Publishes `orders/<sequence>` with id `e<sequence>` and the ack level `ack`; whether
/// the node accepted it.
pub(crate) async fn publish(client: &reqwest::Client, url: &str, sequence: u64, ack: &str) -> bool {
    let response = client
        .post(format!("{url}/v1/topics/orders/{sequence}?ack={ack}"))
        .header("ce-specversion", "1.0")
        .header("ce-id", format!("e{sequence}"))
        .header("ce-source", "/mesh-faults")
        .header("ce-type", "order")
        .header("content-type", "text/plain")
        .body(sequence.to_string())
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    matches!(response, Ok(response) if response.status() == 202)
}

/// The sequence numbers of partition 0 of stream `name` on `node`, in stream order.
pub(crate) async fn read_stream(node: &WeftNode, name: &str) -> Vec<u64> {
    let mut sequences = Vec::new();
    let mut from = 0u64;
    loop {
        let url = node.url(&format!(
            "/v1/streams/{name}/events?partition=0&max=1000&from={from}"
        ));
        let Ok(response) = node.client().get(url).send().await else {
            return sequences;
        };
        let page: Value = response.json().await.unwrap_or(Value::Null);
        let events = page["events"].as_array().cloned().unwrap_or_default();
        if events.is_empty() {
            return sequences;
        }
        for event in &events {
            let offset: u64 = event["weftoffset"].as_str().unwrap().parse().unwrap();
            from = offset + 1;
            let id = event["id"].as_str().unwrap();
            sequences.push(id.trim_start_matches('e').parse().unwrap());
        }
    }
}
