//! Deterministic tests of the coordinator: time is `Instant` arithmetic, no sleeps.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::group::types::{
    HeartbeatRequest, JoinRequest, JoinResponse, LeaveRequest, SyncRequest, SyncResponse,
};

const SESSION: Duration = Duration::from_secs(10);
const REBALANCE: Duration = Duration::from_secs(30);
const DELAY: Duration = Duration::from_secs(3);
const GROUP: &str = "orders";

struct Harness {
    coordinator: Coordinator,
    now: Instant,
    next_reply: ReplyId,
    replies: HashMap<ReplyId, Reply>,
}

fn request(member_id: &str, client: &str) -> JoinRequest {
    JoinRequest {
        group_id: GROUP.to_owned(),
        member_id: member_id.to_owned(),
        group_instance_id: None,
        client_id: client.to_owned(),
        client_host: "/127.0.0.1".to_owned(),
        session_timeout: SESSION,
        rebalance_timeout: REBALANCE,
        protocol_type: "consumer".to_owned(),
        protocols: vec![("range".to_owned(), Bytes::from(format!("meta-{client}")))],
        version: 3,
        reason: None,
    }
}

fn with_protocols(mut join: JoinRequest, names: &[&str]) -> JoinRequest {
    join.protocols = names
        .iter()
        .map(|name| ((*name).to_owned(), Bytes::from(format!("{name}-meta"))))
        .collect();
    join
}

impl Harness {
    fn new() -> Self {
        Self::with_config(CoordinatorConfig {
            initial_rebalance_delay: DELAY,
            ..CoordinatorConfig::default()
        })
    }

    fn with_config(config: CoordinatorConfig) -> Self {
        Harness {
            coordinator: Coordinator::new(config),
            now: Instant::now(),
            next_reply: 0,
            replies: HashMap::new(),
        }
    }

    fn reply_id(&mut self) -> ReplyId {
        self.next_reply += 1;
        self.next_reply
    }

    fn collect(&mut self) {
        while let Some((id, reply)) = self.coordinator.poll_output() {
            assert!(
                self.replies.insert(id, reply).is_none(),
                "reply {id} answered twice"
            );
        }
    }

    fn join(&mut self, join: JoinRequest) -> ReplyId {
        let id = self.reply_id();
        self.coordinator.join(self.now, id, join);
        self.collect();
        id
    }

    fn sync(
        &mut self,
        member_id: &str,
        generation_id: i32,
        assignments: &[(&str, &str)],
    ) -> ReplyId {
        let id = self.reply_id();
        let sync = SyncRequest {
            group_id: GROUP.to_owned(),
            generation_id,
            member_id: member_id.to_owned(),
            group_instance_id: None,
            protocol_type: Some("consumer".to_owned()),
            protocol_name: None,
            assignments: assignments
                .iter()
                .map(|(member, bytes)| ((*member).to_owned(), Bytes::from(bytes.to_string())))
                .collect(),
        };
        self.coordinator.sync(self.now, id, sync);
        self.collect();
        id
    }

    fn heartbeat_as(
        &mut self,
        member_id: &str,
        instance: Option<&str>,
        generation_id: i32,
    ) -> Result<(), GroupError> {
        let id = self.reply_id();
        let heartbeat = HeartbeatRequest {
            group_id: GROUP.to_owned(),
            generation_id,
            member_id: member_id.to_owned(),
            group_instance_id: instance.map(str::to_owned),
        };
        self.coordinator.heartbeat(self.now, id, heartbeat);
        self.collect();
        match self.replies.remove(&id) {
            Some(Reply::Heartbeat(result)) => result,
            other => panic!("no heartbeat reply: {other:?}"),
        }
    }

    fn heartbeat(&mut self, member_id: &str, generation_id: i32) -> Result<(), GroupError> {
        self.heartbeat_as(member_id, None, generation_id)
    }

    fn leave(&mut self, members: &[(&str, Option<&str>)]) -> Vec<Option<GroupError>> {
        let id = self.reply_id();
        let leave = LeaveRequest {
            group_id: GROUP.to_owned(),
            members: members
                .iter()
                .map(|(member, instance)| ((*member).to_owned(), instance.map(str::to_owned)))
                .collect(),
        };
        self.coordinator.leave(self.now, id, leave);
        self.collect();
        match self.replies.remove(&id) {
            Some(Reply::Leave(response)) => response.members.into_iter().map(|m| m.error).collect(),
            other => panic!("no leave reply: {other:?}"),
        }
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.coordinator.tick(self.now);
        self.collect();
    }

    fn joined(&mut self, id: ReplyId) -> Option<JoinResponse> {
        match self.replies.remove(&id)? {
            Reply::Join(response) => Some(response),
            other => panic!("not a join reply: {other:?}"),
        }
    }

    fn synced(&mut self, id: ReplyId) -> Option<SyncResponse> {
        match self.replies.remove(&id)? {
            Reply::Sync(response) => Some(response),
            other => panic!("not a sync reply: {other:?}"),
        }
    }

    fn state(&self) -> GroupState {
        self.coordinator.describe(GROUP).state
    }

    /// Joins `clients` (v3, so no `MEMBER_ID_REQUIRED`), waits out the initial delay and
    /// syncs: returns the member ids (leader first) and the generation.
    fn stable_group(&mut self, clients: &[&str]) -> (Vec<String>, i32) {
        let ids: Vec<ReplyId> = clients
            .iter()
            .map(|client| self.join(request("", client)))
            .collect();
        // Members after the first extend the initial delay by one step.
        self.advance(if clients.len() > 1 { DELAY * 2 } else { DELAY });
        let responses: Vec<JoinResponse> = ids.iter().map(|id| self.joined(*id).unwrap()).collect();
        let generation = responses[0].generation_id;
        let leader = responses[0].leader.clone();
        let mut members: Vec<String> = responses.iter().map(|r| r.member_id.clone()).collect();
        members.sort_by_key(|member| *member != leader);
        let assignments: Vec<(String, String)> = members
            .iter()
            .map(|m| (m.clone(), format!("assigned-{m}")))
            .collect();
        let borrowed: Vec<(&str, &str)> = assignments
            .iter()
            .map(|(m, a)| (m.as_str(), a.as_str()))
            .collect();
        for member in members.iter().skip(1) {
            self.sync(member, generation, &[]);
        }
        let leader_sync = self.sync(&leader, generation, &borrowed);
        assert!(self.synced(leader_sync).unwrap().error.is_none());
        assert_eq!(self.state(), GroupState::Stable);
        self.replies.clear();
        (members, generation)
    }
}

#[test]
fn single_member_joins_syncs_and_becomes_stable() {
    let mut harness = Harness::new();
    let join = harness.join(request("", "client-a"));
    assert!(harness.joined(join).is_none(), "held for the initial delay");
    assert_eq!(harness.state(), GroupState::PreparingRebalance);
    harness.advance(DELAY);
    let response = harness.joined(join).unwrap();
    assert_eq!(response.error, None);
    assert_eq!(response.generation_id, 1);
    assert_eq!(response.leader, response.member_id);
    assert!(response.member_id.starts_with("client-a-"));
    assert_eq!(response.protocol_name.as_deref(), Some("range"));
    assert_eq!(response.members.len(), 1);
    assert_eq!(harness.state(), GroupState::CompletingRebalance);

    let member = response.member_id;
    let sync = harness.sync(&member, 1, &[(&member, "partitions-0-1")]);
    let synced = harness.synced(sync).unwrap();
    assert_eq!(synced.error, None);
    assert_eq!(synced.assignment, Bytes::from("partitions-0-1"));
    let description = harness.coordinator.describe(GROUP);
    assert_eq!(description.state, GroupState::Stable);
    assert_eq!(description.state.as_str(), "Stable");
    assert_eq!(description.protocol_type, "consumer");
    assert_eq!(description.protocol, "range");
    assert_eq!(description.members[0].client_id, "client-a");
    assert_eq!(description.members[0].client_host, "/127.0.0.1");
    assert_eq!(
        description.members[0].metadata,
        Bytes::from("meta-client-a")
    );
    assert_eq!(
        description.members[0].assignment,
        Bytes::from("partitions-0-1")
    );
    assert_eq!(harness.heartbeat(&member, 1), Ok(()));
}

#[test]
fn members_joining_during_the_initial_delay_form_one_generation() {
    let mut harness = Harness::new();
    let a = harness.join(request("", "a"));
    harness.advance(Duration::from_secs(1));
    let b = harness.join(request("", "b"));
    harness.advance(Duration::from_secs(1));
    let c = harness.join(request("", "c"));
    // The first step ends at 3 s; members joined, so the delay is extended by 3 s.
    harness.advance(Duration::from_secs(1));
    assert!(harness.joined(a).is_none());
    harness.advance(Duration::from_secs(3));
    let responses = [a, b, c].map(|id| harness.joined(id).unwrap());
    assert!(
        responses
            .iter()
            .all(|r| r.generation_id == 1 && r.error.is_none())
    );
    let leader = &responses[0];
    assert_eq!(leader.leader, leader.member_id, "the first member leads");
    let mut metadata: Vec<Bytes> = leader.members.iter().map(|m| m.metadata.clone()).collect();
    metadata.sort();
    assert_eq!(metadata, ["meta-a", "meta-b", "meta-c"].map(Bytes::from));
    assert!(responses[1].members.is_empty() && responses[2].members.is_empty());
    assert_eq!(responses[1].leader, leader.member_id);
}

#[test]
fn initial_delay_is_capped_by_the_rebalance_timeout() {
    let mut harness = Harness::new();
    let start = harness.now;
    let first = harness.join(request("", "first"));
    let mut step = 0;
    while harness.joined(first).is_none() {
        assert!(step < 100, "the join phase never completed");
        step += 1;
        harness.join(request("", &format!("late-{step}")));
        harness.advance(Duration::from_secs(1));
    }
    assert_eq!(
        harness.now - start,
        REBALANCE,
        "members kept coming: capped at the rebalance timeout"
    );
}

#[test]
fn leaving_member_triggers_a_rebalance_the_others_rejoin() {
    let mut harness = Harness::new();
    let (members, generation) = harness.stable_group(&["a", "b", "c"]);
    assert_eq!(harness.leave(&[(&members[2], None)]), vec![None]);
    assert_eq!(harness.state(), GroupState::PreparingRebalance);
    assert_eq!(
        harness.heartbeat(&members[0], generation),
        Err(GroupError::RebalanceInProgress)
    );
    let a = harness.join(request(&members[0], "a"));
    assert!(harness.joined(a).is_none(), "waits for b");
    let b = harness.join(request(&members[1], "b"));
    let (a, b) = (harness.joined(a).unwrap(), harness.joined(b).unwrap());
    assert_eq!(a.generation_id, generation + 1);
    assert_eq!(b.generation_id, generation + 1);
    assert_eq!(a.members.len(), 2);
    assert_eq!(harness.state(), GroupState::CompletingRebalance);
}

#[test]
fn last_member_leaving_empties_the_group() {
    let mut harness = Harness::new();
    let (members, generation) = harness.stable_group(&["a"]);
    assert_eq!(
        harness.leave(&[(&members[0], None), ("stranger", None)]),
        vec![None, Some(GroupError::UnknownMemberId)]
    );
    let description = harness.coordinator.describe(GROUP);
    assert_eq!(description.state, GroupState::Empty);
    assert_eq!(description.protocol_type, "consumer");
    assert!(description.members.is_empty());
    // Kafka completes the (empty) rebalance, so the generation moves on, never back.
    assert_eq!(harness.coordinator.groups[GROUP].generation, generation + 1);
}

#[test]
fn expired_session_removes_the_member() {
    let mut harness = Harness::new();
    let (members, generation) = harness.stable_group(&["a", "b"]);
    for _ in 0..2 {
        harness.advance(Duration::from_secs(4));
        assert_eq!(harness.heartbeat(&members[0], generation), Ok(()));
    }
    harness.advance(Duration::from_secs(4));
    assert_eq!(
        harness.state(),
        GroupState::PreparingRebalance,
        "b expired after 10 s"
    );
    assert_eq!(
        harness.heartbeat(&members[0], generation),
        Err(GroupError::RebalanceInProgress)
    );
    assert_eq!(
        harness.heartbeat(&members[1], generation),
        Err(GroupError::UnknownMemberId)
    );
    let a = harness.join(request(&members[0], "a"));
    let a = harness.joined(a).unwrap();
    assert_eq!(a.generation_id, generation + 1);
    assert_eq!(a.members.len(), 1);
}

#[test]
fn rebalance_timeout_removes_a_member_that_did_not_rejoin() {
    let mut harness = Harness::new();
    let (members, generation) = harness.stable_group(&["a", "b"]);
    // The leader rejoins: a rebalance starts.
    let a = harness.join(request(&members[0], "a"));
    assert_eq!(harness.state(), GroupState::PreparingRebalance);
    for _ in 0..5 {
        harness.advance(Duration::from_secs(5));
        assert_eq!(
            harness.heartbeat(&members[1], generation),
            Err(GroupError::RebalanceInProgress)
        );
    }
    assert!(harness.joined(a).is_none());
    harness.advance(Duration::from_secs(5));
    let a = harness.joined(a).unwrap();
    assert_eq!(a.generation_id, generation + 1);
    assert_eq!(a.members.len(), 1);
    assert_eq!(
        harness.heartbeat(&members[1], generation),
        Err(GroupError::UnknownMemberId)
    );
}

#[test]
fn heartbeat_errors_in_every_state() {
    let mut harness = Harness::new();
    assert_eq!(
        harness.heartbeat("nobody", 0),
        Err(GroupError::UnknownMemberId)
    );
    let id = harness.reply_id();
    harness.coordinator.heartbeat(
        harness.now,
        id,
        HeartbeatRequest {
            group_id: String::new(),
            generation_id: 0,
            member_id: "x".to_owned(),
            group_instance_id: None,
        },
    );
    harness.collect();
    assert_eq!(
        harness.replies.remove(&id),
        Some(Reply::Heartbeat(Err(GroupError::InvalidGroupId)))
    );

    // CompletingRebalance: heartbeats between join and sync are fine.
    let a = harness.join(request("", "a"));
    let b = harness.join(request("", "b"));
    harness.advance(DELAY * 2);
    let (a, b) = (harness.joined(a).unwrap(), harness.joined(b).unwrap());
    assert_eq!(harness.state(), GroupState::CompletingRebalance);
    assert_eq!(harness.heartbeat(&b.member_id, 1), Ok(()));
    assert_eq!(
        harness.heartbeat(&b.member_id, 0),
        Err(GroupError::IllegalGeneration)
    );
    assert_eq!(
        harness.heartbeat("stranger", 1),
        Err(GroupError::UnknownMemberId)
    );
    // Stable.
    harness.sync(&a.member_id, 1, &[]);
    assert_eq!(harness.state(), GroupState::Stable);
    assert_eq!(harness.heartbeat(&a.member_id, 1), Ok(()));
    assert_eq!(
        harness.heartbeat(&a.member_id, 2),
        Err(GroupError::IllegalGeneration)
    );
    // PreparingRebalance.
    harness.join(request("", "c"));
    assert_eq!(
        harness.heartbeat(&a.member_id, 1),
        Err(GroupError::RebalanceInProgress)
    );
    // Empty: everyone is gone.
    harness.leave(&[(&a.member_id, None), (&b.member_id, None)]);
    harness.advance(Duration::from_secs(31));
    assert_eq!(
        harness.heartbeat(&a.member_id, 1),
        Err(GroupError::UnknownMemberId)
    );
}

#[test]
fn member_id_required_then_rejoin_with_it() {
    let mut harness = Harness::new();
    let mut join = request("", "client-a");
    join.version = 4;
    let first = harness.join(join.clone());
    let response = harness.joined(first).unwrap();
    assert_eq!(response.error, Some(GroupError::MemberIdRequired));
    assert_eq!(response.error.unwrap().code(), 79);
    assert!(response.member_id.starts_with("client-a-"));
    assert_eq!(harness.state(), GroupState::Empty);

    join.member_id = response.member_id.clone();
    let second = harness.join(join);
    harness.advance(DELAY);
    let joined = harness.joined(second).unwrap();
    assert_eq!(joined.error, None);
    assert_eq!(joined.member_id, response.member_id);
    assert_eq!(joined.generation_id, 1);
}

#[test]
fn pending_member_id_expires_after_the_session_timeout() {
    let mut harness = Harness::new();
    let (members, generation) = harness.stable_group(&["a"]);
    let mut join = request("", "b");
    join.version = 5;
    let id = harness.join(join.clone());
    let pending = harness.joined(id).unwrap().member_id;
    harness.advance(SESSION - Duration::from_secs(1));
    assert_eq!(harness.heartbeat(&members[0], generation), Ok(()));
    harness.advance(Duration::from_secs(1));
    assert_eq!(
        harness.heartbeat(&members[0], generation),
        Ok(()),
        "no rebalance for a pending id"
    );
    join.member_id = pending;
    let late = harness.join(join);
    assert_eq!(
        harness.joined(late).unwrap().error,
        Some(GroupError::UnknownMemberId)
    );
}

fn static_request(member_id: &str, client: &str, instance: &str) -> JoinRequest {
    let mut join = request(member_id, client);
    join.group_instance_id = Some(instance.to_owned());
    join.version = 5;
    join
}

#[test]
fn static_member_rejoins_without_rebalance_and_fences_its_old_id() {
    let mut harness = Harness::new();
    let a = harness.join(static_request("", "a", "instance-a"));
    let b = harness.join(request("", "b"));
    harness.advance(DELAY * 2);
    let (a, b) = (harness.joined(a).unwrap(), harness.joined(b).unwrap());
    assert_eq!(
        a.error, None,
        "static members need no MEMBER_ID_REQUIRED round"
    );
    assert_eq!(a.leader, a.member_id);
    harness.sync(&b.member_id, 1, &[]);
    harness.sync(
        &a.member_id,
        1,
        &[(&a.member_id, "for-a"), (&b.member_id, "for-b")],
    );
    assert_eq!(harness.state(), GroupState::Stable);

    // A restarted follower-or-leader process rejoins with its instance id and no member id.
    let rejoin = harness.join(static_request("", "a", "instance-a"));
    let rejoined = harness.joined(rejoin).unwrap();
    assert_eq!(rejoined.error, None);
    assert_ne!(rejoined.member_id, a.member_id);
    assert_eq!(rejoined.generation_id, 1, "no rebalance");
    assert_eq!(
        rejoined.leader, rejoined.member_id,
        "it keeps the leadership"
    );
    assert!(rejoined.skip_assignment);
    assert_eq!(harness.state(), GroupState::Stable);
    assert_eq!(
        harness.heartbeat_as(&a.member_id, Some("instance-a"), 1),
        Err(GroupError::FencedInstanceId)
    );
    assert_eq!(
        harness.heartbeat_as(&rejoined.member_id, Some("instance-a"), 1),
        Ok(())
    );
    let sync = harness.sync(&rejoined.member_id, 1, &[]);
    assert_eq!(
        harness.synced(sync).unwrap().assignment,
        Bytes::from("for-a")
    );
    assert_eq!(
        harness.leave(&[(&a.member_id, Some("instance-a"))]),
        vec![Some(GroupError::FencedInstanceId)]
    );

    // With new metadata it rebalances.
    let changed = with_protocols(static_request("", "a", "instance-a"), &["range"]);
    harness.join(changed);
    assert_eq!(harness.state(), GroupState::PreparingRebalance);
    // Leaving by instance id alone.
    assert_eq!(harness.leave(&[("", Some("instance-a"))]), vec![None]);
    assert_eq!(
        harness.leave(&[("", Some("instance-a"))]),
        vec![Some(GroupError::UnknownMemberId)]
    );
}

#[test]
fn follower_sync_before_the_leader_is_held() {
    let mut harness = Harness::new();
    let a = harness.join(request("", "a"));
    let b = harness.join(request("", "b"));
    harness.advance(DELAY * 2);
    let (a, b) = (harness.joined(a).unwrap(), harness.joined(b).unwrap());
    let follower = harness.sync(&b.member_id, 1, &[]);
    assert!(
        harness.synced(follower).is_none(),
        "held until the leader syncs"
    );
    let leader = harness.sync(&a.member_id, 1, &[(&a.member_id, "0"), (&b.member_id, "1")]);
    assert_eq!(
        harness.synced(follower).unwrap().assignment,
        Bytes::from("1")
    );
    let leader = harness.synced(leader).unwrap();
    assert_eq!(leader.assignment, Bytes::from("0"));
    assert_eq!(leader.protocol_name.as_deref(), Some("range"));
}

#[test]
fn held_sync_is_told_to_rejoin_when_a_member_joins() {
    let mut harness = Harness::new();
    let a = harness.join(request("", "a"));
    let b = harness.join(request("", "b"));
    harness.advance(DELAY * 2);
    let b = harness.joined(b).unwrap();
    harness.joined(a).unwrap();
    let follower = harness.sync(&b.member_id, 1, &[]);
    harness.join(request("", "c"));
    assert_eq!(
        harness.synced(follower).unwrap().error,
        Some(GroupError::RebalanceInProgress)
    );
    let stale = harness.sync(&b.member_id, 1, &[]);
    assert_eq!(
        harness.synced(stale).unwrap().error,
        Some(GroupError::RebalanceInProgress)
    );
    let wrong = harness.sync(&b.member_id, 7, &[]);
    assert_eq!(
        harness.synced(wrong).unwrap().error,
        Some(GroupError::IllegalGeneration)
    );
}

#[test]
fn protocol_is_chosen_by_the_members_votes() {
    let mut harness = Harness::new();
    let a = harness.join(with_protocols(request("", "a"), &["roundrobin", "range"]));
    harness.join(with_protocols(request("", "b"), &["roundrobin", "range"]));
    harness.join(with_protocols(request("", "c"), &["range", "roundrobin"]));
    harness.advance(DELAY * 2);
    let a = harness.joined(a).unwrap();
    assert_eq!(a.protocol_name.as_deref(), Some("roundrobin"));
    assert!(a.members.iter().all(|m| m.metadata == "roundrobin-meta"));

    // A protocol only some members support cannot win.
    let mut harness = Harness::new();
    let a = harness.join(with_protocols(request("", "a"), &["sticky", "range"]));
    harness.join(with_protocols(request("", "b"), &["sticky", "range"]));
    harness.join(with_protocols(request("", "c"), &["range"]));
    harness.advance(DELAY * 2);
    assert_eq!(
        harness.joined(a).unwrap().protocol_name.as_deref(),
        Some("range")
    );
}

#[test]
fn inconsistent_protocols_are_refused() {
    let mut harness = Harness::new();
    harness.join(with_protocols(request("", "a"), &["range"]));
    let other = harness.join(with_protocols(request("", "b"), &["sticky"]));
    assert_eq!(
        harness.joined(other).unwrap().error,
        Some(GroupError::InconsistentGroupProtocol)
    );
    let mut connect = request("", "c");
    connect.protocol_type = "connect".to_owned();
    let connect = harness.join(connect);
    assert_eq!(
        harness.joined(connect).unwrap().error,
        Some(GroupError::InconsistentGroupProtocol)
    );

    let mut empty = request("", "d");
    empty.group_id = "fresh".to_owned();
    empty.protocols.clear();
    let empty = harness.join(empty);
    assert_eq!(
        harness.joined(empty).unwrap().error,
        Some(GroupError::InconsistentGroupProtocol)
    );
    assert_eq!(
        harness.coordinator.describe("fresh").state,
        GroupState::Dead,
        "not created"
    );
}

#[test]
fn join_validates_group_id_session_timeout_and_size() {
    let mut harness = Harness::with_config(CoordinatorConfig {
        initial_rebalance_delay: DELAY,
        max_group_size: Some(2),
        ..CoordinatorConfig::default()
    });
    let mut bad = request("", "a");
    bad.session_timeout = Duration::from_secs(5);
    let id = harness.join(bad.clone());
    assert_eq!(
        harness.joined(id).unwrap().error,
        Some(GroupError::InvalidSessionTimeout)
    );
    bad.session_timeout = Duration::from_secs(31 * 60);
    let id = harness.join(bad.clone());
    assert_eq!(
        harness.joined(id).unwrap().error,
        Some(GroupError::InvalidSessionTimeout)
    );
    bad.group_id = String::new();
    let id = harness.join(bad);
    assert_eq!(
        harness.joined(id).unwrap().error,
        Some(GroupError::InvalidGroupId)
    );
    let id = harness.join(request("someone", "a"));
    assert_eq!(
        harness.joined(id).unwrap().error,
        Some(GroupError::UnknownMemberId)
    );

    harness.join(request("", "a"));
    harness.join(request("", "b"));
    let third = harness.join(request("", "c"));
    assert_eq!(
        harness.joined(third).unwrap().error,
        Some(GroupError::GroupMaxSizeReached)
    );
}

#[test]
fn delete_only_empty_groups() {
    let mut harness = Harness::new();
    assert_eq!(
        harness.coordinator.delete("unknown"),
        Err(GroupError::GroupIdNotFound)
    );
    assert_eq!(
        harness.coordinator.delete(""),
        Err(GroupError::InvalidGroupId)
    );
    let (members, _) = harness.stable_group(&["a"]);
    assert_eq!(
        harness.coordinator.delete(GROUP),
        Err(GroupError::NonEmptyGroup)
    );
    harness.leave(&[(&members[0], None)]);
    assert_eq!(harness.coordinator.delete(GROUP), Ok(()));
    assert_eq!(harness.coordinator.describe(GROUP).state, GroupState::Dead);

    harness.coordinator.register_offsets_group("restored");
    assert_eq!(
        harness.coordinator.list(&[]),
        vec![GroupListing {
            group_id: "restored".to_owned(),
            protocol_type: "consumer".to_owned(),
            state: GroupState::Empty,
        }]
    );
    assert_eq!(harness.coordinator.delete("restored"), Ok(()));
}

#[test]
fn list_filters_by_state() {
    let mut harness = Harness::new();
    harness.stable_group(&["a"]);
    harness.coordinator.register_offsets_group("old");
    let stable: Vec<String> = harness
        .coordinator
        .list(&["stable".parse().unwrap()])
        .into_iter()
        .map(|listing| listing.group_id)
        .collect();
    assert_eq!(stable, [GROUP]);
    assert_eq!(
        harness.coordinator.list(&[GroupState::Empty])[0].group_id,
        "old"
    );
    assert_eq!(harness.coordinator.list(&[]).len(), 2);
    assert!("Sleeping".parse::<GroupState>().is_err());
}

#[test]
fn commit_validation_follows_kafka() {
    let mut harness = Harness::new();
    let now = harness.now;
    let coordinator = &mut harness.coordinator;
    assert_eq!(
        coordinator.validate_commit(now, "solo", -1, "", None),
        Ok(())
    );
    assert_eq!(
        coordinator.describe("solo").state,
        GroupState::Empty,
        "now known"
    );
    assert_eq!(
        coordinator.validate_commit(now, "solo", -1, "", None),
        Ok(())
    );
    assert_eq!(
        coordinator.validate_commit(now, "ghost", 3, "m", None),
        Err(GroupError::IllegalGeneration)
    );
    assert_eq!(
        coordinator.validate_commit(now, "", -1, "", None),
        Err(GroupError::InvalidGroupId)
    );

    let a = harness.join(static_request("", "a", "instance-a"));
    harness.advance(DELAY);
    let a = harness.joined(a).unwrap().member_id;
    let now = harness.now;
    let coordinator = &mut harness.coordinator;
    assert_eq!(
        coordinator.validate_commit(now, GROUP, 1, &a, None),
        Err(GroupError::RebalanceInProgress)
    );
    harness.sync(&a, 1, &[]);
    let now = harness.now;
    let coordinator = &mut harness.coordinator;
    assert_eq!(
        coordinator.validate_commit(now, GROUP, 1, &a, Some("instance-a")),
        Ok(())
    );
    assert_eq!(
        coordinator.validate_commit(now, GROUP, 0, &a, None),
        Err(GroupError::IllegalGeneration)
    );
    assert_eq!(
        coordinator.validate_commit(now, GROUP, 1, "other", None),
        Err(GroupError::UnknownMemberId)
    );
    assert_eq!(
        coordinator.validate_commit(now, GROUP, -1, "", None),
        Err(GroupError::UnknownMemberId)
    );
    assert_eq!(
        coordinator.validate_commit(now, GROUP, 1, "other", Some("instance-a")),
        Err(GroupError::FencedInstanceId)
    );

    // Commits keep the member alive like heartbeats.
    for _ in 0..4 {
        harness.advance(Duration::from_secs(6));
        let now = harness.now;
        assert_eq!(
            harness.coordinator.validate_commit(now, GROUP, 1, &a, None),
            Ok(())
        );
    }
    assert_eq!(harness.state(), GroupState::Stable);
}

#[test]
fn next_deadline_tracks_timers() {
    let mut harness = Harness::new();
    assert_eq!(harness.coordinator.next_deadline(), None);
    let start = harness.now;
    harness.join(request("", "a"));
    assert_eq!(harness.coordinator.next_deadline(), Some(start + DELAY));
    harness.advance(DELAY);
    // Joined: the member's session and the sync deadline.
    assert_eq!(
        harness.coordinator.next_deadline(),
        Some(start + DELAY + SESSION)
    );
}

#[test]
fn leader_that_never_syncs_is_removed_at_the_sync_deadline() {
    let mut harness = Harness::new();
    let a = harness.join(request("", "a"));
    let b = harness.join(request("", "b"));
    harness.advance(DELAY * 2);
    let (a, b) = (harness.joined(a).unwrap(), harness.joined(b).unwrap());
    let follower = harness.sync(&b.member_id, 1, &[]);
    // The leader heartbeats but never sends its assignments.
    for _ in 0..5 {
        harness.advance(Duration::from_secs(5));
        assert_eq!(harness.heartbeat(&a.member_id, 1), Ok(()));
        assert!(harness.synced(follower).is_none());
    }
    harness.advance(Duration::from_secs(5));
    assert_eq!(
        harness.synced(follower).unwrap().error,
        Some(GroupError::RebalanceInProgress)
    );
    assert_eq!(
        harness.heartbeat(&a.member_id, 1),
        Err(GroupError::UnknownMemberId)
    );
    let rejoin = harness.join(request(&b.member_id, "b"));
    let rejoined = harness.joined(rejoin).unwrap();
    assert_eq!(
        (rejoined.generation_id, rejoined.leader.as_str()),
        (2, b.member_id.as_str())
    );
}
