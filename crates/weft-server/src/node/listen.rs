//! The listeners a node serves on: bound by [`bind`] (or by the caller, on port 0 in
//! tests) before the node starts, so a taken port fails before anything else happens.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;

use tokio::net::TcpListener;

use super::StartError;
use crate::config::{Config, Listen};

/// The listeners a node serves on, already bound. `None` means "off".
#[derive(Debug, Default)]
pub struct Listeners {
    /// The HTTP API listener.
    pub http: Option<TcpListener>,
    /// The Kafka listener.
    pub kafka: Option<TcpListener>,
    /// The MQTT listener.
    pub mqtt: Option<TcpListener>,
    /// The mesh listener (links from other nodes).
    pub mesh: Option<TcpListener>,
}

impl Listeners {
    /// Listener name → the address it is bound to (port 0 resolved), for `/v1/node`,
    /// the Kafka advertised address and the startup log line.
    pub(super) fn addresses(&self) -> Result<BTreeMap<String, SocketAddr>, StartError> {
        let mut addresses = BTreeMap::new();
        let named = [
            ("http", &self.http),
            ("kafka", &self.kafka),
            ("mqtt", &self.mqtt),
            ("mesh", &self.mesh),
        ];
        for (name, listener) in named {
            if let Some(listener) = listener {
                let address = listener
                    .local_addr()
                    .map_err(|source| StartError::LocalAddress {
                        listener: name,
                        source,
                    })?;
                addresses.insert(name.to_owned(), address);
            }
        }
        Ok(addresses)
    }
}

/// Binds every listener `config` enables.
pub async fn bind(config: &Config) -> Result<Listeners, StartError> {
    Ok(Listeners {
        http: bind_one("http", "--http", config.http.listen).await?,
        kafka: bind_one("kafka", "--kafka", config.kafka.listen).await?,
        mqtt: bind_one("mqtt", "--mqtt", config.mqtt.listen).await?,
        mesh: bind_one("mesh", "--mesh", config.mesh.listen).await?,
    })
}

/// Binds one listener, or nothing when it is off.
async fn bind_one(
    listener: &'static str,
    flag: &'static str,
    listen: Listen,
) -> Result<Option<TcpListener>, StartError> {
    let Listen::Addr(address) = listen else {
        return Ok(None);
    };
    TcpListener::bind(address)
        .await
        .map(Some)
        .map_err(|source| {
            if source.kind() == io::ErrorKind::AddrInUse {
                StartError::AddressInUse {
                    listener,
                    address,
                    flag,
                }
            } else {
                StartError::Bind {
                    listener,
                    address,
                    flag,
                    source,
                }
            }
        })
}
