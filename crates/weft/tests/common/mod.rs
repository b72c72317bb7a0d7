//! Runs the real `weft` binary: a node on port 0 and client commands against it.

#![allow(dead_code)] // each test binary uses a different part of this module
#![allow(clippy::unwrap_used, clippy::expect_used)] // test support: a failure should panic

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long to wait for something that should happen.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

pub(crate) fn weft() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_weft"));
    // Tests must not pick up a developer's settings.
    for (name, _) in std::env::vars() {
        if name.starts_with("WEFT_") {
            command.env_remove(name);
        }
    }
    command
}

/// Reads a child's stderr on a thread and hands over its lines, so tests can wait for
/// a line with a timeout.
pub(crate) struct Lines {
    receiver: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Lines {
    pub(crate) fn new(stderr: ChildStderr) -> Self {
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            receiver,
            seen: Vec::new(),
        }
    }

    /// The first line containing `needle`; panics with everything seen after [`WAIT`].
    pub(crate) fn wait_for(&mut self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.receiver.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line containing {needle:?} within {WAIT:?}; saw: {:#?}",
                    self.seen
                ),
            }
        }
    }
}

/// A `weft serve` process with HTTP on a free port.
pub(crate) struct ServeProcess {
    pub child: Child,
    pub stderr: Lines,
    pub http: SocketAddr,
    pub ready_file: std::path::PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl ServeProcess {
    /// A node with a fresh data directory that is removed when it stops.
    pub(crate) fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut node = Self::start_in(dir.path());
        node._dir = Some(dir);
        node
    }

    /// A node whose data (and ready file) live in `dir`, which outlives it.
    pub(crate) fn start_in(dir: &std::path::Path) -> Self {
        let ready_file = dir.join("ready.json");
        let mut child = weft()
            .args([
                "serve",
                "--http",
                "127.0.0.1:0",
                "--kafka",
                "127.0.0.1:0",
                "--mqtt",
                "127.0.0.1:0",
                "--node-name",
                "test-node",
                "--ready-file",
            ])
            .arg(&ready_file)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = Lines::new(child.stderr.take().unwrap());
        let line = stderr.wait_for("serving http on ");
        let http = line.rsplit(' ').next().unwrap().parse().unwrap();
        Self {
            child,
            stderr,
            http,
            ready_file,
            _dir: None,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.http)
    }

    /// Kills the process with SIGKILL: no chance to flush or clean up.
    pub(crate) fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends SIGTERM and waits for a graceful exit.
    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.stderr.wait_for("node stopped");
        self.child.wait().unwrap()
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
