//! Fan-out under load: many subscribers, and a stalled one that must not hurt the rest.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use weft_test::{TestNode, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_subscribers_all_receive_an_event() {
    let node = TestNode::start().await.unwrap();
    let mut subscribers = Vec::new();
    for _ in 0..1000 {
        subscribers.push(node.subscribe_sse(&["news/>"]).await.unwrap());
    }
    assert_eq!(node.broker().stats().subscriptions, 1000);
    let ids = node
        .publish_plain("news/today", "text/plain", b"extra")
        .await
        .unwrap();

    let receivers = subscribers.into_iter().map(|mut subscriber| {
        tokio::spawn(async move {
            subscriber
                .next_event()
                .await
                .map(|event| event.id().to_owned())
        })
    });
    for receiver in receivers {
        assert_eq!(receiver.await.unwrap().unwrap(), ids[0]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_subscriber_does_not_delay_the_others() {
    let node = TestNode::start().await.unwrap();

    // A client that subscribes and then never reads: its socket buffers fill, its
    // queue (8 events) overflows, and drop-oldest discards for it alone.
    let mut stalled = tokio::net::TcpStream::connect(node.http_address())
        .await
        .unwrap();
    let request = "GET /v1/subscribe?filter=load/%3E&queue=8 HTTP/1.1\r\nhost: test\r\n\r\n";
    stalled.write_all(request.as_bytes()).await.unwrap();
    let subscribed = async {
        while node.broker().stats().subscriptions < 1 {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(WAIT, subscribed)
        .await
        .expect("the stalled client subscribed");

    let mut fast = node
        .subscribe_sse_with(&["load/>"], "queue=100000")
        .await
        .unwrap();
    const EVENTS: usize = 2000;
    static DATA: [u8; 16 * 1024] = [b'x'; 16 * 1024];
    let publishing = async {
        for _ in 0..EVENTS {
            node.publish_plain("load/data", "text/plain", &DATA)
                .await
                .unwrap();
        }
    };
    // 32 MiB to the stalled client could never fit in its socket buffers: if it held up
    // the publisher or the fast subscriber, this would time out.
    tokio::time::timeout(Duration::from_secs(60), publishing)
        .await
        .expect("publishing was not held up");
    for _ in 0..EVENTS {
        let event = fast.next_event().await.unwrap();
        assert_eq!(
            event.event.data.as_deref().map(<[u8]>::len),
            Some(DATA.len())
        );
    }
    assert!(
        node.broker().stats().dropped > 0,
        "the stalled subscriber's queue overflowed"
    );
    drop(stalled);
}

#[tokio::test]
async fn disconnect_policy_ends_a_slow_subscription_with_a_reason() {
    let node = TestNode::start().await.unwrap();
    let mut slow = node
        .subscribe_sse_with(&["burst"], "queue=1&overflow=disconnect")
        .await
        .unwrap();
    // The SSE task drains the queue concurrently, so publish until the broker reports
    // that it had to disconnect the subscriber.
    let mut published = 0;
    while node.broker().stats().disconnected == 0 {
        node.publish_plain("burst", "text/plain", b"x")
            .await
            .unwrap();
        published += 1;
        assert!(published < 100_000, "the subscriber never overflowed");
    }
    let error = slow.closing_error().await.unwrap();
    assert!(error.contains("subscriber too slow"), "{error}");
}
