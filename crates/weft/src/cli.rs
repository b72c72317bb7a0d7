//! The command line: every command, flag and environment variable, with its help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod flows;

pub(crate) use flows::*;

/// weft: an event mesh — a multi-protocol event broker in one binary.
#[derive(Debug, Parser)]
#[command(name = "weft", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(
    clippy::large_enum_variant,
    reason = "parsed once per process; boxing would only complicate matching"
)]
pub(crate) enum Command {
    /// Run a node (zero-config: HTTP on 127.0.0.1:8080, data in ./weft-data).
    Serve(ServeArgs),
    /// Publish an event to a topic on a running node.
    Pub(PubArgs),
    /// Subscribe to topics on a running node and print the events that arrive.
    Sub(SubArgs),
    /// Manage durable streams and read them.
    #[command(subcommand)]
    Stream(StreamCommand),
    /// Consume a stream as a member of a durable consumer group, acknowledging what it
    /// prints (the consumer is created, reading from the start, if it does not exist).
    Consume(ConsumeArgs),
    /// Manage durable consumers.
    #[command(subcommand)]
    Consumer(ConsumerCommand),
    /// Look at the mesh of linked nodes.
    #[command(subcommand)]
    Mesh(MeshCommand),
    /// Apply manifests to a node: create, update (and with --prune delete) resources.
    Apply(ApplyArgs),
    /// Show what `weft apply` would change, without changing anything.
    Diff(DiffArgs),
    /// List resources (routes, sinks, sources, streams) with their status.
    Get(GetArgs),
    /// Delete the resources named in manifests (-f), or one resource (KIND NAME).
    Delete(DeleteArgs),
    /// Test and explain flows locally.
    #[command(subcommand)]
    Flow(FlowCommand),
    /// CloudEvents SQL tools.
    #[command(subcommand)]
    Cesql(CesqlCommand),
    /// Print weft's version.
    Version,
}

/// Flags of `weft consume`.
#[derive(Debug, Args)]
pub(crate) struct ConsumeArgs {
    /// The stream to consume.
    pub stream: String,
    /// The durable consumer (group) name; members with the same name share the work.
    #[arg(long, value_name = "NAME")]
    pub group: String,
    /// This member's id within the group; give each concurrent process its own to share
    /// partitions between them [default: weft-cli].
    #[arg(long, value_name = "ID")]
    pub member: Option<String>,
    /// Exit after this many events.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Negatively acknowledge each event instead of acknowledging it (it is redelivered
    /// after the consumer's backoff, then dead-lettered after max deliveries).
    #[arg(long)]
    pub nack: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Json)]
    pub output: Output,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `weft mesh …`
#[derive(Debug, Subcommand)]
pub(crate) enum MeshCommand {
    /// Nodes, links (with their counters) and interest, as the node at --server sees them.
    Status(MeshStatusArgs),
    /// Where an event on TOPIC published at the node at --server would travel, and why:
    /// which remote interest matched, tree edges, durable or live, queue group choices.
    Route(MeshRouteArgs),
    /// Forget NODE, which left the mesh for good: drop its durable interest and the events
    /// the node at --server keeps for it, so publishes no longer wait for it (or get 503
    /// mesh-outbox-full). Refused while NODE is reachable. Asks for confirmation unless
    /// --yes.
    Forget(MeshForgetArgs),
}

/// Flags of `weft mesh forget`.
#[derive(Debug, Args)]
pub(crate) struct MeshForgetArgs {
    /// The departed node's name.
    pub node: String,
    /// Do not ask for confirmation (needed when standard input is not a terminal).
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Flags of `weft mesh route`.
#[derive(Debug, Args)]
pub(crate) struct MeshRouteArgs {
    /// The topic, e.g. orders/eu/created.
    pub topic: String,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: OutputFormat,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Flags of `weft mesh status`.
#[derive(Debug, Args)]
pub(crate) struct MeshStatusArgs {
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: OutputFormat,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// How a command prints what it got.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    /// Aligned columns for people.
    Table,
    /// The JSON document as the node sent it.
    Json,
}

/// `weft consumer …`
#[derive(Debug, Subcommand)]
pub(crate) enum ConsumerCommand {
    /// List a stream's consumers.
    Ls(ConsumerListArgs),
    /// Show a consumer's settings and progress (pending, in flight, redelivered).
    Info(ConsumerNameArgs),
    /// Delete a consumer and its progress.
    Rm(ConsumerNameArgs),
}

/// Flags of `weft consumer ls`.
#[derive(Debug, Args)]
pub(crate) struct ConsumerListArgs {
    /// The stream.
    pub stream: String,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// A command that names one consumer.
#[derive(Debug, Args)]
pub(crate) struct ConsumerNameArgs {
    /// The stream.
    pub stream: String,
    /// The consumer.
    pub name: String,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `weft stream …`
#[derive(Debug, Subcommand)]
pub(crate) enum StreamCommand {
    /// Create a stream that captures every event published on a topic matching its filters.
    Create(StreamCreateArgs),
    /// List streams.
    Ls(StreamListArgs),
    /// Show a stream's settings and offsets.
    Info(StreamInfoArgs),
    /// Delete a stream and everything stored in it.
    Rm(StreamNameArgs),
    /// Print a stream's events, one JSON CloudEvent per line with `weftpartition` and
    /// `weftoffset` attributes; without --follow, stop at the stream's current end.
    Read(StreamReadArgs),
}

/// Flags of `weft stream create`.
#[derive(Debug, Args)]
pub(crate) struct StreamCreateArgs {
    /// The stream's name: 1 to 249 of A-Z a-z 0-9 . _ -
    pub name: String,
    /// A filter of topics to capture, e.g. 'orders/>'; repeatable.
    #[arg(long = "filter", value_name = "FILTER", required = true)]
    pub filters: Vec<String>,
    /// Number of partitions.
    #[arg(long, value_name = "N")]
    pub partitions: Option<u32>,
    /// Delete events older than this, e.g. 7d.
    #[arg(long, value_name = "DURATION")]
    pub retention_age: Option<String>,
    /// Keep at most this many bytes per partition, e.g. 10GiB.
    #[arg(long, value_name = "SIZE")]
    pub retention_bytes: Option<String>,
    /// Keep at most this many events per partition.
    #[arg(long, value_name = "N")]
    pub retention_events: Option<u64>,
    /// Keep only the latest event per key.
    #[arg(long)]
    pub compact: bool,
    /// At the retention size or count limit: delete old events (`old`, the default) or
    /// refuse new ones (`new`).
    #[arg(long, value_enum)]
    pub discard: Option<DiscardArg>,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// What a stream discards at its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DiscardArg {
    /// Retention deletes the oldest events.
    Old,
    /// Publishes past the limits are refused (HTTP 507).
    New,
}

impl DiscardArg {
    /// The value of the stream definition's `discard`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DiscardArg::Old => "old",
            DiscardArg::New => "new",
        }
    }
}

/// What `weft stream info` and `ls` print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum InfoOutput {
    /// A human-readable summary.
    Text,
    /// The node's JSON.
    Json,
}

/// Flags of `weft stream ls`.
#[derive(Debug, Args)]
pub(crate) struct StreamListArgs {
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = InfoOutput::Text)]
    pub output: InfoOutput,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Flags of `weft stream info`.
#[derive(Debug, Args)]
pub(crate) struct StreamInfoArgs {
    /// The stream's name.
    pub name: String,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = InfoOutput::Text)]
    pub output: InfoOutput,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// A command that names one stream.
#[derive(Debug, Args)]
pub(crate) struct StreamNameArgs {
    /// The stream's name.
    pub name: String,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Flags of `weft stream read`.
#[derive(Debug, Args)]
pub(crate) struct StreamReadArgs {
    /// The stream's name.
    pub name: String,
    /// Where to start: earliest, latest, an offset, or an RFC 3339 time.
    #[arg(long, value_name = "POSITION", default_value = "earliest")]
    pub from: String,
    /// Read only this partition.
    #[arg(long, value_name = "N")]
    pub partition: Option<u32>,
    /// Stop after this many events.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Keep waiting for new events at the end of the stream.
    #[arg(long)]
    pub follow: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Json)]
    pub output: Output,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Flags of `weft serve`. Each overrides the environment variable named in its help,
/// which overrides the configuration file; see docs/configuration.md.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// YAML configuration file.
    #[arg(long, value_name = "FILE", env = "WEFT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for the node's data (created if missing) [env: WEFT_DATA_DIR] [default: ./weft-data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The node's name, unique in a mesh [env: WEFT_NODE_NAME] [default: the host name].
    #[arg(long, value_name = "NAME")]
    pub node_name: Option<String>,
    /// HTTP listen address, or `off`; port 0 picks a free port [env: WEFT_HTTP] [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR|off")]
    pub http: Option<String>,
    /// Largest event the HTTP API accepts, e.g. 1MiB [env: WEFT_HTTP_MAX_EVENT_BYTES] [default: 1MiB].
    #[arg(long, value_name = "SIZE")]
    pub http_max_event_bytes: Option<String>,
    /// Kafka listen address, or `off`; port 0 picks a free port [env: WEFT_KAFKA] [default: 127.0.0.1:9092].
    #[arg(long, value_name = "ADDR|off")]
    pub kafka: Option<String>,
    /// Address Kafka clients are told to connect to, HOST or HOST:PORT [env: WEFT_KAFKA_ADVERTISED] [default: the listen IP (127.0.0.1 if unspecified) and bound port].
    #[arg(long, value_name = "HOST[:PORT]")]
    pub kafka_advertised: Option<String>,
    /// Whether Kafka metadata requests create missing topics [env: WEFT_KAFKA_AUTO_CREATE_TOPICS] [default: true].
    #[arg(long, value_name = "true|false")]
    pub kafka_auto_create_topics: Option<String>,
    /// Partitions of an auto-created Kafka topic, 1 to 1024 [env: WEFT_KAFKA_DEFAULT_PARTITIONS] [default: 1].
    #[arg(long, value_name = "N")]
    pub kafka_default_partitions: Option<String>,
    /// How long a Kafka request may take to arrive once its first byte did; then the connection is closed [env: WEFT_KAFKA_REQUEST_TIMEOUT] [default: 30s].
    #[arg(long, value_name = "DURATION")]
    pub kafka_request_timeout: Option<String>,
    /// The most bytes all Kafka connections together hold for requests still arriving; a connection waits past it [env: WEFT_KAFKA_MAX_INCOMPLETE_REQUEST_BYTES] [default: 256MiB].
    #[arg(long, value_name = "SIZE")]
    pub kafka_max_incomplete_request_bytes: Option<String>,
    /// MQTT listen address, or `off`; port 0 picks a free port [env: WEFT_MQTT] [default: 127.0.0.1:1883].
    #[arg(long, value_name = "ADDR|off")]
    pub mqtt: Option<String>,
    /// Longest MQTT 5.0 keep alive granted, and the one given to a client that asks for none (sent as Server Keep Alive); 0 for no maximum [env: WEFT_MQTT_MAX_KEEP_ALIVE] [default: 5m].
    #[arg(long, value_name = "DURATION")]
    pub mqtt_max_keep_alive: Option<String>,
    /// Listen for links from other weft nodes on ADDR [env: WEFT_MESH] [default: off].
    #[arg(long, value_name = "ADDR|off")]
    pub mesh: Option<String>,
    /// The mesh's name; nodes of another mesh are refused [env: WEFT_MESH_NAME] [default: weft].
    #[arg(long, value_name = "NAME")]
    pub mesh_name: Option<String>,
    /// Link to the weft node at ADDR (IP:PORT of its --mesh listener); repeatable [env: WEFT_MESH_JOIN, comma-separated].
    #[arg(long, value_name = "ADDR")]
    pub join: Vec<String>,
    /// Compression of event batches on links: lz4, zstd or none [env: WEFT_MESH_COMPRESSION] [default: lz4].
    #[arg(long, value_name = "lz4|zstd|none")]
    pub mesh_compression: Option<String>,
    /// Durable events kept per destination node while it is unreachable; beyond it matching publishes are refused [env: WEFT_MESH_OUTBOX_MAX_EVENTS] [default: 100000].
    #[arg(long, value_name = "N")]
    pub mesh_outbox_max_events: Option<String>,
    /// Payload bytes kept per destination node, e.g. 256MiB [env: WEFT_MESH_OUTBOX_MAX_BYTES] [default: 256MiB].
    #[arg(long, value_name = "SIZE")]
    pub mesh_outbox_max_bytes: Option<String>,
    /// How long a departed node's durable interest is still honoured, e.g. 7d [env: WEFT_MESH_DURABLE_INTEREST_EXPIRY] [default: 7d].
    #[arg(long, value_name = "DURATION")]
    pub mesh_durable_interest_expiry: Option<String>,
    /// Apply the flow manifests in DIR at start, pruning resources applied from it before that are gone [env: WEFT_FLOWS_RESOURCES].
    #[arg(long, value_name = "DIR")]
    pub resources: Option<PathBuf>,
    /// Re-apply the --resources directory whenever a file in it changes [env: WEFT_FLOWS_WATCH] [default: false].
    #[arg(long)]
    pub watch: bool,
    /// Write the bound listener addresses as JSON to FILE once the node is ready [env: WEFT_READY_FILE].
    #[arg(long, value_name = "FILE")]
    pub ready_file: Option<PathBuf>,
    /// Log format: text or json [env: WEFT_LOG_FORMAT] [default: text].
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Log level: error, warn, info, debug or trace [env: WEFT_LOG_LEVEL] [default: info].
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
}

/// Where the client commands find a node.
#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    /// URL of the node's HTTP API.
    #[arg(
        long,
        value_name = "URL",
        env = "WEFT_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: String,
}

/// Flags of `weft pub`.
#[derive(Debug, Args)]
pub(crate) struct PubArgs {
    /// Topic to publish on, e.g. orders/eu/created.
    pub topic: String,
    /// The event data: a literal string, `-` for standard input, or `@FILE` for a file's
    /// bytes. Omitted: the event has no data.
    pub data: Option<String>,
    /// CloudEvents `type` [default: chosen by the node: weft.http.publish].
    #[arg(long = "type", value_name = "TYPE")]
    pub ty: Option<String>,
    /// CloudEvents `source` [default: chosen by the node: weft://NODE/http/CLIENT-IP].
    #[arg(long, value_name = "URI-REF")]
    pub source: Option<String>,
    /// CloudEvents `id` [default: a new UUIDv7 per event, chosen by the node].
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// Any other attribute (subject, time, dataschema or an extension), as NAME=VALUE; repeatable.
    #[arg(long = "attr", value_name = "NAME=VALUE")]
    pub attributes: Vec<String>,
    /// Media type of the data [default: application/json if the data is JSON, text/plain if
    /// it is other UTF-8 text, application/octet-stream otherwise].
    #[arg(long, value_name = "MEDIA-TYPE")]
    pub content_type: Option<String>,
    /// Publish the event this many times.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub count: u64,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// What `weft sub` prints for each event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    /// The whole event as one line of structured CloudEvents JSON (topic in `wefttopic`).
    Json,
    /// Only the event's data, followed by a newline.
    Data,
}

/// Flags of `weft sub`.
#[derive(Debug, Args)]
pub(crate) struct SubArgs {
    /// Filters: topics where `*` matches one level and `>` one or more trailing levels,
    /// e.g. 'orders/*/us/>'. Quote them in the shell.
    #[arg(required = true, value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Exit after this many events.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Json)]
    pub output: Output,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
