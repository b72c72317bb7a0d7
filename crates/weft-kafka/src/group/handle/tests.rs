#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::Bytes;

use super::*;

fn config() -> CoordinatorConfig {
    CoordinatorConfig {
        initial_rebalance_delay: Duration::from_millis(50),
        ..CoordinatorConfig::default()
    }
}

fn join_request(member_id: &str, client: &str) -> JoinRequest {
    JoinRequest {
        group_id: "g".to_owned(),
        member_id: member_id.to_owned(),
        group_instance_id: None,
        client_id: client.to_owned(),
        client_host: "/127.0.0.1".to_owned(),
        session_timeout: Duration::from_secs(10),
        rebalance_timeout: Duration::from_secs(5),
        protocol_type: "consumer".to_owned(),
        protocols: vec![("range".to_owned(), Bytes::from_static(b"m"))],
        version: 7,
        reason: None,
    }
}

const LIMIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn three_concurrent_joins_complete_together() {
    let dir = tempfile::tempdir().unwrap();
    let groups = GroupCoordinator::spawn(config(), dir.path()).await.unwrap();
    let joins = ["a", "b", "c"].map(|client| {
        let groups = groups.clone();
        tokio::spawn(async move {
            let first = groups.join(join_request("", client)).await;
            assert_eq!(first.error, Some(GroupError::MemberIdRequired));
            groups.join(join_request(&first.member_id, client)).await
        })
    });
    let mut responses = Vec::new();
    for join in joins {
        responses.push(tokio::time::timeout(LIMIT, join).await.unwrap().unwrap());
    }
    assert!(
        responses
            .iter()
            .all(|r| r.error.is_none() && r.generation_id == 1)
    );
    let leader = responses.iter().find(|r| r.member_id == r.leader).unwrap();
    assert_eq!(leader.members.len(), 3);

    let syncs: Vec<_> = responses
        .iter()
        .map(|response| {
            let groups = groups.clone();
            let assignments = if response.member_id == response.leader {
                responses
                    .iter()
                    .map(|r| (r.member_id.clone(), Bytes::from(r.member_id.clone())))
                    .collect()
            } else {
                Vec::new()
            };
            let request = SyncRequest {
                group_id: "g".to_owned(),
                generation_id: 1,
                member_id: response.member_id.clone(),
                group_instance_id: None,
                protocol_type: None,
                protocol_name: None,
                assignments,
            };
            tokio::spawn(async move { groups.sync(request).await })
        })
        .collect();
    for (sync, response) in syncs.into_iter().zip(&responses) {
        let synced = tokio::time::timeout(LIMIT, sync).await.unwrap().unwrap();
        assert_eq!(synced.assignment, Bytes::from(response.member_id.clone()));
    }
    let listing = groups.list(vec![GroupState::Stable]).await.unwrap();
    assert_eq!(listing.len(), 1);
    groups.shutdown().await;
}

#[tokio::test]
async fn commits_are_durable_and_fetched_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let groups = GroupCoordinator::spawn(config(), dir.path()).await.unwrap();
    let offsets = vec![
        CommittedOffset {
            topic: "orders".to_owned(),
            partition: 0,
            offset: 42,
            leader_epoch: -1,
            metadata: Some("hello".to_owned()),
            commit_time_ms: 0,
        },
        CommittedOffset {
            topic: "orders".to_owned(),
            partition: 1,
            offset: 7,
            leader_epoch: -1,
            metadata: Some("x".repeat(MAX_METADATA_BYTES + 1)),
            commit_time_ms: 0,
        },
    ];
    let results = groups
        .commit_offsets("solo", -1, "", None, offsets.clone())
        .await;
    assert_eq!(results[0], ("orders".to_owned(), 0, Ok(())));
    assert_eq!(results[1].2, Err(GroupError::OffsetMetadataTooLarge));
    let refused = groups
        .commit_offsets("solo", 3, "member", None, offsets)
        .await;
    assert!(
        refused
            .iter()
            .all(|(_, _, result)| *result == Err(GroupError::UnknownMemberId))
    );
    let asked = [("orders".to_owned(), vec![0, 1])];
    let fetched = groups.fetch_offsets("solo", Some(&asked));
    assert_eq!((fetched[0].offset, fetched[1].offset), (42, -1));
    groups.shutdown().await;

    let restarted = GroupCoordinator::spawn(config(), dir.path()).await.unwrap();
    assert_eq!(
        restarted.fetch_offsets("solo", None)[0].metadata.as_deref(),
        Some("hello")
    );
    let listing = restarted.list(Vec::new()).await.unwrap();
    assert_eq!(
        listing,
        vec![GroupListing {
            group_id: "solo".to_owned(),
            protocol_type: "consumer".to_owned(),
            state: GroupState::Empty,
        }]
    );
    let deleted = restarted
        .delete_groups(vec!["solo".to_owned(), "missing".to_owned()])
        .await;
    assert_eq!(deleted[0].1, Ok(()));
    assert_eq!(deleted[1].1, Err(GroupError::GroupIdNotFound));
    assert!(restarted.fetch_offsets("solo", None).is_empty());
    restarted.shutdown().await;
    let again = GroupCoordinator::spawn(config(), dir.path()).await.unwrap();
    assert!(again.list(Vec::new()).await.unwrap().is_empty());
}

#[tokio::test]
async fn shutdown_answers_waiting_and_later_requests() {
    let dir = tempfile::tempdir().unwrap();
    let groups = GroupCoordinator::spawn(
        CoordinatorConfig {
            initial_rebalance_delay: Duration::from_secs(60),
            ..CoordinatorConfig::default()
        },
        dir.path(),
    )
    .await
    .unwrap();
    let waiting = {
        let groups = groups.clone();
        let mut request = join_request("", "a");
        request.version = 3;
        tokio::spawn(async move { groups.join(request).await })
    };
    // Wait until the join is held by the coordinator.
    tokio::time::timeout(LIMIT, async {
        loop {
            let described = groups.describe(vec!["g".to_owned()]).await;
            if described[0].state == GroupState::PreparingRebalance {
                break;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();
    groups.shutdown().await;
    let response = tokio::time::timeout(LIMIT, waiting).await.unwrap().unwrap();
    assert_eq!(response.error, Some(GroupError::CoordinatorNotAvailable));
    let heartbeat = groups
        .heartbeat(HeartbeatRequest {
            group_id: "g".to_owned(),
            generation_id: 1,
            member_id: "m".to_owned(),
            group_instance_id: None,
        })
        .await;
    assert_eq!(heartbeat, Err(GroupError::CoordinatorNotAvailable));
}
