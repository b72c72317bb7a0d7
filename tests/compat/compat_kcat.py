"""kcat (librdkafka's command line client) scenarios."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import urllib.request

from weftnode import Failure, check, raw_fetch_batches, run_cmd, unique

NAME = "kcat"

# Kafka's record batch attribute codes.
CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def kcat_consume(node, topic, count, timeout=15, extra=()):
    """Consume `count` records from the beginning of `topic` as kcat JSON lines."""
    out = run_cmd(
        ["kcat", "-b", node.kafka, "-C", "-t", topic, "-o", "beginning", "-c", str(count),
         "-e", "-q", "-J", *extra],
        timeout=timeout,
    ).stdout.decode()
    records = [json.loads(line) for line in out.splitlines() if line.strip()]
    check(len(records) == count, f"kcat consumed {len(records)} records, expected {count}")
    return records


def kcat_create_topic(node, topic):
    """A producer's metadata request auto-creates the topic (nothing is produced)."""
    run_cmd(["kcat", "-b", node.kafka, "-P", "-t", topic], input=b"")
    out = run_cmd(["kcat", "-b", node.kafka, "-L", "-t", topic]).stdout.decode()
    check(f'topic "{topic}" with 1 partitions' in out, f"topic {topic} not created: {out!r}")


def scenario_compression(node, codec):
    topic = unique(f"kcat-{codec}")
    # Compressible values, so librdkafka really compresses (it sends a batch uncompressed
    # when compression does not make it smaller).
    lines = [f"key-{i}\tvalue-{i}-" + "abcdefgh" * 32 for i in range(200)]
    run_cmd(
        ["kcat", "-b", node.kafka, "-P", "-t", topic, "-z", codec, "-K", "\t",
         "-X", "linger.ms=50"],
        input=("\n".join(lines) + "\n").encode(),
    )
    records = kcat_consume(node, topic, len(lines))
    for i, rec in enumerate(records):
        key, value = lines[i].split("\t", 1)
        check(rec["offset"] == i, f"record {i} has offset {rec['offset']}")
        check(rec["key"] == key and rec["payload"] == value,
              f"record {i} came back as key={rec['key']!r} value={rec['payload'][:30]!r}...")
    # The batches come back as produced: the codec is the one kcat used.
    batches = raw_fetch_batches(node.kafka, topic)
    check(batches, "raw fetch returned no batches")
    codecs = {b[1] & 7 for b in batches}
    check(codecs == {CODECS[codec]},
          f"stored batches use codecs {sorted(codecs)}, expected {CODECS[codec]} ({codec})")
    check(sum(b[3] for b in batches) == len(lines), "batch record counts do not add up")


def scenario_keys_headers_nulls(node):
    topic = unique("kcat-khn")
    # -Z: an empty value is sent as NULL. Repeated header names, empty and null header values.
    run_cmd(
        ["kcat", "-b", node.kafka, "-P", "-t", topic, "-K", "\t", "-Z",
         "-H", "h1=x", "-H", "h1=y", "-H", "empty=", "-H", "nullhdr", "-H", "utf=ünï"],
        input="k1\tv1\nk2\t\n\tnokey\n".encode(),
    )
    records = kcat_consume(node, topic, 3)
    expected_headers = ["h1", "x", "h1", "y", "empty", "", "nullhdr", None, "utf", "ünï"]
    expected = [("k1", "v1"), ("k2", None), (None, "nokey")]
    for rec, (key, value) in zip(records, expected):
        check(rec["headers"] == expected_headers,
              f"offset {rec['offset']}: headers {rec['headers']!r}, expected {expected_headers!r}")
        check(rec["key"] == key, f"offset {rec['offset']}: key {rec['key']!r}, expected {key!r}")
        check(rec["payload"] == value,
              f"offset {rec['offset']}: value {rec['payload']!r}, expected {value!r}")


def scenario_acks0(node):
    topic = unique("kcat-acks0")
    values = [f"m{i}" for i in range(500)]
    run_cmd(["kcat", "-b", node.kafka, "-P", "-t", topic, "-X", "acks=0", "-z", "zstd"],
            input=("\n".join(values) + "\n").encode())
    records = kcat_consume(node, topic, len(values))
    check([r["payload"] for r in records] == values, "acks=0 records differ or are out of order")


def check_ce_record(node, rec, data, topic):
    headers = rec.get("headers") or []
    pairs = dict(zip(headers[0::2], headers[1::2]))
    check(rec["payload"] == data, f"payload {rec['payload']!r}, expected {data!r}")
    for name in ("ce_specversion", "ce_id", "ce_source", "ce_type"):
        check(pairs.get(name), f"record has no {name} header: {headers!r}")
    check(pairs["ce_specversion"] == "1.0", f"ce_specversion is {pairs['ce_specversion']!r}")
    check(pairs.get("content-type", "").startswith("text/plain"),
          f"content-type header is {pairs.get('content-type')!r}")
    check(pairs.get("weft_topic") == topic, f"weft_topic header is {pairs.get('weft_topic')!r}")
    check(pairs.get("weft_origin") == node.name,
          f"weft_origin header is {pairs.get('weft_origin')!r}, expected {node.name!r}")
    return pairs


def scenario_http_post(node):
    topic = unique("kcat-http")
    kcat_create_topic(node, topic)
    request = urllib.request.Request(
        f"{node.url}/v1/topics/{topic}", data=b"hello from http", method="POST",
        headers={"content-type": "text/plain", "ce-type": "com.example.greeting"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        check(response.status in (200, 201, 202), f"POST answered {response.status}")
        ids = json.loads(response.read()).get("ids")
    (rec,) = kcat_consume(node, topic, 1)
    pairs = check_ce_record(node, rec, "hello from http", topic)
    check(pairs["ce_type"] == "com.example.greeting", f"ce_type is {pairs['ce_type']!r}")
    if ids:
        check(pairs["ce_id"] == ids[0], f"ce_id {pairs['ce_id']!r} is not the published id {ids[0]!r}")


def scenario_weft_pub(node):
    topic = unique("kcat-pub")
    kcat_create_topic(node, topic)
    run_cmd([node.bin, "pub", topic, "hello from weft pub", "--server", node.url,
             "--type", "com.example.pub", "--attr", "subject=s1"])
    (rec,) = kcat_consume(node, topic, 1)
    pairs = check_ce_record(node, rec, "hello from weft pub", topic)
    check(pairs["ce_type"] == "com.example.pub", f"ce_type is {pairs['ce_type']!r}")
    check(pairs.get("ce_subject") == "s1", f"ce_subject is {pairs.get('ce_subject')!r}")


def scenario_weft_sub(node):
    topic = unique("kcat-sub")
    sub = subprocess.Popen(
        [node.bin, "sub", topic, "--server", node.url, "--count", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )
    try:
        # `weft sub` says on stderr when its subscription is in place.
        subscribed = threading.Event()
        stderr_lines = []

        def watch_stderr():
            for line in sub.stderr:
                stderr_lines.append(line.decode(errors="replace"))
                if b"subscribed" in line:
                    subscribed.set()

        threading.Thread(target=watch_stderr, daemon=True).start()
        if not subscribed.wait(10):
            raise Failure(f"weft sub did not subscribe: {''.join(stderr_lines)!r}")
        run_cmd(
            ["kcat", "-b", node.kafka, "-P", "-t", topic, "-K", "\t", "-H", "trace=abc"],
            input=b"order-1\t{\"n\":1}\n",
        )
        lines = []
        reader = threading.Thread(target=lambda: lines.append(sub.stdout.readline()), daemon=True)
        reader.start()
        reader.join(10)
        check(lines and lines[0], "weft sub printed nothing within 10s")
        event = json.loads(lines[0])
        check(event.get("specversion") == "1.0", f"not a CloudEvent: {event!r}")
        for attr in ("id", "source", "type"):
            check(event.get(attr), f"event has no {attr}: {event!r}")
        check(event.get("wefttopic") == topic, f"wefttopic is {event.get('wefttopic')!r}")
        data = event.get("data")
        if data is None and "data_base64" in event:
            import base64
            data = base64.b64decode(event["data_base64"]).decode()
        if isinstance(data, (dict, list)):
            data = json.dumps(data, separators=(",", ":"))
        check(data == '{"n":1}', f"event data is {data!r}")
    finally:
        if sub.poll() is None:
            sub.kill()
        sub.wait(5)


def run(suite, node):
    if not shutil.which("kcat"):
        suite.skip("all", "kcat is not installed")
        suite.failed += 1
        return
    for codec in CODECS:
        suite.run(f"produce/consume with {codec} compression",
                  lambda c=codec: scenario_compression(node, c), timeout=30)
    suite.run("keys, headers and null values round-trip",
              lambda: scenario_keys_headers_nulls(node), timeout=30)
    suite.run("acks=0 produce is stored (no answers expected)",
              lambda: scenario_acks0(node), timeout=30)
    suite.run("consumes an HTTP POST as a binary CloudEvent (ce_ headers)",
              lambda: scenario_http_post(node), timeout=30)
    suite.run("consumes a `weft pub` event as a binary CloudEvent (ce_ headers)",
              lambda: scenario_weft_pub(node), timeout=30)
    suite.run("a kcat produce reaches `weft sub` as a CloudEvent",
              lambda: scenario_weft_sub(node), timeout=30)


