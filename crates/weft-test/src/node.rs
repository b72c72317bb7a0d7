//! An in-process node on port 0.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use weft_broker::Broker;
use weft_broker::state::{Disk, FsDisk};
use weft_server::RunningNode;
use weft_server::config::{Config, Listen};

use crate::subscriber::{SseSubscriber, WsSubscriber};

/// A running node for tests. Shut it down with [`TestNode::shutdown`]; dropping it
/// aborts its tasks with the test's runtime.
pub struct TestNode {
    node: RunningNode,
    http: SocketAddr,
    kafka: Option<SocketAddr>,
    mqtt: Option<SocketAddr>,
    mesh: Option<SocketAddr>,
    client: reqwest::Client,
    config: Config,
    /// Where the node keeps its state (the file system unless started on another disk).
    disk: Arc<dyn Disk>,
    /// The temporary data directory, when the node owns it.
    _data_dir: Option<tempfile::TempDir>,
}

impl TestNode {
    /// A node with the embedded defaults (except its port and data directory).
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(|_| {}).await
    }

    /// A node whose configuration `configure` may change first.
    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> anyhow::Result<Self> {
        let data_dir = tempfile::tempdir().context("creating a data directory")?;
        let config = Self::test_config(data_dir.path(), configure);
        Self::launch(config, FsDisk::shared(), Some(data_dir)).await
    }

    /// A node whose state is on `disk` (a `SimulatedDisk` mount in power-loss tests)
    /// under `data_dir`, which must be a directory of the file system all the same: the
    /// data directory's lock file is there. Start it again on the same `data_dir` (with
    /// a new mount after a power loss) to see what survived. Dropping the node without
    /// [`TestNode::shutdown`] stops its listeners and releases the lock, as a crash
    /// would; what is left of it keeps running in the test's runtime, so a power-loss
    /// test cuts the disk's power first.
    pub async fn start_on_disk(
        data_dir: &Path,
        disk: Arc<dyn Disk>,
        configure: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Self> {
        let config = Self::test_config(data_dir, configure);
        Self::launch(config, disk, None).await
    }

    /// The embedded defaults with `data_dir`, changed by `configure`, then every
    /// listener that is on bound to a free loopback port.
    fn test_config(data_dir: &Path, configure: impl FnOnce(&mut Config)) -> Config {
        let mut config = Config::defaults();
        config.data_dir = data_dir.to_owned();
        config.http.listen = Listen::Addr(SocketAddr::from(([127, 0, 0, 1], 0)));
        configure(&mut config);
        // Every listener the configuration turns on is bound to a free loopback port.
        let loopback = Listen::Addr(SocketAddr::from(([127, 0, 0, 1], 0)));
        config.http.listen = loopback;
        for listen in [
            &mut config.kafka.listen,
            &mut config.mqtt.listen,
            &mut config.mesh.listen,
        ] {
            if !listen.is_off() {
                *listen = loopback;
            }
        }
        config
    }

    /// Stops the node gracefully and starts it again with the same configuration and
    /// data directory (its listeners get new ports).
    pub async fn restart(self) -> anyhow::Result<Self> {
        let TestNode {
            node,
            config,
            disk,
            _data_dir: data_dir,
            ..
        } = self;
        node.shutdown().await?;
        Self::launch(config, disk, data_dir).await
    }

    async fn launch(
        config: Config,
        disk: Arc<dyn Disk>,
        data_dir: Option<tempfile::TempDir>,
    ) -> anyhow::Result<Self> {
        let listeners = weft_server::bind(&config)
            .await
            .context("binding listeners")?;
        let node = weft_server::start_on_disk(&config, listeners, Arc::clone(&disk)).await?;
        let address = |name: &str| node.addresses().get(name).copied();
        let http = address("http").context("the http listener has no address")?;
        let (kafka, mqtt, mesh) = (address("kafka"), address("mqtt"), address("mesh"));
        Ok(Self {
            node,
            http,
            kafka,
            mqtt,
            mesh,
            client: reqwest::Client::new(),
            config,
            disk,
            _data_dir: data_dir,
        })
    }

    /// The node's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The HTTP listener's address.
    pub fn http_address(&self) -> SocketAddr {
        self.http
    }

    /// The Kafka listener's address (`None` when the config turned it off).
    pub fn kafka_address(&self) -> Option<SocketAddr> {
        self.kafka
    }

    /// The MQTT listener's address (`None` when the config turned it off).
    pub fn mqtt_address(&self) -> Option<SocketAddr> {
        self.mqtt
    }

    /// The mesh listener's address (`None` unless the config turns it on).
    pub fn mesh_address(&self) -> Option<SocketAddr> {
        self.mesh
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// The node's broker.
    pub fn broker(&self) -> &Broker {
        self.node.broker()
    }

    /// An HTTP client for custom requests.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A `POST /v1/topics/{topic}` request builder.
    pub fn publish_request(&self, topic: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(&format!("/v1/topics/{topic}")))
    }

    /// Publishes a plain body (the node synthesises the CloudEvents attributes) and
    /// returns the accepted ids; fails unless the node answers `202`.
    pub async fn publish_plain(
        &self,
        topic: &str,
        content_type: &str,
        data: &'static [u8],
    ) -> anyhow::Result<Vec<String>> {
        let response = self
            .publish_request(topic)
            .header("content-type", content_type)
            .body(data)
            .send()
            .await?;
        accepted_ids(response).await
    }

    /// Subscribes over Server-Sent Events; returns once the subscription is live.
    pub async fn subscribe_sse(&self, filters: &[&str]) -> anyhow::Result<SseSubscriber> {
        SseSubscriber::connect(
            &self.client,
            &self.url(&subscribe_path("/v1/subscribe", filters, "")),
        )
        .await
    }

    /// Subscribes over Server-Sent Events with extra query parameters (`queue=..&overflow=..`).
    pub async fn subscribe_sse_with(
        &self,
        filters: &[&str],
        extra_query: &str,
    ) -> anyhow::Result<SseSubscriber> {
        SseSubscriber::connect(
            &self.client,
            &self.url(&subscribe_path("/v1/subscribe", filters, extra_query)),
        )
        .await
    }

    /// Subscribes over WebSocket; returns once the subscription is live.
    pub async fn subscribe_ws(&self, filters: &[&str]) -> anyhow::Result<WsSubscriber> {
        let url = format!(
            "ws://{}{}",
            self.http,
            subscribe_path("/v1/ws", filters, "")
        );
        WsSubscriber::connect(&url).await
    }

    /// Stops the node gracefully.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.node.shutdown().await?;
        Ok(())
    }
}

/// Sends a request and returns its status and JSON body (`null` when the body is empty).
pub async fn call_json(
    request: reqwest::RequestBuilder,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    let body = response.bytes().await?;
    let value = if body.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&body)?
    };
    Ok((status, value))
}

/// The ids from a `202 Accepted` publish reply; an error with the body otherwise.
pub async fn accepted_ids(response: reqwest::Response) -> anyhow::Result<Vec<String>> {
    let status = response.status();
    let body: serde_json::Value = response.json().await?;
    anyhow::ensure!(
        status == reqwest::StatusCode::ACCEPTED,
        "publish answered {status}: {body}"
    );
    let ids = body["ids"]
        .as_array()
        .context("no ids in the reply")?
        .iter()
        .filter_map(|id| id.as_str().map(str::to_owned))
        .collect();
    Ok(ids)
}

fn subscribe_path(path: &str, filters: &[&str], extra_query: &str) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for filter in filters {
        query.append_pair("filter", filter);
    }
    let mut query = query.finish();
    if !extra_query.is_empty() {
        query.push('&');
        query.push_str(extra_query);
    }
    format!("{path}?{query}")
}
