"""kafka-python scenarios."""

from __future__ import annotations

import time

from weftnode import check, raw_fetch_all, unique, wait_until

NAME = "kafka-python"

CODEC_IDS = {None: 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def common(node):
    return {"bootstrap_servers": node.kafka, "request_timeout_ms": 10000}


def make_admin(node):
    from kafka import KafkaAdminClient  # noqa: PLC0415

    return KafkaAdminClient(**common(node))


def produce(node, topic, values, compression=None, partition=None):
    from kafka import KafkaProducer  # noqa: PLC0415

    p = KafkaProducer(**common(node), compression_type=compression, linger_ms=20, acks="all")
    try:
        futures = [p.send(topic, key=f"k{i}".encode(), value=v, partition=partition,
                          headers=[("h", f"{i}".encode())])
                   for i, v in enumerate(values)]
        p.flush(15)
        return [f.get(timeout=10) for f in futures]
    finally:
        p.close(timeout=5)


def consumer(node, topic, group, **extra):
    from kafka import KafkaConsumer  # noqa: PLC0415

    return KafkaConsumer(
        topic, **common(node), group_id=group, auto_offset_reset="earliest",
        enable_auto_commit=False, consumer_timeout_ms=15000, session_timeout_ms=10000,
        heartbeat_interval_ms=500, **extra,
    )


def poll_n(c, n, timeout=15):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        for records in c.poll(timeout_ms=200, max_records=500).values():
            got.extend(records)
    return got


def scenario_produce_consume(node, compression):
    topic = unique(f"kp-{compression or 'none'}")
    values = [f"value-{i}-".encode() + b"xyz" * 50 for i in range(300)]
    metas = produce(node, topic, values, compression=compression, partition=0)
    check([m.offset for m in metas] == list(range(300)),
          f"produce offsets {[m.offset for m in metas][:5]}..., expected 0..299")
    batches = raw_fetch_all(node.kafka, topic)
    codecs = {b[1] & 7 for b in batches}
    check(codecs == {CODEC_IDS[compression]},
          f"stored batches use codecs {sorted(codecs)}, expected {CODEC_IDS[compression]}")
    c = consumer(node, topic, unique("kp-g"))
    try:
        got = poll_n(c, 300)
    finally:
        c.close()
    check(len(got) == 300, f"consumed {len(got)} of 300")
    for i, r in enumerate(got):
        check(r.offset == i and r.value == values[i] and r.key == f"k{i}".encode(),
              f"record {i} came back as offset {r.offset} key {r.key!r}")
        check(list(r.headers) == [("h", f"{i}".encode())], f"record {i} headers {r.headers!r}")


def scenario_group_commit(node):
    from kafka import TopicPartition  # noqa: PLC0415
    from kafka.structs import OffsetAndMetadata  # noqa: PLC0415

    topic = unique("kp-group")
    group = unique("kp-group-g")
    values = [f"g{i}".encode() for i in range(50)]
    produce(node, topic, values, partition=0)
    tp = TopicPartition(topic, 0)

    c = consumer(node, topic, group)
    try:
        got = poll_n(c, 50)
        check(len(got) == 50, f"first consumer got {len(got)} of 50")
        c.commit({tp: OffsetAndMetadata(20, "half-way", -1)})
        check(c.committed(tp) == 20, f"committed() = {c.committed(tp)}, expected 20")
    finally:
        c.close()

    c = consumer(node, topic, group)
    try:
        got = poll_n(c, 30)
        check(got and got[0].offset == 20,
              f"second consumer started at {got[0].offset if got else None}, committed 20")
        check(len(got) == 30, f"second consumer got {len(got)} of 30")
        c.commit()
    finally:
        c.close()

    a = make_admin(node)
    try:
        offsets = a.list_group_offsets({group: None})
        # Returns {group: {TopicPartition: OffsetAndMetadata}} (or the inner dict).
        inner = offsets.get(group, offsets) if isinstance(offsets, dict) else offsets
        check(inner.get(tp) is not None and inner[tp].offset == 50,
              f"list_group_offsets: {offsets!r}")
    finally:
        a.close()


def scenario_admin_topics(node):
    from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic  # noqa: PLC0415

    topic = unique("kp-admin")
    a = make_admin(node)
    try:
        a.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1,
                                  topic_configs={"retention.ms": "600000"})])
        check(topic in a.list_topics(), "list_topics does not show the created topic")
        (desc,) = a.describe_topics([topic])
        check(desc["error_code"] == 0 and len(desc["partitions"]) == 2,
              f"describe_topics: {desc!r}")
        result = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)],
                                    config_filter="all")
        text = repr(result)
        check("retention.ms" in text and "600000" in text,
              f"describe_configs does not show retention.ms=600000: {text[:300]}")
        a.create_partitions({topic: NewPartitions(total_count=4)})
        (desc,) = a.describe_topics([topic])
        check(len(desc["partitions"]) == 4, f"after create_partitions: {len(desc['partitions'])}")
        try:
            cluster = a.describe_cluster()
            check(cluster.get("cluster_id") and len(cluster.get("brokers", [])) == 1,
                  f"describe_cluster: {cluster!r}")
        except KeyError as e:
            # kafka-python 3.0.x pops `endpoint_type` from every DescribeCluster response,
            # but that field only exists from v1 (Kafka 3.7); weft, like Kafka 3.0, serves v0.
            check(e.args == ("endpoint_type",), f"describe_cluster: KeyError {e}")
        a.delete_topics([topic])
        wait_until(lambda: topic not in a.list_topics(), 10, "the deleted topic to disappear")
    finally:
        a.close()


def scenario_admin_groups(node):
    topic = unique("kp-groups")
    group = unique("kp-groups-g")
    produce(node, topic, [b"x"] * 5, partition=0)
    c = consumer(node, topic, group, client_id="kp-member")
    try:
        got = poll_n(c, 5)
        check(len(got) == 5, f"consumed {len(got)} of 5")
        c.commit()
        a = make_admin(node)
        try:
            groups = a.list_groups()
            listed = {g["group_id"]: g for g in groups}
            check(group in listed, f"list_groups does not show {group}: {groups!r}")
            check(listed[group].get("protocol_type") == "consumer",
                  f"list_groups: {listed[group]!r}")
            desc = a.describe_groups([group])[group]
            check(desc.get("error") is None, f"describe_groups error {desc.get('error')!r}")
            check(desc["group_state"] == "Stable", f"describe_groups state {desc['group_state']!r}")
            check(desc["protocol_type"] == "consumer",
                  f"describe_groups protocol_type {desc['protocol_type']!r}")
            members = desc["members"]
            check(len(members) == 1 and members[0]["client_id"] == "kp-member",
                  f"describe_groups members {members!r}")
            assigned = members[0]["member_assignment"]["assigned_partitions"]
            check(assigned == [{"topic": topic, "partitions": [0]}],
                  f"describe_groups assignment {assigned!r}")
        finally:
            a.close()
    finally:
        c.close()


def run(suite, node):
    try:
        import kafka  # noqa: F401, PLC0415
        import kafka.codec as codec  # noqa: PLC0415
    except ImportError as e:
        suite.skip("all", f"kafka-python is not installed: {e}")
        suite.failed += 1
        return
    suite.run("produce and consume, no compression",
              lambda: scenario_produce_consume(node, None), timeout=40)
    for name, available in (("gzip", codec.has_gzip()), ("lz4", codec.has_lz4()),
                            ("snappy", codec.has_snappy()), ("zstd", codec.has_zstd())):
        if available:
            suite.run(f"produce and consume, {name} compression",
                      lambda n=name: scenario_produce_consume(node, n), timeout=40)
        elif name in ("gzip", "lz4"):
            suite.skip(f"{name} compression", "the codec's Python module is not installed")
    suite.run("consumer group: commit, a new consumer resumes at the committed offset",
              lambda: scenario_group_commit(node), timeout=60)
    suite.run("admin: create, list, describe, configs, partitions, cluster, delete topics",
              lambda: scenario_admin_topics(node), timeout=40)
    suite.run("admin: list_groups / describe_groups",
              lambda: scenario_admin_groups(node), timeout=40)
