//! The mesh: links to other nodes (`--mesh`, `--join`), and what it shows on the HTTP
//! listener (`/v1/mesh`, `/v1/mesh/route`, its counters in `/v1/node`).

use std::sync::Arc;

use tokio::net::TcpListener;
use weft_broker::Broker;
use weft_mesh::server::{MeshContext, MeshHandle, MeshOptions};

use super::{Serving, StartError};
use crate::config::{Config, LinkCompression};

/// Starts the mesh when the config enables it, serving links on `listener`.
pub(super) fn start(
    config: &Config,
    broker: &Broker,
    listener: Option<TcpListener>,
    serving: &mut Serving,
) -> Result<Option<MeshHandle>, StartError> {
    if !config.mesh.is_enabled() {
        return Ok(None);
    }
    let handle = MeshContext::start(broker.clone(), options(config))
        .map_err(|source| StartError::Mesh { source })?;
    if let Some(listener) = listener {
        let shutdown = serving.shutdown();
        let handle = handle.clone();
        serving.spawn(async move {
            weft_mesh::server::serve(listener, handle, shutdown).await;
            Ok(())
        });
    }
    Ok(Some(handle))
}

/// The mesh's options from the config's `mesh` section.
fn options(config: &Config) -> MeshOptions {
    let mut options = MeshOptions::new(config.mesh.name.clone(), config.node_name.to_string());
    options.join = config.mesh.join.clone();
    options.compression = match config.mesh.compression {
        LinkCompression::None => None,
        LinkCompression::Lz4 => Some(weft_mesh::wire::Compression::Lz4),
        LinkCompression::Zstd => Some(weft_mesh::wire::Compression::Zstd),
    };
    options.follow_broker_interest = true;
    options.data_dir = Some(config.data_dir.clone());
    options.outbox_max_events =
        usize::try_from(config.mesh.outbox_max_events).unwrap_or(usize::MAX);
    options.outbox_max_bytes = config.mesh.outbox_max_bytes;
    options.durable_interest_expiry = config.mesh.durable_interest_expiry;
    options
}

/// `GET /v1/mesh/route?topic=T`: the mesh's route explanation as JSON.
pub(super) fn route(handle: &MeshHandle) -> weft_http::QuerySource {
    let handle = handle.clone();
    weft_http::QuerySource(Arc::new(move |topic: String| {
        let handle = handle.clone();
        Box::pin(async move {
            let topic = weft_core::Topic::new(topic).ok()?;
            let route = handle.explain_route(topic).await.ok()?;
            serde_json::to_value(route).ok()
        })
    }))
}

/// The mesh's store-and-forward counters in `/v1/node` (`mesh_outbox_depth`, ...).
pub(super) fn counters(handle: &MeshHandle) -> weft_http::CounterSource {
    let handle = handle.clone();
    weft_http::CounterSource(Arc::new(move || handle.durable_counters()))
}

/// `GET /v1/mesh`: the mesh handle's status as JSON.
pub(super) fn status(handle: &MeshHandle) -> weft_http::StatusSource {
    let handle = handle.clone();
    weft_http::StatusSource(Arc::new(move || {
        let handle = handle.clone();
        Box::pin(async move {
            let status = handle.status().await.ok()?;
            serde_json::to_value(status).ok()
        })
    }))
}

/// Forgets a departed node for `DELETE /v1/mesh/nodes/{node}`.
pub(super) fn forget(handle: &MeshHandle) -> weft_http::CommandSource {
    use weft_http::CommandRefusal;
    let handle = handle.clone();
    weft_http::CommandSource(Arc::new(move |name: String| {
        let handle = handle.clone();
        Box::pin(async move {
            let node = weft_mesh::NodeName::new(&name)
                .map_err(|error| CommandRefusal::Invalid(error.to_string()))?;
            match handle.forget(node).await {
                Ok(Ok(forgotten)) => Ok(serde_json::json!({
                    "node": name,
                    "interest_entries": forgotten.interest_entries,
                    "dropped_events": forgotten.dropped_events,
                })),
                Ok(Err(error @ weft_mesh::ForgetError::Reachable)) => {
                    Err(CommandRefusal::Conflict(format!("{name}: {error}")))
                }
                Ok(Err(error @ weft_mesh::ForgetError::Unknown)) => {
                    Err(CommandRefusal::NotFound(format!("{name}: {error}")))
                }
                Err(_) => Err(CommandRefusal::Unavailable),
            }
        })
    }))
}
