//! [`GroupCoordinator`]: the tokio handle of the coordinator. One task owns the
//! [`Coordinator`], takes commands from a bounded channel and runs its timers; committed
//! offsets are written by [`OffsetStore`] in `spawn_blocking`, durably before the commit
//! is answered, one commit at a time per group.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};
use weft_broker::state::StateDir;

use super::GroupError;
use super::coordinator::{Coordinator, CoordinatorConfig};
use super::offsets::{CommittedOffset, FetchedOffset, OffsetStore, OffsetStoreError};
use super::types::{
    GroupDescription, GroupListing, GroupState, HeartbeatRequest, JoinRequest, JoinResponse,
    LeaveRequest, LeaveResponse, LeftMember, SyncRequest, SyncResponse,
};

mod task;

use task::{Command, GroupTask};

/// The longest offset metadata accepted (Kafka's `offset.metadata.max.bytes` default).
pub const MAX_METADATA_BYTES: usize = 4096;
/// How many commands may wait for the task.
const COMMAND_CAPACITY: usize = 1024;

/// Starting the coordinator failed.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The offsets directory could not be loaded.
    #[error("failed to load committed offsets")]
    Offsets(#[source] OffsetStoreError),
    /// The blocking load task failed.
    #[error("offset loading task failed")]
    Join(#[source] tokio::task::JoinError),
}

/// The group coordinator: cheap to clone; every clone talks to the same task.
#[derive(Debug, Clone)]
pub struct GroupCoordinator {
    commands: mpsc::Sender<Command>,
    offsets: Arc<OffsetStore>,
    /// One lock per group with a commit or delete under way.
    commit_locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl GroupCoordinator {
    /// Loads the committed offsets in `offsets_dir` (every group with offsets becomes
    /// known as `Empty`; a path is a directory of the file system, a node passes its
    /// part of the node's disk, `Broker::state_dir`) and starts the coordinator task.
    pub async fn spawn(
        config: CoordinatorConfig,
        offsets_dir: impl Into<StateDir>,
    ) -> Result<GroupCoordinator, SpawnError> {
        let dir = offsets_dir.into();
        let store = tokio::task::spawn_blocking(move || OffsetStore::open(dir))
            .await
            .map_err(SpawnError::Join)?
            .map_err(SpawnError::Offsets)?;
        let mut coordinator = Coordinator::new(config);
        for group_id in store.groups() {
            coordinator.register_offsets_group(&group_id);
        }
        let (commands, receiver) = mpsc::channel(COMMAND_CAPACITY);
        tokio::spawn(GroupTask::new(coordinator, receiver).run());
        Ok(GroupCoordinator {
            commands,
            offsets: Arc::new(store),
            commit_locks: Arc::default(),
        })
    }

    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (sender, receiver) = oneshot::channel();
        self.commands.send(command(sender)).await.ok()?;
        receiver.await.ok()
    }

    /// JoinGroup; waits for the join phase to complete.
    pub async fn join(&self, request: JoinRequest) -> JoinResponse {
        let member_id = request.member_id.clone();
        self.ask(|reply| Command::Join(request, reply))
            .await
            .unwrap_or_else(|| JoinResponse::error(GroupError::CoordinatorNotAvailable, member_id))
    }

    /// SyncGroup; a follower waits for the leader's assignments.
    pub async fn sync(&self, request: SyncRequest) -> SyncResponse {
        self.ask(|reply| Command::Sync(request, reply))
            .await
            .unwrap_or_else(|| SyncResponse::error(GroupError::CoordinatorNotAvailable))
    }

    /// Heartbeat.
    pub async fn heartbeat(&self, request: HeartbeatRequest) -> Result<(), GroupError> {
        self.ask(|reply| Command::Heartbeat(request, reply))
            .await
            .unwrap_or(Err(GroupError::CoordinatorNotAvailable))
    }

    /// LeaveGroup.
    pub async fn leave(&self, request: LeaveRequest) -> LeaveResponse {
        let members: Vec<LeftMember> = request
            .members
            .iter()
            .map(|(member_id, group_instance_id)| LeftMember {
                member_id: member_id.clone(),
                group_instance_id: group_instance_id.clone(),
                error: Some(GroupError::CoordinatorNotAvailable),
            })
            .collect();
        self.ask(|reply| Command::Leave(request, reply))
            .await
            .unwrap_or(LeaveResponse {
                error: Some(GroupError::CoordinatorNotAvailable),
                members,
            })
    }

    /// OffsetCommit: validated against the group, then written durably. Returns one
    /// result per offset, in order. The commit time is stamped here; metadata longer than
    /// [`MAX_METADATA_BYTES`] is refused with `OFFSET_METADATA_TOO_LARGE`.
    pub async fn commit_offsets(
        &self,
        group_id: &str,
        generation_id: i32,
        member_id: &str,
        instance_id: Option<&str>,
        offsets: Vec<CommittedOffset>,
    ) -> Vec<(String, i32, Result<(), GroupError>)> {
        let lock = self.commit_lock(group_id);
        let result = {
            let _guard = lock.lock().await;
            self.commit_locked(group_id, generation_id, member_id, instance_id, offsets)
                .await
        };
        self.release_commit_lock(group_id, lock);
        result
    }

    async fn commit_locked(
        &self,
        group_id: &str,
        generation_id: i32,
        member_id: &str,
        instance_id: Option<&str>,
        offsets: Vec<CommittedOffset>,
    ) -> Vec<(String, i32, Result<(), GroupError>)> {
        let validation = self
            .ask(|reply| Command::ValidateCommit {
                group_id: group_id.to_owned(),
                generation_id,
                member_id: member_id.to_owned(),
                instance_id: instance_id.map(str::to_owned),
                reply,
            })
            .await
            .unwrap_or(Err(GroupError::CoordinatorNotAvailable));
        let mut results: Vec<(String, i32, Result<(), GroupError>)> = offsets
            .iter()
            .map(|offset| {
                let result = match validation {
                    Err(error) => Err(error),
                    Ok(())
                        if offset
                            .metadata
                            .as_ref()
                            .is_some_and(|m| m.len() > MAX_METADATA_BYTES) =>
                    {
                        Err(GroupError::OffsetMetadataTooLarge)
                    }
                    Ok(()) => Ok(()),
                };
                (offset.topic.clone(), offset.partition, result)
            })
            .collect();
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
            });
        let accepted: Vec<CommittedOffset> = offsets
            .into_iter()
            .zip(&results)
            .filter(|(_, (_, _, result))| result.is_ok())
            .map(|(offset, _)| CommittedOffset {
                commit_time_ms: now_ms,
                ..offset
            })
            .collect();
        if accepted.is_empty() {
            return results;
        }
        let store = Arc::clone(&self.offsets);
        let group = group_id.to_owned();
        let written = tokio::task::spawn_blocking(move || store.commit(&group, accepted)).await;
        let failed = match written {
            Ok(Ok(())) => false,
            Ok(Err(error)) => {
                tracing::warn!(%error, group = %group_id, "offset commit failed");
                true
            }
            Err(error) => {
                tracing::warn!(%error, group = %group_id, "offset commit task failed");
                true
            }
        };
        if failed {
            for (_, _, result) in &mut results {
                if result.is_ok() {
                    *result = Err(GroupError::KafkaStorageError);
                }
            }
        }
        results
    }

    /// OffsetFetch: the partitions asked for (offset -1 where nothing is committed), or
    /// every committed partition of the group if `partitions` is `None`.
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        partitions: Option<&[(String, Vec<i32>)]>,
    ) -> Vec<FetchedOffset> {
        self.offsets.fetch(group_id, partitions)
    }

    /// DescribeGroups.
    pub async fn describe(&self, group_ids: Vec<String>) -> Vec<GroupDescription> {
        let fallback = group_ids.clone();
        self.ask(|reply| Command::Describe(group_ids, reply))
            .await
            .unwrap_or_else(|| {
                fallback
                    .into_iter()
                    .map(|group_id| GroupDescription {
                        group_id,
                        state: GroupState::Dead,
                        protocol_type: String::new(),
                        protocol: String::new(),
                        members: Vec::new(),
                    })
                    .collect()
            })
    }

    /// ListGroups: the groups in one of `states` (every group if empty).
    pub async fn list(&self, states: Vec<GroupState>) -> Result<Vec<GroupListing>, GroupError> {
        self.ask(|reply| Command::List(states, reply))
            .await
            .ok_or(GroupError::CoordinatorNotAvailable)
    }

    /// DeleteGroups: each `Empty` group (or group known only by its offsets) is deleted
    /// with its committed offsets.
    pub async fn delete_groups(
        &self,
        group_ids: Vec<String>,
    ) -> Vec<(String, Result<(), GroupError>)> {
        let mut results = Vec::with_capacity(group_ids.len());
        for group_id in group_ids {
            let lock = self.commit_lock(&group_id);
            let result = {
                let _guard = lock.lock().await;
                self.delete_locked(&group_id).await
            };
            self.release_commit_lock(&group_id, lock);
            results.push((group_id, result));
        }
        results
    }

    async fn delete_locked(&self, group_id: &str) -> Result<(), GroupError> {
        self.ask(|reply| Command::Delete(group_id.to_owned(), reply))
            .await
            .unwrap_or(Err(GroupError::CoordinatorNotAvailable))?;
        let store = Arc::clone(&self.offsets);
        let group = group_id.to_owned();
        match tokio::task::spawn_blocking(move || store.delete(&group)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => {
                tracing::warn!(%error, group = %group_id, "deleting group offsets failed");
                Err(GroupError::KafkaStorageError)
            }
            Err(error) => {
                tracing::warn!(%error, group = %group_id, "deleting group offsets failed");
                Err(GroupError::KafkaStorageError)
            }
        }
    }

    /// Drops every group's committed offsets of a deleted topic.
    pub async fn delete_topic_offsets(&self, topic: &str) -> Result<(), GroupError> {
        let store = Arc::clone(&self.offsets);
        let topic_name = topic.to_owned();
        match tokio::task::spawn_blocking(move || store.delete_topic(&topic_name)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => {
                tracing::warn!(%error, topic, "deleting topic offsets failed");
                Err(GroupError::KafkaStorageError)
            }
            Err(error) => {
                tracing::warn!(%error, topic, "deleting topic offsets failed");
                Err(GroupError::KafkaStorageError)
            }
        }
    }

    /// Stops the task: waiting requests are answered with `COORDINATOR_NOT_AVAILABLE`, as
    /// is everything asked afterwards. Returns once the task has stopped.
    pub async fn shutdown(&self) {
        let _ = self.ask(Command::Shutdown).await;
    }

    fn commit_lock(&self, group_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .commit_locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(locks.entry(group_id.to_owned()).or_default())
    }

    /// Forgets a group's lock once nobody else holds it (clones are made under the same
    /// mutex, so the count is exact).
    fn release_commit_lock(&self, group_id: &str, lock: Arc<tokio::sync::Mutex<()>>) {
        let mut locks = self
            .commit_locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if Arc::strong_count(&lock) == 2 {
            locks.remove(group_id);
        }
    }
}

#[cfg(test)]
mod tests;
