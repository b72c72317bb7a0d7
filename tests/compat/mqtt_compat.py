#!/usr/bin/env python3
"""MQTT client compatibility: mosquitto_pub/mosquitto_sub and paho-mqtt (protocol 3.1.1
and 5.0, over TCP and over WebSocket at `/mqtt` on the HTTP listener) against a weft node
started by this script, plus a raw-socket MQTT 5 client where paho hides the protocol
(receive maximum flow control) and cross-protocol checks with `weft sub`, `weft stream`
and kcat.

Prints one `CLIENT: N passed, N failed` line per client (`mosquitto`, `paho-v311`,
`paho-v5`) and a closing `mqtt-compat: N passed, N failed` line; exits 1 if anything
failed.

    WEFT_BIN=target/debug/weft python3 tests/compat/mqtt_compat.py [mosquitto|paho-v311|paho-v5 ...]

Needs `mosquitto-clients` and `kcat` (apt) and `paho-mqtt` 2.x (pip). Environment: WEFT_BIN,
COMPAT_VERBOSE=1, COMPAT_KEEP=1, COMPAT_LOG_LEVEL, as for kafka_compat.py.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, str(Path(__file__).resolve().parent))

from weftnode import (  # noqa: E402
    Failure,
    Node,
    Suite,
    check,
    find_weft_bin,
    finish,
    run_cmd,
    unique,
)

TOTAL_LIMIT_S = 240
WAIT_S = 10


class MqttNode(Node):
    """A weft node whose ready file also names the MQTT listener."""

    def start(self, timeout=20):
        super().start(timeout)
        info = json.loads((self.dir / "ready.json").read_text())
        self.mqtt = info["mqtt"]
        self.mqtt_host, port = self.mqtt.rsplit(":", 1)
        self.mqtt_port = int(port)
        return self

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None


# --- paho helpers ---------------------------------------------------------------------

def paho():
    import paho.mqtt.client as mqtt  # noqa: PLC0415 - optional dependency
    return mqtt


class Paho:
    """A paho client on its own network thread; messages land in a queue."""

    def __init__(self, node, v5, client_id=None, clean=True, expiry=None, will=None,
                 websocket=False, connect_properties=None, will_properties=None,
                 keepalive=30):
        mqtt = paho()
        from paho.mqtt.packettypes import PacketTypes  # noqa: PLC0415
        from paho.mqtt.properties import Properties  # noqa: PLC0415
        self.v5 = v5
        self.messages = queue.Queue()
        self.subacks = queue.Queue()
        self.connacks = queue.Queue()
        self.disconnects = queue.Queue()
        kwargs = {"callback_api_version": mqtt.CallbackAPIVersion.VERSION2,
                  "client_id": client_id or unique("paho"),
                  "protocol": mqtt.MQTTv5 if v5 else mqtt.MQTTv311}
        if websocket:
            kwargs["transport"] = "websockets"
        if not v5:
            # 3.1.1 has no expiry: a persistent session is Clean Session 0.
            kwargs["clean_session"] = clean and expiry is None
        self.client = mqtt.Client(**kwargs)
        host, port = node.mqtt_host, node.mqtt_port
        if websocket:
            # MQTT over WebSocket: the HTTP listener, path /mqtt, subprotocol `mqtt`.
            self.client.ws_set_options(path="/mqtt")
            host, port = node.http.rsplit(":", 1)
        self.client.on_message = lambda _c, _u, msg: self.messages.put(msg)
        self.client.on_subscribe = lambda _c, _u, _mid, codes, _p: self.subacks.put(codes)
        self.client.on_connect = lambda _c, _u, flags, code, p: self.connacks.put((flags, code, p))
        self.client.on_disconnect = lambda _c, _u, _f, code, _p: self.disconnects.put(code)
        if will:
            topic, payload, qos = will
            self.client.will_set(topic, payload, qos, properties=will_properties)
        properties = None
        connect_kwargs = {}
        if v5:
            connect_kwargs["clean_start"] = clean
            if expiry is not None or connect_properties:
                properties = Properties(PacketTypes.CONNECT)
                if expiry is not None:
                    properties.SessionExpiryInterval = expiry
                for name, value in (connect_properties or {}).items():
                    setattr(properties, name, value)
            connect_kwargs["properties"] = properties
        self.client.connect(host, int(port), keepalive=keepalive, **connect_kwargs)
        self.client.loop_start()
        flags, code, self.connack_properties = self.connacks.get(timeout=WAIT_S)
        check(not code.is_failure, f"CONNACK {code}")
        self.session_present = bool(getattr(flags, "session_present", False))

    def subscribe(self, topic, qos=1):
        self.client.subscribe(topic, qos)
        codes = self.subacks.get(timeout=WAIT_S)
        check(all(not code.is_failure for code in codes), f"SUBACK {codes}")

    def publish(self, topic, payload, qos=1, retain=False, properties=None):
        info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        info.wait_for_publish(WAIT_S)
        check(info.is_published(), f"publish on {topic} not acknowledged")

    def get(self, timeout=WAIT_S):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty as e:
            raise Failure(f"no message within {timeout}s") from e

    def none_within(self, seconds):
        try:
            msg = self.messages.get(timeout=seconds)
        except queue.Empty:
            return
        raise Failure(f"unexpected message on {msg.topic}: {msg.payload!r}")

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()

    def drop(self):
        """Closes the socket without DISCONNECT (an abrupt loss)."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()


# --- a raw MQTT 5.0 client (for what paho hides: acknowledgement timing) ---------------

def _varint(n):
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _utf8(text):
    data = text.encode()
    return struct.pack(">H", len(data)) + data


class RawV5:
    """A bare MQTT 5.0 client on a socket: sends what it is told, acknowledges nothing
    by itself, and returns packets as (type, flags, body)."""

    def __init__(self, node, client_id, receive_maximum=None):
        self.sock = socket.create_connection((node.mqtt_host, node.mqtt_port), timeout=WAIT_S)
        self.buf = b""
        props = b""
        if receive_maximum is not None:
            props += b"\x21" + struct.pack(">H", receive_maximum)
        # Protocol name, level 5, flags: clean start; keep alive 30.
        variable = _utf8("MQTT") + b"\x05\x02" + struct.pack(">H", 30) + _varint(len(props)) + props
        self.send(0x10, variable + _utf8(client_id))
        kind, _, body = self.recv()
        check(kind == 2 and body[1] == 0, f"raw CONNACK {kind} {body[:2]!r}")

    def send(self, first_byte, body):
        self.sock.sendall(bytes([first_byte]) + _varint(len(body)) + body)

    def subscribe(self, topic_filter, qos):
        self.send(0x82, struct.pack(">H", 1) + b"\x00" + _utf8(topic_filter) + bytes([qos]))
        kind, _, body = self.recv()
        check(kind == 9 and body[-1] == qos, f"raw SUBACK {kind} {body!r}")

    def recv(self, timeout=WAIT_S):
        """The next packet; None when nothing arrives within `timeout`."""
        self.sock.settimeout(timeout)
        while True:
            if len(self.buf) >= 2:
                length, shift, i = 0, 0, 1
                while i < len(self.buf) and i <= 4:
                    length += (self.buf[i] & 0x7F) << shift
                    shift += 7
                    i += 1
                    if not self.buf[i - 1] & 0x80:
                        if len(self.buf) >= i + length:
                            first, body = self.buf[0], self.buf[i:i + length]
                            self.buf = self.buf[i + length:]
                            return first >> 4, first & 0x0F, body
                        break
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not chunk:
                raise Failure("raw client: connection closed")
            self.buf += chunk

    @staticmethod
    def publish_fields(flags, body):
        """(topic, packet id, payload) of a PUBLISH body."""
        (topic_len,) = struct.unpack(">H", body[:2])
        topic = body[2:2 + topic_len].decode()
        rest = body[2 + topic_len:]
        packet_id = None
        if flags & 0x06:
            (packet_id,) = struct.unpack(">H", rest[:2])
            rest = rest[2:]
        props_len, i, shift = 0, 0, 0
        while True:
            props_len += (rest[i] & 0x7F) << shift
            shift += 7
            i += 1
            if not rest[i - 1] & 0x80:
                break
        return topic, packet_id, rest[i + props_len:]

    def puback(self, packet_id):
        self.send(0x40, struct.pack(">H", packet_id))

    def close(self):
        try:
            self.send(0xE0, b"")
        finally:
            self.sock.close()


# --- mosquitto helpers ----------------------------------------------------------------

def mosq_args(node, version):
    return ["-h", node.mqtt_host, "-p", str(node.mqtt_port), "-V", version]


def mosq_pub(node, version, topic, message, qos=1, extra=()):
    payload = ["-n"] if message is None else ["-m", message]
    run_cmd(["mosquitto_pub", *mosq_args(node, version), "-t", topic, *payload,
             "-q", str(qos), *extra])


def mosq_sub(node, version, topic, extra=()):
    """Starts mosquitto_sub in the background; wait with `collect`."""
    return subprocess.Popen(
        ["mosquitto_sub", *mosq_args(node, version), "-t", topic, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def collect(proc, timeout=WAIT_S + 5):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as e:
        proc.kill()
        raise Failure("mosquitto_sub did not finish") from e
    return out.decode(errors="replace").splitlines(), err.decode(errors="replace")


def watcher(node, topic):
    """A paho 5.0 subscriber used to observe (subscribed when this returns)."""
    client = Paho(node, True)
    client.subscribe(topic, 1)
    return client


# --- scenarios ------------------------------------------------------------------------

def mosquitto_scenarios(suite, node):
    for version in ["mqttv311", "mqttv5"]:
        def qos_round_trip(version=version):
            for qos in [0, 1, 2]:
                topic = f"{unique('mq')}/q{qos}"
                sub = mosq_sub(node, version, topic, ["-q", str(qos), "-C", "1", "-W", str(WAIT_S)])
                # The subscriber's SUBACK is not observable: publish until it has one.
                deadline = time.monotonic() + WAIT_S
                while sub.poll() is None and time.monotonic() < deadline:
                    mosq_pub(node, version, topic, f"hello-{qos}", qos)
                    time.sleep(0.2)
                lines, err = collect(sub)
                check(lines == [f"hello-{qos}"], f"qos {qos}: got {lines} {err}")
        suite.run(f"{version}: qos 0/1/2 publish to subscribe", qos_round_trip)

        def retained(version=version):
            topic = f"{unique('mq')}/retained"
            mosq_pub(node, version, topic, "kept", 1, ["-r"])
            lines, err = collect(mosq_sub(node, version, topic, ["-C", "1", "-W", "5", "-F", "%r|%p"]))
            check(lines == ["1|kept"], f"retained: {lines} {err}")
            mosq_pub(node, version, topic, None, 1, ["-r"])
            lines, err = collect(mosq_sub(node, version, topic, ["-C", "1", "-W", "2"]))
            check(lines == [], f"deleted retained message still sent: {lines}")
        suite.run(f"{version}: retained message to a new subscriber", retained)

        def will(version=version):
            topic = f"{unique('mq')}/will"
            observer = watcher(node, topic)
            dying = mosq_sub(node, version, unique("mq") + "/x",
                             ["--will-topic", topic, "--will-payload", "bye", "--will-qos", "1"])
            time.sleep(0.5)
            dying.send_signal(signal.SIGKILL)
            dying.wait(5)
            msg = observer.get()
            check(msg.payload == b"bye", f"will payload {msg.payload!r}")
            observer.close()
        suite.run(f"{version}: will on abrupt close", will)

        def persistent(version=version):
            topic = f"{unique('mq')}/persist"
            client_id = unique("mosq-persist")
            session = ["-c", "-i", client_id, "-q", "1"]
            if version == "mqttv5":
                session += ["-x", "300"]
            lines, err = collect(mosq_sub(node, version, topic, [*session, "-E"]))
            mosq_pub(node, version, topic, "while-away", 1)
            lines, err = collect(mosq_sub(node, version, topic, [*session, "-C", "1", "-W", "5"]))
            check(lines == ["while-away"], f"persistent session: {lines} {err}")
        suite.run(f"{version}: persistent session across reconnect", persistent)

        def shared(version=version):
            base = unique("mq")
            subs = [mosq_sub(node, version, f"$share/g/{base}/+", ["-q", "1", "-W", "4"])
                    for _ in range(2)]
            time.sleep(1.0)
            for i in range(10):
                mosq_pub(node, version, f"{base}/t", f"m{i}", 1)
            results = [collect(sub)[0] for sub in subs]
            counts = [len(lines) for lines in results]
            check(sum(counts) == 10, f"shared: {counts}")
            check(all(count > 0 for count in counts), f"shared: {counts}")
        suite.run(f"{version}: shared subscription, one member per message", shared)

    def user_properties():
        topic = f"{unique('mq')}/props"
        sub = mosq_sub(node, "mqttv5", topic, ["-C", "1", "-W", str(WAIT_S), "-F", "%P|%p"])
        deadline = time.monotonic() + WAIT_S
        while sub.poll() is None and time.monotonic() < deadline:
            mosq_pub(node, "mqttv5", topic, "p", 1, ["-D", "publish", "user-property", "Colour", "blue"])
            time.sleep(0.2)
        lines, err = collect(sub)
        check(len(lines) == 1 and "Colour:blue" in lines[0] and lines[0].endswith("|p"),
              f"user properties: {lines} {err}")
    suite.run("mqttv5: user properties round trip", user_properties)


# --- what strict clients check (issue: plain round trips, wills, keep alive, errors) ---

def _raw_connect(node, client_id, version, keepalive, will=None, session_expiry=None):
    """A socket with a CONNECT written and its CONNACK read: (socket, CONNACK body)."""
    sock = socket.create_connection((node.mqtt_host, node.mqtt_port), timeout=WAIT_S)
    flags = 0x02
    props = b""
    if session_expiry is not None:
        props += b"\x11" + struct.pack(">I", session_expiry)
    payload = _utf8(client_id)
    if will:
        topic, message = will
        flags |= 0x04 | 0x08  # will, QoS 1
        if version == 5:
            payload += _varint(0)
        payload += _utf8(topic) + struct.pack(">H", len(message)) + message
    variable = _utf8("MQTT") + bytes([version, flags]) + struct.pack(">H", keepalive)
    if version == 5:
        variable += _varint(len(props)) + props
    body = variable + payload
    sock.sendall(bytes([0x10]) + _varint(len(body)) + body)
    packets, _ = _read_packets(sock, until_closed=False)
    check(packets and packets[0][0] == 2, f"CONNACK expected, got {packets}")
    return sock, packets[0][2]


def _read_packets(sock, until_closed=True, timeout=WAIT_S):
    """Packets as (type, flags, body) until the server closes (or, with
    until_closed=False, the first packet), and how it closed: "eof", "reset" or None."""
    sock.settimeout(timeout)
    buf, packets = b"", []
    while True:
        while len(buf) >= 2:
            length, shift, i, complete = 0, 0, 1, False
            while i < len(buf) and i <= 4:
                length += (buf[i] & 0x7F) << shift
                shift += 7
                i += 1
                if not buf[i - 1] & 0x80:
                    complete = len(buf) >= i + length
                    break
            if not complete:
                break
            packets.append((buf[0] >> 4, buf[0] & 0x0F, buf[i:i + length]))
            buf = buf[i + length:]
            if not until_closed:
                return packets, None
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return packets, "reset"
        except socket.timeout as e:
            raise Failure(f"the server did not close within {timeout}s; got {packets}") from e
        if not chunk:
            return packets, "eof"
        buf += chunk


def _ends_with_disconnect(sock, code):
    """The server answers with DISCONNECT `code` (5.0) and an orderly close."""
    packets, closed = _read_packets(sock)
    sock.close()
    check(closed == "eof", f"connection ended by {closed}, not an orderly close")
    check(packets and packets[-1][0] == 14, f"DISCONNECT expected last, got {packets}")
    got = packets[-1][2][0] if packets[-1][2] else 0
    check(got == code, f"DISCONNECT reason {got:#04x}, expected {code:#04x}")


def strict_scenarios(suite, node, v5):
    """What strict third-party clients check: plain messages come back untouched, wills
    too, Server Keep Alive, and a protocol error answered with its reason code."""
    if not v5:
        def keep_alive_v311():
            # A 3.1.1 client's own keep alive is enforced: silent for 1.5 × 2 s, it is
            # disconnected (no DISCONNECT on 3.1.1) and its will is published.
            topic = unique("ka311") + "/will"
            observer = watcher(node, topic)
            sock, connack = _raw_connect(node, unique("silent"), 4, 2, will=(topic, b"gone"))
            check(connack[1] == 0, f"CONNACK {connack!r}")
            started = time.monotonic()
            packets, closed = _read_packets(sock, timeout=10)
            waited = time.monotonic() - started
            check(packets == [] and closed == "eof", f"{packets} {closed}")
            check(2.9 <= waited <= 5, f"closed after {waited:.1f}s, expected about 3s")
            check(observer.get().payload == b"gone", "will")
            observer.close()
        suite.run("3.1.1 keep alive of 2 s enforced at 3 s, will published", keep_alive_v311)

        def malformed_v311():
            sock, _ = _raw_connect(node, unique("bad311"), 4, 30)
            sock.sendall(bytes([0x36, 0x03, 0x00, 0x01, 0x61]))  # PUBLISH with QoS 3
            packets, closed = _read_packets(sock)
            sock.close()
            check(packets == [] and closed == "eof", f"3.1.1 closes silently: {packets} {closed}")
        suite.run("3.1.1 malformed packet closes the connection without a reply", malformed_v311)
        return

    from paho.mqtt.packettypes import PacketTypes  # noqa: PLC0415
    from paho.mqtt.properties import Properties  # noqa: PLC0415

    def props(kind, **values):
        properties = Properties(kind)
        for name, value in values.items():
            setattr(properties, name, value)
        return properties

    def plain_round_trip():
        # Every property the publisher set comes back as it was, and nothing else.
        topic = unique("plain") + "/t"
        sub = Paho(node, True)
        sub.subscribe(topic, 1)
        pub = Paho(node, True)
        sent = [("a", "2"), ("c", "3"), ("a", "1"), ("Mixed-Case", "x")]
        pub.publish(topic, "héllo".encode(), 1, properties=props(
            PacketTypes.PUBLISH, UserProperty=sent, ContentType="text/plain",
            ResponseTopic="replies/1", CorrelationData=b"\x00\x01\xff",
            PayloadFormatIndicator=1, MessageExpiryInterval=60))
        msg = sub.get()
        got = msg.properties
        check(msg.payload == "héllo".encode(), f"payload {msg.payload!r}")
        check(getattr(got, "UserProperty", []) == sent, f"user properties {getattr(got, 'UserProperty', None)}")
        check(got.ContentType == "text/plain", "content type")
        check(got.ResponseTopic == "replies/1", "response topic")
        check(got.CorrelationData == b"\x00\x01\xff", "correlation data")
        check(got.PayloadFormatIndicator == 1, "payload format indicator")
        check(55 <= got.MessageExpiryInterval <= 60, f"expiry {got.MessageExpiryInterval}")
        sub.close()
        pub.close()
    suite.run("plain mqtt 5 message round-trips untouched (user properties in order)",
              plain_round_trip)

    def subscribe_then_publish_without_waiting():
        # SUBSCRIBE and a PUBLISH on its topic sent back to back, before the SUBACK
        # arrives: the subscription is in force as soon as the node reads it.
        topic = unique("pipelined") + "/t"
        client = Paho(node, True, unique("pipeliner"), clean=True, expiry=300)
        client.client.subscribe(topic, 1)
        client.client.publish(topic, b"own", qos=1)
        msg = client.get()
        check(msg.payload == b"own", f"payload {msg.payload!r}")
        client.close()
    suite.run("a subscribe is in force for a publish sent right behind it", subscribe_then_publish_without_waiting)

    def small_maximum_packet_size():
        # A 64-byte Maximum Packet Size: the message fits as published, so it arrives.
        topic = unique("mps")
        sub = Paho(node, True, connect_properties={"MaximumPacketSize": 64})
        sub.subscribe(topic, 1)
        pub = Paho(node, True)
        pub.publish(topic, b"21.5", 1, properties=props(
            PacketTypes.PUBLISH, UserProperty=[("a", "2"), ("c", "3")]))
        msg = sub.get()
        check(msg.payload == b"21.5", f"payload {msg.payload!r}")
        sub.close()
        pub.close()
    suite.run("subscriber with a 64-byte maximum packet size receives a small plain message",
              small_maximum_packet_size)

    def will_after_delay():
        # Will delay 3 s, session expiry 5 s, subscriber at QoS 2: the will arrives after
        # the delay, byte for byte, with the will's own properties only.
        topic = unique("wdelay") + "/will"
        sub = Paho(node, True)
        sub.subscribe(topic, 2)
        payload = b"test_will_delay will message"
        dying = Paho(node, True, connect_properties={"SessionExpiryInterval": 5},
                     will=(topic, payload, 2),
                     will_properties=props(PacketTypes.WILLMESSAGE, WillDelayInterval=3,
                                           UserProperty=[("w", "1")]))
        dying.drop()
        dropped = time.monotonic()
        msg = sub.get(timeout=10)
        waited = time.monotonic() - dropped
        check(msg.payload == payload, f"will payload {msg.payload!r}")
        check(getattr(msg.properties, "UserProperty", []) == [("w", "1")],
              f"will user properties {getattr(msg.properties, 'UserProperty', None)}")
        check(2.5 <= waited <= 6, f"will after {waited:.1f}s, expected about 3s")
        sub.close()
    suite.run("will after its delay arrives unchanged at a qos 2 subscriber", will_after_delay)

    def server_keep_alive():
        # Asking for none, or for more than the maximum (5 minutes by default), gets the
        # maximum as Server Keep Alive; asking for less gets no Server Keep Alive.
        for asked, want in [(0, 300), (1000, 300), (60, None)]:
            client = Paho(node, True, keepalive=asked)
            got = getattr(client.connack_properties, "ServerKeepAlive", None)
            client.close()
            check(got == want, f"keep alive {asked}: Server Keep Alive {got}, expected {want}")
    suite.run("server keep alive in connack for keep alive 0 and above the maximum",
              server_keep_alive)

    def keep_alive_enforced():
        # On a node whose maximum is 2 s, a 5.0 client that asked for none and stays
        # silent gets DISCONNECT 0x8D after about 3 s, and its will is published.
        short = MqttNode(node.bin, extra_args=["--mqtt-max-keep-alive", "2s"])
        try:
            short.start()
            topic = unique("ka5") + "/will"
            observer = watcher(short, topic)
            sock, _ = _raw_connect(short, unique("silent"), 5, 0, will=(topic, b"gone"))
            started = time.monotonic()
            _ends_with_disconnect(sock, 0x8D)
            waited = time.monotonic() - started
            check(2.9 <= waited <= 5, f"disconnected after {waited:.1f}s, expected about 3s")
            check(observer.get().payload == b"gone", "will")
            observer.close()
        finally:
            short.stop()
    suite.run("keep alive 0 gets the 2 s maximum, enforced at 3 s with the will", keep_alive_enforced,
              timeout=45)

    def receive_maximum_exceeded():
        # 2,000 QoS 2 publishes never released, written without reading (the server's
        # Receive Maximum is 100): every write succeeds, and the client reads
        # DISCONNECT 0x93 and an orderly close, not a broken pipe or a reset.
        raw = RawV5(node, unique("flood"))
        for chunk in range(10):
            burst = b""
            for i in range(chunk * 200 + 1, chunk * 200 + 201):
                body = _utf8("flood/t") + struct.pack(">H", i) + b"\x00" + b"x"
                burst += bytes([0x34]) + _varint(len(body)) + body
            raw.sock.sendall(burst)
        _ends_with_disconnect(raw.sock, 0x93)
    suite.run("more qos 2 publishes than the receive maximum get disconnect 0x93",
              receive_maximum_exceeded)

    def no_acknowledged_message_lost():
        # A fast QoS 1 publisher and a persistent QoS 1 subscriber that is away: every
        # publish the node acknowledges is delivered when the subscriber comes back, and
        # once the subscriber's queues are full the publisher is told 0x97 instead.
        topic = unique("noloss") + "/t"
        client_id = unique("noloss-sub")
        sub = Paho(node, True, client_id, clean=True, expiry=300)
        sub.subscribe(topic, 1)
        sub.close()
        raw = RawV5(node, unique("noloss-pub"))
        acknowledged, refused = [], 0
        for n in range(3000):
            packet_id = n % 65535 + 1
            body = _utf8(topic) + struct.pack(">H", packet_id) + b"\x00" + str(n).encode()
            raw.send(0x32, body)
            kind, _, ack = raw.recv()
            check(kind == 4, f"PUBACK expected, got {kind}")
            code = ack[2] if len(ack) > 2 else 0
            if code in (0x00, 0x10):
                acknowledged.append(str(n).encode())
            elif code == 0x97:
                refused += 1
            else:
                raise Failure(f"publish {n}: reason {code:#04x}")
        raw.close()
        check(refused > 0, "the subscriber's queues never filled")
        again = Paho(node, True, client_id, clean=False, expiry=300)
        received = []
        while len(received) < len(acknowledged):
            received.append(again.get().payload)
        again.none_within(1.0)
        check(received == acknowledged,
              f"{len(acknowledged)} acknowledged, {len(received)} delivered, first difference at "
              f"{next((i for i, (a, b) in enumerate(zip(received, acknowledged)) if a != b), None)}")
        again.close()
    suite.run("every acknowledged qos 1 publish reaches a slow persistent subscriber (0x97 past its queues)",
              no_acknowledged_message_lost, timeout=90)

    def protocol_errors():
        def packet(first, body):
            return bytes([first]) + _varint(len(body)) + body
        cases = [
            # PUBLISH with QoS 3: malformed.
            (0x81, packet(0x36, _utf8("a/b") + b"\x00")),
            # A second CONNECT: protocol error.
            (0x82, packet(0x10, _utf8("MQTT") + b"\x05\x02\x00\x1e\x00" + _utf8(""))),
            # Topic Alias 200, over the announced maximum of 64.
            (0x94, packet(0x30, _utf8("a/b") + b"\x03\x23\x00\xc8")),
            # A packet over the 1 MiB maximum (only its header is sent).
            (0x95, bytes([0x30]) + _varint(2 * 1024 * 1024) + _utf8("a/b")),
        ]
        for code, packet in cases:
            raw = RawV5(node, unique("bad"))
            raw.sock.sendall(packet)
            _ends_with_disconnect(raw.sock, code)
    suite.run("protocol errors get disconnect 0x81, 0x82, 0x94 and 0x95", protocol_errors)


def paho_scenarios(suite, node, v5):
    def qos_round_trip():
        topic = unique("paho")
        sub = Paho(node, v5)
        sub.subscribe(f"{topic}/+", 2)
        pub = Paho(node, v5)
        for qos in [0, 1, 2]:
            pub.publish(f"{topic}/q", f"m{qos}".encode(), qos)
            msg = sub.get()
            check((msg.payload, msg.qos) == (f"m{qos}".encode(), qos), f"got {msg.payload!r} qos {msg.qos}")
        sub.close()
        pub.close()
    suite.run("qos 0/1/2 publish to subscribe", qos_round_trip)

    def retained():
        topic = unique("paho") + "/r"
        pub = Paho(node, v5)
        pub.publish(topic, b"kept", 1, retain=True)
        sub = Paho(node, v5)
        sub.subscribe(topic, 1)
        msg = sub.get()
        check(msg.payload == b"kept" and msg.retain, f"retained {msg.payload!r} {msg.retain}")
        pub.publish(topic, b"", 1, retain=True)
        sub.close()
        pub.close()
    suite.run("retained message", retained)

    def will():
        topic = unique("paho") + "/will"
        observer = watcher(node, topic)
        dying = Paho(node, v5, will=(topic, b"bye", 1))
        dying.drop()
        msg = observer.get()
        check(msg.payload == b"bye", f"will {msg.payload!r}")
        observer.close()
    suite.run("will on abrupt close", will)

    def persistent_reconnect():
        topic = unique("paho") + "/p"
        client_id = unique("paho-persist")
        first = Paho(node, v5, client_id, clean=True, expiry=300)
        first.subscribe(topic, 1)
        first.close()
        pub = Paho(node, v5)
        pub.publish(topic, b"queued", 1)
        pub.close()
        again = Paho(node, v5, client_id, clean=False, expiry=300)
        check(again.session_present, "session present")
        check(again.get().payload == b"queued", "queued message")
        again.close()
    suite.run("persistent session across reconnect", persistent_reconnect)

    def persistent_restart(kill):
        def scenario():
            topic = unique("paho") + "/restart"
            client_id = unique("paho-restart")
            first = Paho(node, v5, client_id, clean=True, expiry=300)
            first.subscribe(topic, 1)
            # The session state is written behind the SUBACK (the subscription matches
            # at once, the disk write follows): wait for it before killing the node.
            stored = node.data_dir / "mqtt" / "sessions" / f"{client_id.encode().hex()}.json"
            deadline = time.monotonic() + WAIT_S
            while not (stored.exists() and topic in stored.read_text()):
                check(time.monotonic() < deadline, f"session state not written to {stored}")
                time.sleep(0.01)
            first.close()
            if kill:
                node.kill9()
                node.start()
            else:
                pub = Paho(node, v5)
                pub.publish(topic, b"before", 1)
                pub.close()
                node.restart()
            pub = Paho(node, v5)
            pub.publish(topic, b"after", 1)
            pub.close()
            again = Paho(node, v5, client_id, clean=False, expiry=300)
            check(again.session_present, "session present after restart")
            payloads = [again.get().payload for _ in range(1 if kill else 2)]
            want = [b"after"] if kill else [b"before", b"after"]
            check(payloads == want, f"got {payloads}")
            again.close()
        return scenario
    suite.run("persistent session across node restart", persistent_restart(False), timeout=60)
    suite.run("persistent subscription survives kill -9", persistent_restart(True), timeout=60)

    def shared():
        base = unique("paho")
        members = [Paho(node, v5) for _ in range(2)]
        for member in members:
            member.subscribe(f"$share/g/{base}/+", 1)
        pub = Paho(node, v5)
        for i in range(10):
            pub.publish(f"{base}/t", f"m{i}".encode(), 1)
        time.sleep(1.0)
        counts = [member.messages.qsize() for member in members]
        check(sum(counts) == 10 and all(counts), f"shared: {counts}")
        for client in [*members, pub]:
            client.close()
    suite.run("shared subscription, one member per message", shared)

    def over_websocket():
        # MQTT over WebSocket (/mqtt on the HTTP listener) meets TCP clients.
        base = unique("ws")
        ws = Paho(node, v5, websocket=True)
        ws.subscribe(f"{base}/+", 2)
        tcp = Paho(node, v5)
        tcp.subscribe(f"{base}-back/+", 1)
        for qos in [0, 1, 2]:
            tcp.publish(f"{base}/q", f"m{qos}".encode(), qos)
            msg = ws.get()
            check((msg.topic, msg.payload, msg.qos) == (f"{base}/q", f"m{qos}".encode(), qos),
                  f"over websocket: {msg.topic} {msg.payload!r} qos {msg.qos}")
        # Larger than one WebSocket read or frame of either side.
        big = bytes(range(256)) * 1024
        ws.publish(f"{base}-back/big", big, 1)
        msg = tcp.get()
        check(msg.payload == big, f"256 KiB over websocket: got {len(msg.payload)} bytes")
        ws.close()
        tcp.close()
    suite.run("mqtt over websocket (/mqtt) to and from tcp clients", over_websocket)
    empty_level_scenarios(suite, node, v5)  # before the 5.0-only part: both versions run it

    if not v5:
        return
    from paho.mqtt.packettypes import PacketTypes  # noqa: PLC0415
    from paho.mqtt.properties import Properties  # noqa: PLC0415

    def user_properties():
        topic = unique("paho") + "/props"
        sub = Paho(node, True)
        sub.subscribe(topic, 1)
        pub = Paho(node, True)
        properties = Properties(PacketTypes.PUBLISH)
        properties.UserProperty = [("Zeta", "1"), ("alpha", "2"), ("Zeta", "3")]
        properties.ContentType = "text/plain"
        pub.publish(topic, b"x", 1, properties=properties)
        msg = sub.get()
        got = [pair for pair in msg.properties.UserProperty if pair[0] in ("Zeta", "alpha")]
        check(got == [("Zeta", "1"), ("alpha", "2"), ("Zeta", "3")], f"user properties {got}")
        check(msg.properties.ContentType == "text/plain", "content type")
        sub.close()
        pub.close()
    suite.run("user properties and content type round trip", user_properties)

    def from_http():
        topic = unique("http") + "/b"
        sub = Paho(node, True)
        sub.subscribe(topic, 1)
        request = urllib.request.Request(
            f"{node.url}/v1/topics/{topic}", data=b'{"n":1}', method="POST",
            headers={"Content-Type": "application/json", "ce-specversion": "1.0",
                     "ce-id": "evt-1", "ce-source": "/compat", "ce-type": "compat.test",
                     "ce-region": "eu"})
        with urllib.request.urlopen(request, timeout=WAIT_S) as response:
            check(response.status in (200, 201, 202, 204), f"http status {response.status}")
        msg = sub.get()
        props = dict(msg.properties.UserProperty)
        check(msg.payload == b'{"n":1}', f"payload {msg.payload!r}")
        check(props.get("id") == "evt-1" and props.get("source") == "/compat"
              and props.get("type") == "compat.test" and props.get("specversion") == "1.0"
              and props.get("region") == "eu", f"user properties {props}")
        check(msg.properties.ContentType == "application/json", "content type")
        sub.close()
    suite.run("http publish reaches an mqtt 5 subscriber with cloudevents attributes", from_http)

    def publish_properties(**values):
        properties = Properties(PacketTypes.PUBLISH)
        for name, value in values.items():
            setattr(properties, name, value)
        return properties

    def websocket_oversized_packet():
        # Over the 1 MiB maximum packet size, over WebSocket: DISCONNECT 0x95 as on TCP.
        client = Paho(node, True, websocket=True)
        client.client.publish(unique("ws") + "/big", b"x" * (1024 * 1024 + 100), qos=1)
        try:
            code = client.disconnects.get(timeout=WAIT_S)
        except queue.Empty as e:
            raise Failure("not disconnected") from e
        check(code.value == 0x95, f"disconnect reason {code}")
        client.client.loop_stop()
    suite.run("packet over the maximum size over websocket gets disconnect 0x95",
              websocket_oversized_packet)

    def topic_alias_inbound():
        # The client sets alias 1 with its first publish, then publishes by alias only.
        topic = unique("alias") + "/in"
        sub = Paho(node, True)
        sub.subscribe(topic, 1)
        pub = Paho(node, True)
        pub.publish(topic, b"first", 1, properties=publish_properties(TopicAlias=1))
        pub.publish("", b"second", 1, properties=publish_properties(TopicAlias=1))
        for want in [b"first", b"second"]:
            msg = sub.get()
            check((msg.topic, msg.payload) == (topic, want), f"got {msg.topic} {msg.payload!r}")
        sub.close()
        pub.close()
    suite.run("topic alias from client to server", topic_alias_inbound)

    def topic_alias_outbound():
        # The subscriber allows 2 aliases; paho does not resolve inbound aliases, so this
        # scenario does, and checks every delivery resolves to the topic published.
        base = unique("alias")
        sub = Paho(node, True, connect_properties={"TopicAliasMaximum": 2})
        sub.subscribe(f"{base}/+", 1)
        pub = Paho(node, True)
        sent = [f"{base}/{name}" for name in "ababcacb"]
        for i, topic in enumerate(sent):
            pub.publish(topic, f"m{i}".encode(), 1)
        aliases, resolved, by_alias = {}, [], 0
        for i in range(len(sent)):
            msg = sub.get()
            alias = getattr(msg.properties, "TopicAlias", None)
            check(alias is None or 1 <= alias <= 2, f"alias {alias} over the maximum 2")
            if msg.topic:
                if alias is not None:
                    aliases[alias] = msg.topic
                resolved.append(msg.topic)
            else:
                check(alias in aliases, f"empty topic with unknown alias {alias}")
                resolved.append(aliases[alias])
                by_alias += 1
            check(msg.payload == f"m{i}".encode(), f"order: {msg.payload!r} at {i}")
        check(resolved == sent, f"resolved topics {resolved} != {sent}")
        check(by_alias > 0, "the server never used a topic alias")
        sub.close()
        pub.close()
    suite.run("topic aliases from server to client resolve to the right topics", topic_alias_outbound)

    def message_expiry():
        topic = unique("expiry") + "/q"
        retained_topic = unique("expiry") + "/r"
        client_id = unique("paho-expiry")
        first = Paho(node, True, client_id, clean=True, expiry=300)
        first.subscribe(topic, 1)
        first.close()
        pub = Paho(node, True)
        pub.publish(topic, b"short", 1, properties=publish_properties(MessageExpiryInterval=1))
        pub.publish(topic, b"long", 1, properties=publish_properties(MessageExpiryInterval=60))
        pub.publish(retained_topic, b"short-retained", 1, retain=True,
                    properties=publish_properties(MessageExpiryInterval=1))
        pub.close()
        time.sleep(2.2)
        again = Paho(node, True, client_id, clean=False, expiry=300)
        check(again.session_present, "session present")
        msg = again.get()
        check(msg.payload == b"long", f"expired message delivered: {msg.payload!r}")
        remaining = getattr(msg.properties, "MessageExpiryInterval", None)
        check(remaining is not None and 1 <= remaining <= 59,
              f"remaining expiry interval {remaining} (60 s, 2 s ago)")
        again.none_within(0.5)
        again.close()
        late = Paho(node, True)
        late.subscribe(retained_topic, 1)
        late.none_within(0.5)
        late.close()
    suite.run("message expiry: queued and retained messages expire", message_expiry)

    def flow_control():
        # paho acknowledges by itself, so a raw client holds its PUBACKs and counts.
        topic = unique("flow") + "/t"
        raw = RawV5(node, unique("raw-flow"), receive_maximum=2)
        raw.subscribe(topic, 1)
        pub = Paho(node, True)
        for i in range(6):
            pub.publish(topic, f"m{i}".encode(), 1)
        pub.close()
        received, unacked, fullest = [], [], 0
        while len(received) < 6:
            packet = raw.recv(timeout=0.4)
            if packet is None:
                # Silence: the server must be waiting for an acknowledgement.
                check(len(unacked) == 2, f"stalled with {len(unacked)} in flight, got {received}")
                raw.puback(unacked.pop(0))
                continue
            kind, flags, body = packet
            check(kind == 3, f"expected PUBLISH, got packet type {kind}")
            _topic, packet_id, payload = RawV5.publish_fields(flags, body)
            unacked.append(packet_id)
            received.append(payload.decode())
            fullest = max(fullest, len(unacked))
            check(len(unacked) <= 2, f"{len(unacked)} unacknowledged in flight, receive maximum 2")
        check(received == [f"m{i}" for i in range(6)], f"order {received}")
        check(fullest == 2, f"at most {fullest} in flight")
        raw.close()
    suite.run("receive maximum 2: never more than 2 qos 1 messages unacknowledged (raw client)",
              flow_control)

    def to_kafka_and_weft_sub():
        if not shutil.which("kcat"):
            raise Failure("kcat not installed (apt-get install kcat)")
        base = unique("xp")
        stream = unique("mqtt-capture")
        run_cmd([node.bin, "stream", "create", stream, "--filter", f"{base}/>",
                 "--server", node.url])
        sub = subprocess.Popen([node.bin, "sub", f"{base}/>", "--server", node.url,
                                "--count", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            ready, _, _ = select.select([sub.stderr], [], [], WAIT_S)
            check(ready, "weft sub did not say it was subscribed")
            line = sub.stderr.readline()
            check("subscribed" in line, f"weft sub: {line!r}")
            pub = Paho(node, True)
            pub.publish(f"{base}/device/7", b"from-mqtt", 1)
            pub.close()
            out, err = sub.communicate(timeout=WAIT_S)
        finally:
            if sub.poll() is None:
                sub.kill()
                sub.wait(5)
        lines = out.splitlines()
        check(lines, f"weft sub printed nothing: {err}")
        event = json.loads(lines[0])
        check(event.get("wefttopic") == f"{base}/device/7", f"weft sub topic: {event}")
        # A plain MQTT payload (no content type) is binary data: `data_base64`.
        data = event.get("data")
        if "data_base64" in event:
            data = base64.b64decode(event["data_base64"]).decode(errors="replace")
        check(data == "from-mqtt", f"weft sub data: {event}")
        check(event.get("source", "").startswith("weft://"), f"synthesised source: {event}")
        result = run_cmd(["kcat", "-C", "-b", node.kafka, "-t", stream, "-e", "-o", "beginning",
                          "-f", "%s\n"])
        records = result.stdout.decode(errors="replace").splitlines()
        check(records == ["from-mqtt"], f"kcat read {records}")
    suite.run("mqtt publish read by kcat from a capturing stream and by weft sub",
              to_kafka_and_weft_sub)


def empty_level_scenarios(suite, node, v5):
    """Topic names with empty levels (`/TopicA`, `a//b`, `a/`), valid MQTT in wide use: they
    match as MQTT 5.0 section 4.7 says, and a will on `/TopicA` is accepted."""
    version = "mqttv5" if v5 else "mqttv311"

    def publish(pub, topic, payload):
        # Both kinds of client, where mosquitto_pub is installed.
        if shutil.which("mosquitto_pub") and topic != "a//b":
            mosq_pub(node, version, topic, payload, 1)
        else:
            pub.publish(topic, payload.encode(), 1)

    def received(client):
        topics = []
        while True:
            try:
                topics.append(client.messages.get(timeout=1.0).topic)
            except queue.Empty:
                return sorted(topics)

    def subscribe_and_publish():
        subscribers = {}
        for topic_filter in ["/TopicA", "+/TopicA", "a/#"]:
            subscribers[topic_filter] = Paho(node, v5)
            subscribers[topic_filter].subscribe(topic_filter, 1)
        pub = Paho(node, v5)
        # `TopicA` and `b/` must reach no one: a leading `/` is a level of its own.
        for topic in ["TopicA", "b/", "/TopicA", "a//b", "a/", "a"]:
            publish(pub, topic, f"to {topic}")
        expected = {"/TopicA": ["/TopicA"], "+/TopicA": ["/TopicA"],
                    "a/#": sorted(["a//b", "a/", "a"])}
        for topic_filter, client in subscribers.items():
            got = received(client)
            check(got == expected[topic_filter], f"{topic_filter} received {got}")
            client.close()
        pub.close()
    suite.run("empty levels: /TopicA, +/TopicA and a/# receive /TopicA, a//b, a/ as MQTT says",
              subscribe_and_publish)

    def will_on_leading_slash():
        observer = watcher(node, "/TopicA")
        # The CONNECT must be accepted (Paho checks the CONNACK).
        dying = Paho(node, v5, will=("/TopicA", b"bye-empty-level", 1))
        dying.drop()
        msg = observer.get()
        check((msg.topic, msg.payload) == ("/TopicA", b"bye-empty-level"),
              f"will {msg.topic} {msg.payload!r}")
        observer.close()
    suite.run("empty levels: a will on /TopicA is accepted and published on abrupt close",
              will_on_leading_slash)


def main(argv):
    wanted = argv[1:] or ["mosquitto", "paho-v311", "paho-v5"]
    weft_bin = find_weft_bin()
    if not os.access(weft_bin, os.X_OK):
        print(f"weft binary not found at {weft_bin}; build it with `cargo build -p weft` "
              "or set WEFT_BIN", file=sys.stderr)
        print("mqtt-compat: 0 passed, 1 failed")
        return 1
    suites, nodes = [], []

    def report_and_exit(*_):
        print(f"  FAIL  mqtt-compat: the whole run exceeded {TOTAL_LIMIT_S}s", flush=True)
        finish("mqtt-compat", suites, nodes, extra_failed=1)
        os._exit(1)

    signal.signal(signal.SIGALRM, report_and_exit)
    signal.alarm(TOTAL_LIMIT_S)
    for client in wanted:
        suite = Suite(client)
        suites.append(suite)
        missing = None
        if client == "mosquitto" and not shutil.which("mosquitto_sub"):
            missing = "mosquitto_sub not installed (apt-get install mosquitto-clients)"
        if client.startswith("paho"):
            try:
                paho()
            except ImportError:
                missing = "paho-mqtt not installed (pip install paho-mqtt)"
        if missing:
            print(f"  FAIL  {client}: {missing}", flush=True)
            suite.failed += 1
            continue
        node = MqttNode(weft_bin, log_level=os.environ.get("COMPAT_LOG_LEVEL", "info"))
        nodes.append(node)
        try:
            node.start()
        except Exception as e:  # noqa: BLE001
            print(f"  FAIL  {client}: could not start weft: {e}", flush=True)
            suite.failed += 1
            continue
        if client == "mosquitto":
            mosquitto_scenarios(suite, node)
        elif client in ("paho-v311", "paho-v5"):
            paho_scenarios(suite, node, client == "paho-v5")
            strict_scenarios(suite, node, client == "paho-v5")
        else:
            print(f"unknown client {client!r}", file=sys.stderr)
            return 2
        node.stop()
        print(suite.summary(), flush=True)
        suite.printed = True
    signal.alarm(0)
    return finish("mqtt-compat", suites, nodes, print_suites=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
