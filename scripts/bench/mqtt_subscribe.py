#!/usr/bin/env python3
"""How soon a SUBSCRIBE takes effect: starts its own node from WEFT (data in a temporary
directory, MQTT on port 0) and, for COUNT subscriptions of a persistent MQTT 5.0 session
(session expiry one hour, so the node stores the session state), measures

- suback: from writing the SUBSCRIBE to reading its SUBACK (COUNT subscriptions, one
  at a time, nothing else going on);
- match: from writing the SUBSCRIBE to the first PUBACK with reason Success (0x00, not
  0x10 No matching subscribers) for a QoS 1 publish on the subscribed topic, which a
  second client sends again and again, one at a time, from the moment the SUBSCRIBE is
  written: the time until the subscription matches, within one publish round trip
  (COUNT more subscriptions).

Prints the median and 99th percentile of each, in milliseconds; then the bytes on the
wire of one plain MQTT 5.0 message (topic `sensors/1/temp`, payload `21.5`, User
Properties `a=2`, `c=3`) as published and as delivered to an MQTT 5.0 subscriber.

    cargo build --release -p weft
    scripts/bench/mqtt_subscribe.py target/release/weft [COUNT]
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def utf8(text: str) -> bytes:
    data = text.encode()
    return struct.pack(">H", len(data)) + data


def packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + varint(len(body)) + body


class Client:
    """A bare MQTT 5.0 client: writes what it is told, returns packets as (type, body)."""

    def __init__(self, address, client_id: str, session_expiry: int = 0):
        self.sock = socket.create_connection(address)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        props = b"\x11" + struct.pack(">I", session_expiry)
        variable = utf8("MQTT") + b"\x05\x02" + struct.pack(">H", 60) + varint(len(props)) + props
        self.sock.sendall(packet(0x10, variable + utf8(client_id)))
        kind, body = self.recv()
        assert kind == 2 and body[1] == 0, (kind, body)

    def recv(self):
        while True:
            if len(self.buf) >= 2:
                length, shift, i = 0, 0, 1
                while i < len(self.buf):
                    length += (self.buf[i] & 0x7F) << shift
                    shift += 7
                    i += 1
                    if not self.buf[i - 1] & 0x80:
                        if len(self.buf) >= i + length:
                            first, body = self.buf[0], self.buf[i:i + length]
                            self.buf = self.buf[i + length:]
                            return first >> 4, body
                        break
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed")
            self.buf += chunk


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def plain_message_size(address):
    topic = "sensors/1/temp"
    subscriber = Client(address, "size-subscriber")
    subscriber.sock.sendall(packet(0x82, b"\x00\x01\x00" + utf8(topic) + b"\x01"))
    kind, _ = subscriber.recv()
    assert kind == 9, kind
    publisher = Client(address, "size-publisher")
    properties = b"\x26" + utf8("a") + utf8("2") + b"\x26" + utf8("c") + utf8("3")
    published = packet(0x30, utf8(topic) + varint(len(properties)) + properties + b"21.5")
    publisher.sock.sendall(published)
    before = len(subscriber.buf)
    kind, body = subscriber.recv()
    assert kind == 3, kind
    delivered = 1 + len(varint(len(body))) + len(body)
    assert before == 0
    print(f"plain message: {len(published)} bytes published, {delivered} bytes delivered")


def main(argv):
    weft = argv[1]
    count = int(argv[2]) if len(argv) > 2 else 200
    with tempfile.TemporaryDirectory() as data:
        ready = Path(data) / "ready.json"
        node = subprocess.Popen(
            [weft, "serve", "--http", "off", "--kafka", "off", "--mqtt", "127.0.0.1:0",
             "--data-dir", f"{data}/data", "--ready-file", str(ready), "--log-level", "warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(300):
                if ready.exists() and ready.stat().st_size:
                    break
                time.sleep(0.05)
            host, port = json.loads(ready.read_text())["mqtt"].rsplit(":", 1)
            address = (host, int(port))
            subscriber = Client(address, "bench-subscriber", 3600)
            publisher = Client(address, "bench-publisher", 0)
            subacks, matches = [], []

            def subscribe(i):
                topic = f"bench/subscribe/{i}"
                sent = packet(0x82, struct.pack(">H", i % 65535 + 1) + b"\x00" + utf8(topic) + b"\x00")
                start = time.perf_counter()
                subscriber.sock.sendall(sent)
                return topic, start

            def read_suback():
                while True:
                    kind, _ = subscriber.recv()
                    if kind == 9:
                        return time.perf_counter()

            # Alone: nothing else happens while the SUBACK is awaited.
            for i in range(1, count + 1):
                _, start = subscribe(i)
                subacks.append(read_suback() - start)
            # With a publisher probing for the match from the moment the SUBSCRIBE is written.
            for i in range(count + 1, 2 * count + 1):
                topic, start = subscribe(i)
                packet_id = 0
                while True:
                    packet_id = packet_id % 65535 + 1
                    publish = packet(0x32, utf8(topic) + struct.pack(">H", packet_id) + b"\x00" + b"x")
                    publisher.sock.sendall(publish)
                    kind, body = publisher.recv()
                    assert kind == 4, kind
                    if len(body) < 3 or body[2] == 0x00:
                        matches.append(time.perf_counter() - start)
                        break
                read_suback()
            for name, values in (("suback", subacks), ("match", matches)):
                print(f"{name}: p50 {statistics.median(values) * 1e3:.3f} ms, "
                      f"p99 {percentile(values, 0.99) * 1e3:.3f} ms ({len(values)} subscriptions)")
            plain_message_size(address)
        finally:
            node.terminate()
            node.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
