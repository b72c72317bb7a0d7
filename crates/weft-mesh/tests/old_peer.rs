//! Mixed versions interoperate: a peer from before the binary event envelope (its
//! capabilities lack `binary_envelope`) is linked, gets every payload in the JSON
//! envelope, and what it sends in JSON is delivered. The old peer is played by the test
//! over a raw TCP connection with the wire codec.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use weft_broker::{Broker, Principal, SubscribeOptions};
use weft_core::{Attributes, CloudEvent, Event, Filter, Topic};
use weft_mesh::envelope::{decode_event, is_json, json};
use weft_mesh::server::{MeshContext, MeshOptions, serve};
use weft_mesh::wire::{
    Adjacency, Capabilities, DEFAULT_MAX_FRAME, Events, Hello, HelloAck, InterestBody,
    InterestUpdate, LinkStateAdvertisement, MeshEvent, Message, PROTOCOL_VERSION, Route,
    decode_frame, encode_frame,
};
use weft_mesh::{InterestEntry, MeshName, NodeName};

const LIMIT: Duration = Duration::from_secs(10);

/// What a node from before the binary envelope offers.
const OLD: Capabilities = Capabilities {
    lz4: true,
    zstd: true,
    batching: true,
    binary_envelope: false,
};

struct OldPeer {
    socket: TcpStream,
    buffer: BytesMut,
}

impl OldPeer {
    async fn send(&mut self, message: Message) {
        let mut frame = BytesMut::new();
        encode_frame(&message, &mut frame);
        self.socket.write_all(&frame).await.unwrap();
    }

    /// The next message that `pick` accepts (others are skipped).
    async fn next<T>(&mut self, mut pick: impl FnMut(Message) -> Option<T>) -> T {
        timeout(LIMIT, async {
            loop {
                while let Some(message) = decode_frame(&mut self.buffer, DEFAULT_MAX_FRAME).unwrap()
                {
                    if let Some(found) = pick(message) {
                        return found;
                    }
                }
                assert!(self.socket.read_buf(&mut self.buffer).await.unwrap() > 0);
            }
        })
        .await
        .expect("the node sent it in time")
    }
}

fn event(id: &str) -> Event {
    let attributes = Attributes::new(id, "/old", "test.event").unwrap();
    let mut event = Event::new(
        CloudEvent::new(attributes, Some(Bytes::from_static(b"{\"n\":1}"))),
        Topic::new("t/x").unwrap(),
        "a",
        SystemTime::now(),
    );
    event.key = Some(Bytes::from_static(b"key"));
    event
}

#[tokio::test]
async fn a_peer_without_the_binary_envelope_gets_and_sends_json() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let broker = Broker::default();
    let handle = MeshContext::start(broker.clone(), MeshOptions::new("test", "a")).unwrap();
    tokio::spawn(serve(listener, handle.clone(), std::future::pending()));
    let filter = Filter::new("t/>").unwrap();
    let mut subscription = broker
        .subscribe(
            &Principal::anonymous(),
            vec![filter.clone()],
            SubscribeOptions::default(),
        )
        .unwrap();
    handle
        .set_local_interest(vec![filter.clone()])
        .await
        .unwrap();

    // The handshake, as an old node does it.
    let mut old = OldPeer {
        socket: TcpStream::connect(addr).await.unwrap(),
        buffer: BytesMut::new(),
    };
    let me = NodeName::new("old").unwrap();
    old.send(Message::Hello(Hello {
        mesh: MeshName::new("test").unwrap(),
        node: me.clone(),
        incarnation: 1,
        protocol_version: PROTOCOL_VERSION,
        capabilities: OLD,
    }))
    .await;
    let acked = old
        .next(|message| match message {
            Message::HelloAck(ack) => Some(ack.capabilities),
            _ => None,
        })
        .await;
    assert_eq!(acked, OLD, "the node offers only what both sides read");
    old.send(Message::HelloAck(HelloAck {
        node: me.clone(),
        capabilities: OLD,
    }))
    .await;
    old.send(Message::LinkState(LinkStateAdvertisement {
        node: me.clone(),
        incarnation: 1,
        sequence: 1,
        interest_version: 1,
        neighbours: vec![Adjacency {
            node: NodeName::new("a").unwrap(),
            cost: 1,
        }],
    }))
    .await;
    old.send(Message::Interest(InterestUpdate {
        node: me.clone(),
        incarnation: 1,
        version: 1,
        body: InterestBody::Full(vec![InterestEntry::live(filter)]),
    }))
    .await;
    timeout(LIMIT, async {
        while !handle
            .status()
            .await
            .unwrap()
            .node("old")
            .is_some_and(|node| node.reachable && node.interest > 0)
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the node knows the old peer's interest");

    // An event published at the node reaches the old peer in the JSON envelope.
    let sent = event("e1");
    broker
        .submit(
            &Principal::anonymous(),
            sent.clone(),
            weft_broker::PublishOptions::default(),
        )
        .await
        .unwrap();
    let received = old
        .next(|message| match message {
            Message::Events(events) => events.events.into_iter().next(),
            _ => None,
        })
        .await;
    assert!(is_json(&received.payload), "{:?}", received.payload);
    let decoded = decode_event(&received).unwrap();
    assert_eq!(decoded.cloudevent, sent.cloudevent);
    assert_eq!(decoded.key, sent.key);
    let local = timeout(LIMIT, subscription.recv()).await.unwrap().unwrap();
    assert_eq!(local.cloudevent.attributes.id, "e1");

    // What the old peer sends in JSON is delivered.
    let mut from_old = event("e2");
    from_old.origin = "old".to_owned();
    old.send(Message::Events(Events {
        route: Route::Tree,
        events: vec![MeshEvent {
            origin: me,
            incarnation: 1,
            sequence: 1,
            topic: from_old.topic.clone(),
            hops: 1,
            durable: Vec::new(),
            groups: Vec::new(),
            payload: json::encode(&from_old),
        }],
    }))
    .await;
    let delivered = timeout(LIMIT, subscription.recv()).await.unwrap().unwrap();
    assert_eq!(delivered.cloudevent, from_old.cloudevent);
    assert_eq!(delivered.key, from_old.key);
    assert_eq!(delivered.origin, "old");
    handle.shutdown();
}
