//! MQTT over WebSocket at `/mqtt` on a whole node, and the MQTT counters in `/v1/node`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use weft_test::{TestNode, WAIT};

/// Reads binary messages until `want` bytes arrived (a packet may span messages).
async fn read_bytes<S>(socket: &mut S, want: usize) -> Vec<u8>
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut bytes = Vec::new();
    while bytes.len() < want {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("no mqtt bytes in time")
            .expect("the websocket ended")
            .unwrap();
        if let Message::Binary(data) = message {
            bytes.extend_from_slice(&data);
        }
    }
    bytes
}

#[tokio::test]
async fn an_http_publish_reaches_an_mqtt_client_over_websocket() {
    let node = TestNode::start().await.unwrap();
    let mut request = format!("ws://{}/mqtt", node.http_address())
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "mqtt".parse().unwrap());
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(
        response.headers().get("sec-websocket-protocol").unwrap(),
        "mqtt"
    );

    // MQTT 3.1.1 CONNECT, clean session, keep alive 60 s, client id "ws", split over two
    // WebSocket messages on purpose.
    let connect = [
        0x10, 14, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 2, b'w', b's',
    ];
    socket
        .send(Message::Binary(connect[..5].to_vec().into()))
        .await
        .unwrap();
    socket
        .send(Message::Binary(connect[5..].to_vec().into()))
        .await
        .unwrap();
    assert_eq!(read_bytes(&mut socket, 4).await, [0x20, 2, 0, 0], "connack");

    // SUBSCRIBE packet id 1 to `a/b` at QoS 0.
    let subscribe = [0x82, 8, 0, 1, 0, 3, b'a', b'/', b'b', 0];
    socket
        .send(Message::Binary(subscribe.to_vec().into()))
        .await
        .unwrap();
    assert_eq!(
        read_bytes(&mut socket, 5).await,
        [0x90, 3, 0, 1, 0],
        "suback"
    );

    let status = node
        .client()
        .post(node.url("/v1/topics/a/b"))
        .header("content-type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 202);
    // PUBLISH QoS 0 to `a/b` with the data alone (MQTT 3.1.1).
    assert_eq!(
        read_bytes(&mut socket, 9).await,
        [0x30, 7, 0, 3, b'a', b'/', b'b', b'h', b'i']
    );

    let info: serde_json::Value = node
        .client()
        .get(node.url("/v1/node"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["counters"]["mqtt_connections_open"], 1, "{info}");
    assert_eq!(info["counters"]["mqtt_sessions"], 1, "{info}");
}
