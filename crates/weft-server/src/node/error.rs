//! Why a node could not start: one variant per step of [`super::start`].

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use weft_broker::StreamError;

use super::lock::LockHolder;

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener's address is taken by another process.
    #[error(
        "cannot listen for {listener} on {address}: the address is already in use (choose another with {flag})"
    )]
    AddressInUse {
        /// The listener's name (`http`).
        listener: &'static str,
        /// The address it tried.
        address: SocketAddr,
        /// The flag that changes it (`--http`).
        flag: &'static str,
    },
    /// A listener could not be bound for another reason.
    #[error("cannot listen for {listener} on {address} (change it with {flag})")]
    Bind {
        /// The listener's name.
        listener: &'static str,
        /// The address it tried.
        address: SocketAddr,
        /// The flag that changes it.
        flag: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The data directory could not be created.
    #[error("cannot create data directory {path}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Another node holds the data directory (its lock file, `<data_dir>/weft.lock`, is
    /// locked): two nodes on one directory would overwrite each other's acknowledged
    /// events, so this one refuses to start before it opens anything there.
    #[error(
        "data directory {path} is in use by another weft node ({}); stop it or choose another --data-dir",
        describe_holder(holder.as_ref())
    )]
    DataDirInUse {
        /// The data directory.
        path: PathBuf,
        /// Who holds it, as the holder wrote it; `None` when it has not written it yet.
        holder: Option<LockHolder>,
    },
    /// The data directory's lock file could not be created or locked (a file system
    /// without `flock`, permissions).
    #[error("cannot lock the data directory with {path}")]
    DataDirLock {
        /// The lock file (`<data_dir>/weft.lock`).
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The streams in the data directory could not be opened.
    #[error("cannot open the streams in {path}")]
    Streams {
        /// The streams directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: StreamError,
    },
    /// The Kafka front end's state (cluster id, committed offsets) could not be loaded.
    #[error("cannot start the kafka front end with data in {path}")]
    Kafka {
        /// Its directory (`<data_dir>/kafka`).
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The MQTT front end's stored sessions or retained messages could not be loaded.
    #[error("cannot start the mqtt front end with data in {path}")]
    Mqtt {
        /// Its directory (`<data_dir>/mqtt`).
        path: PathBuf,
        /// Why.
        #[source]
        source: weft_mqtt::server::MqttStartError,
    },
    /// The mesh could not start (an invalid mesh or node name).
    #[error("cannot start the mesh")]
    Mesh {
        /// Why.
        #[source]
        source: weft_mesh::server::MeshError,
    },
    /// The stored flows (`<data_dir>/flows`) could not be read.
    #[error("cannot open the flows in {path}")]
    Flows {
        /// Its directory (`<data_dir>/flows`).
        path: PathBuf,
        /// Why.
        #[source]
        source: weft_flow::controller::StoreError,
    },
    /// A bound listener has no local address (should not happen).
    #[error("cannot read the local address of the {listener} listener")]
    LocalAddress {
        /// The listener's name.
        listener: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

/// The holder as the refusal names it.
fn describe_holder(holder: Option<&LockHolder>) -> String {
    // The holder writes its name just after it takes the lock: a node refused in between
    // still says the directory is taken.
    holder.map_or_else(|| "not yet identified".to_owned(), ToString::to_string)
}
