//! [`GroupTask`]: owns the [`Coordinator`], runs its commands and timers, and routes its
//! replies to the waiting callers.

use std::collections::HashMap;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::super::GroupError;
use super::super::coordinator::Coordinator;
use super::super::types::{
    GroupDescription, GroupListing, GroupState, HeartbeatRequest, JoinRequest, JoinResponse,
    LeaveRequest, LeaveResponse, Reply, ReplyId, SyncRequest, SyncResponse,
};

/// What the handle asks of the task.
#[derive(Debug)]
pub(super) enum Command {
    Join(JoinRequest, oneshot::Sender<JoinResponse>),
    Sync(SyncRequest, oneshot::Sender<SyncResponse>),
    Heartbeat(HeartbeatRequest, oneshot::Sender<Result<(), GroupError>>),
    Leave(LeaveRequest, oneshot::Sender<LeaveResponse>),
    ValidateCommit {
        group_id: String,
        generation_id: i32,
        member_id: String,
        instance_id: Option<String>,
        reply: oneshot::Sender<Result<(), GroupError>>,
    },
    Describe(Vec<String>, oneshot::Sender<Vec<GroupDescription>>),
    List(Vec<GroupState>, oneshot::Sender<Vec<GroupListing>>),
    Delete(String, oneshot::Sender<Result<(), GroupError>>),
    Shutdown(oneshot::Sender<()>),
}

/// A caller waiting for a reply from the coordinator.
#[derive(Debug)]
enum Waiting {
    Join(oneshot::Sender<JoinResponse>),
    Sync(oneshot::Sender<SyncResponse>),
    Heartbeat(oneshot::Sender<Result<(), GroupError>>),
    Leave(oneshot::Sender<LeaveResponse>),
}

/// The task that owns the coordinator.
#[derive(Debug)]
pub(super) struct GroupTask {
    coordinator: Coordinator,
    commands: mpsc::Receiver<Command>,
    waiting: HashMap<ReplyId, Waiting>,
    next_reply: ReplyId,
}

impl GroupTask {
    pub(super) fn new(coordinator: Coordinator, commands: mpsc::Receiver<Command>) -> Self {
        GroupTask {
            coordinator,
            commands,
            waiting: HashMap::new(),
            next_reply: 0,
        }
    }

    pub(super) async fn run(mut self) {
        loop {
            let deadline = self.coordinator.next_deadline();
            let command = tokio::select! {
                command = self.commands.recv() => command,
                () = sleep_until(deadline) => {
                    self.coordinator.tick(Instant::now());
                    self.deliver();
                    continue;
                }
            };
            let Some(command) = command else {
                break;
            };
            let now = Instant::now();
            self.coordinator.tick(now);
            if let Command::Shutdown(done) = command {
                // Waiting callers see their reply channel close.
                self.waiting.clear();
                self.commands.close();
                tracing::info!("group coordinator stopped");
                let _ = done.send(());
                return;
            }
            self.execute(now, command);
            self.deliver();
        }
    }

    fn execute(&mut self, now: Instant, command: Command) {
        let reply = self.next_reply;
        self.next_reply += 1;
        let coordinator = &mut self.coordinator;
        match command {
            Command::Join(request, sender) => {
                self.waiting.insert(reply, Waiting::Join(sender));
                coordinator.join(now, reply, request);
            }
            Command::Sync(request, sender) => {
                self.waiting.insert(reply, Waiting::Sync(sender));
                coordinator.sync(now, reply, request);
            }
            Command::Heartbeat(request, sender) => {
                self.waiting.insert(reply, Waiting::Heartbeat(sender));
                coordinator.heartbeat(now, reply, request);
            }
            Command::Leave(request, sender) => {
                self.waiting.insert(reply, Waiting::Leave(sender));
                coordinator.leave(now, reply, request);
            }
            Command::ValidateCommit {
                group_id,
                generation_id,
                member_id,
                instance_id,
                reply,
            } => {
                let result = coordinator.validate_commit(
                    now,
                    &group_id,
                    generation_id,
                    &member_id,
                    instance_id.as_deref(),
                );
                let _ = reply.send(result);
            }
            Command::Describe(group_ids, sender) => {
                let descriptions = group_ids
                    .iter()
                    .map(|group_id| coordinator.describe(group_id))
                    .collect();
                let _ = sender.send(descriptions);
            }
            Command::List(states, sender) => {
                let _ = sender.send(coordinator.list(&states));
            }
            Command::Delete(group_id, sender) => {
                let _ = sender.send(coordinator.delete(&group_id));
            }
            Command::Shutdown(_) => {}
        }
    }

    /// Sends every reply the coordinator has to its caller (a caller that went away is
    /// skipped).
    fn deliver(&mut self) {
        while let Some((reply, answer)) = self.coordinator.poll_output() {
            let Some(waiting) = self.waiting.remove(&reply) else {
                tracing::warn!(reply, "group coordinator reply without a caller");
                continue;
            };
            let delivered = match (waiting, answer) {
                (Waiting::Join(sender), Reply::Join(response)) => sender.send(response).is_ok(),
                (Waiting::Sync(sender), Reply::Sync(response)) => sender.send(response).is_ok(),
                (Waiting::Heartbeat(sender), Reply::Heartbeat(result)) => {
                    sender.send(result).is_ok()
                }
                (Waiting::Leave(sender), Reply::Leave(response)) => sender.send(response).is_ok(),
                (_, answer) => {
                    tracing::warn!(reply, ?answer, "group coordinator reply of the wrong kind");
                    true
                }
            };
            if !delivered {
                tracing::debug!(reply, "group coordinator caller went away");
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)).await,
        None => std::future::pending().await,
    }
}
