"""confluent-kafka (Python, librdkafka) scenarios."""

from __future__ import annotations

import threading
import time

from weftnode import Failure, check, raw_fetch_all, unique, wait_until

NAME = "confluent-kafka"


def _ck():
    import confluent_kafka  # noqa: PLC0415 - imported lazily so a missing wheel fails cleanly

    return confluent_kafka


def base_conf(node, **extra):
    conf = {"bootstrap.servers": node.kafka, "broker.address.family": "v4", "log_level": 4}
    conf.update(extra)
    return conf


def producer(node, **extra):
    return _ck().Producer(base_conf(node, **{"linger.ms": 5, **extra}))


def consumer(node, group, **extra):
    conf = base_conf(
        node,
        **{
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500,
            "max.poll.interval.ms": 30000,
            "topic.metadata.refresh.interval.ms": 2000,
            **extra,
        },
    )
    return _ck().Consumer(conf)


def admin(node):
    from confluent_kafka.admin import AdminClient  # noqa: PLC0415

    return AdminClient(base_conf(node))


def create_topic(node, topic, partitions, config=None):
    from confluent_kafka.admin import NewTopic  # noqa: PLC0415

    client = admin(node)  # kept alive until the result is in (else: _DESTROY)
    futures = client.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=1, config=config or {})],
        operation_timeout=10, request_timeout=10,
    )
    futures[topic].result(timeout=15)


def produce_all(node, topic, records, **extra):
    """Produce (key, value, partition) records; returns the delivery reports in order."""
    p = producer(node, **extra)
    reports = []
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err)
        else:
            reports.append((msg.partition(), msg.offset(), msg.key(), msg.value()))

    for key, value, partition in records:
        kwargs = {"key": key, "value": value, "on_delivery": on_delivery}
        if partition is not None:
            kwargs["partition"] = partition
        while True:
            try:
                p.produce(topic, **kwargs)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    remaining = p.flush(20)
    check(remaining == 0, f"{remaining} records still undelivered after 20s")
    check(not errors, f"delivery errors: {errors[:3]}")
    check(len(reports) == len(records), f"{len(reports)} delivery reports for {len(records)} records")
    return reports


def drain(c, want, timeout, seen=None):
    """Poll `c` until `want` records arrived (or the time is up); returns them."""
    got = [] if seen is None else seen
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        for msg in c.consume(num_messages=500, timeout=0.2):
            if msg.error():
                raise Failure(f"consumer error: {msg.error()}")
            got.append(msg)
    return got


# --- scenarios --------------------------------------------------------------------------

def scenario_idempotent_producer(node):
    topic = unique("ck-idem")
    create_topic(node, topic, 3)
    n = 3000
    records = [(f"k{i % 7}".encode(), f"{i}".encode(), None) for i in range(n)]
    reports = produce_all(
        node, topic, records,
        **{"enable.idempotence": True, "acks": "all", "linger.ms": 2,
           "batch.num.messages": 100, "max.in.flight.requests.per.connection": 5},
    )
    # Delivered once each; offsets in each partition dense and in production order.
    by_partition = {}
    for partition, offset, _key, value in reports:
        by_partition.setdefault(partition, []).append((offset, int(value)))
    for partition, entries in by_partition.items():
        offsets = [o for o, _ in entries]
        values = [v for _, v in entries]
        check(sorted(offsets) == list(range(len(offsets))),
              f"partition {partition}: offsets are not 0..{len(offsets) - 1}")
        check(values == sorted(values), f"partition {partition}: records out of order")
    # The stored batches carry the producer id and dense sequence numbers from InitProducerId.
    for partition in by_partition:
        batches = raw_fetch_all(node.kafka, topic, partition)
        check(sum(b[3] for b in batches) == len(by_partition[partition]),
              f"partition {partition}: raw fetch saw {sum(b[3] for b in batches)} records")
        pids = {b[4] for b in batches}
        check(len(pids) == 1 and min(pids) >= 0, f"partition {partition}: producer ids {pids}")
        sequences = [(b[5], b[2] + 1) for b in batches]
        expected_seq = 0
        for seq, count in sequences:
            check(seq == expected_seq, f"partition {partition}: base sequence {seq}, expected {expected_seq}")
            expected_seq += count
    c = consumer(node, unique("ck-idem-g"))
    try:
        c.subscribe([topic])
        got = drain(c, n, 30)
    finally:
        c.close()
    check(len(got) == n, f"consumed {len(got)} of {n}")
    values = [int(m.value()) for m in got]
    check(len(set(values)) == n, "duplicates in the consumed records")
    per_partition = {}
    for m in got:
        per_partition.setdefault(m.partition(), []).append(int(m.value()))
    for partition, vals in per_partition.items():
        check(vals == sorted(vals), f"partition {partition} consumed out of order")


class Member:
    """One consumer-group member polling in its own thread, committing synchronously after
    each batch it processed (so a rebalance never hands on uncommitted records)."""

    def __init__(self, node, group, topic, name, all_records, **conf):
        self.name = name
        self.records = all_records  # shared list of (name, partition, offset, value)
        self.lock = threading.Lock()
        self.assigned = set()
        self.stop = threading.Event()
        self.error = None
        self.consumer = consumer(node, group, **{"client.id": name, **conf})
        self.consumer.subscribe(
            [topic], on_assign=self._on_assign, on_revoke=self._on_revoke,
        )
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.thread.start()

    # Works for eager (everything revoked, then the new set assigned) and cooperative
    # (incremental) rebalancing. Never call assignment() from another thread: it can block
    # on the rebalance callback this thread is running.
    def _on_assign(self, _c, partitions):
        with self.lock:
            self.assigned |= {tp.partition for tp in partitions}

    def _on_revoke(self, _c, partitions):
        with self.lock:
            self.assigned -= {tp.partition for tp in partitions}

    def _loop(self):
        try:
            while not self.stop.is_set():
                msgs = self.consumer.consume(num_messages=200, timeout=0.2)
                batch = []
                for m in msgs:
                    if m.error():
                        raise Failure(f"{self.name}: consumer error {m.error()}")
                    batch.append((self.name, m.partition(), m.offset(), m.value()))
                if batch:
                    self.consumer.commit(asynchronous=False)
                    with self.lock:
                        self.records.extend(batch)
            self.consumer.close()  # LeaveGroup
        except Exception as e:  # noqa: BLE001
            self.error = e

    def leave(self, timeout=15):
        self.stop.set()
        self.thread.join(timeout)
        check(not self.thread.is_alive(), f"{self.name} did not close within {timeout}s")
        if self.error:
            raise Failure(f"{self.name}: {self.error}")

    def get_assigned(self):
        with self.lock:
            return set(self.assigned)


def scenario_consumer_group(node):
    topic = unique("ck-group")
    group = unique("ck-group-g")
    create_topic(node, topic, 6)
    records = []
    members = [Member(node, group, topic, f"m{i}", records) for i in range(3)]
    try:
        # Wait until the group is stable with the six partitions split over three members.
        def balanced():
            sets = [m.get_assigned() for m in members]
            union = set().union(*sets)
            disjoint = sum(len(s) for s in sets) == len(union)
            return union == set(range(6)) and disjoint and all(sets)

        wait_until(balanced, 30, "the three members to share the six partitions")
        first = [(f"a{i}".encode(), f"a-{i}".encode(), i % 6) for i in range(600)]
        produce_all(node, topic, first)
        wait_until(lambda: len(records) >= 600, 30,
                   f"600 records across the group (have {len(records)})")
        for m in members:
            if m.error:
                raise Failure(f"{m.name}: {m.error}")
        values = [r[3] for r in records]
        check(len(values) == len(set(values)) == 600,
              f"{len(values)} records consumed, {len(set(values))} distinct; expected 600 once each")
        consumers_of = {}
        for name, partition, _, _ in records:
            consumers_of.setdefault(partition, set()).add(name)
        check(all(len(v) == 1 for v in consumers_of.values()),
              f"a partition was read by more than one member: {consumers_of}")
        check(len({r[0] for r in records}) == 3, "not every member consumed records")

        # m2 leaves: the others take over its partitions.
        leaving = members[2]
        left_partitions = leaving.get_assigned()
        leaving.leave()

        def taken_over():
            sets = [m.get_assigned() for m in members[:2]]
            return set().union(*sets) == set(range(6)) and all(sets)

        wait_until(taken_over, 30, f"m0 and m1 to take over m2's partitions {sorted(left_partitions)}")
        second = [(f"b{i}".encode(), f"b-{i}".encode(), i % 6) for i in range(300)]
        produce_all(node, topic, second)
        wait_until(lambda: len(records) >= 900, 30,
                   f"the 300 records produced after m2 left (have {len(records) - 600})")
        time.sleep(0.5)  # anything more would be a duplicate
        values = [r[3] for r in records]
        check(len(values) == len(set(values)) == 900,
              f"{len(values)} records consumed, {len(set(values))} distinct; expected 900 once each")
        late = [r for r in records[600:] if r[1] in left_partitions]
        check(late and all(r[0] != "m2" for r in late),
              "m2's former partitions were not consumed by the remaining members")
    finally:
        for m in members:
            m.stop.set()
        for m in members:
            m.thread.join(15)
    for m in members:
        if m.error:
            raise Failure(f"{m.name}: {m.error}")


def scenario_resume_at_committed(node):
    ck = _ck()
    topic = unique("ck-resume")
    group = unique("ck-resume-g")
    create_topic(node, topic, 2)
    produce_all(node, topic, [(None, f"r-{i}".encode(), i % 2) for i in range(100)])

    def consume_some(count, expect_first=None):
        c = consumer(node, group)
        try:
            c.subscribe([topic])
            msgs = drain(c, count, 20)
            check(len(msgs) >= count, f"consumed {len(msgs)} records, expected {count}")
            firsts = {}
            for m in msgs:
                firsts.setdefault(m.partition(), m.offset())
            if expect_first is not None:
                expected = {p: expect_first.get(p, 0) for p in firsts}
                check(firsts == expected,
                      f"restarted consumer started at {firsts}, committed were {expect_first}")
            # Commit exactly what was processed: the first `count` records.
            last = {}
            for m in msgs[:count]:
                last[m.partition()] = m.offset() + 1
            offsets = [ck.TopicPartition(topic, p, o, metadata=f"meta-{p}-{o}")
                       for p, o in sorted(last.items())]
            c.commit(offsets=offsets, asynchronous=False)
            committed = c.committed([ck.TopicPartition(topic, p) for p in last], timeout=10)
            for tp in committed:
                check(tp.offset == last[tp.partition],
                      f"committed() says {tp.offset} for partition {tp.partition}, "
                      f"committed {last[tp.partition]}")
                check(tp.metadata == f"meta-{tp.partition}-{tp.offset}",
                      f"commit metadata came back as {tp.metadata!r}")
            return msgs[:count]
        finally:
            c.close()

    def next_expected(msgs_so_far):
        nxt = {0: 0, 1: 0}  # a partition with nothing committed starts at the beginning
        for m in msgs_so_far:
            nxt[m.partition()] = max(nxt.get(m.partition(), 0), m.offset() + 1)
        return nxt

    first = consume_some(30)
    second = consume_some(30, expect_first=next_expected(first))
    seen = first + second
    values = {m.value() for m in seen}
    check(len(values) == 60, "a restarted consumer re-read committed records")

    # Across a node restart: the committed offsets (and the records) are durable.
    node.restart()
    third = consume_some(40, expect_first=next_expected(seen))
    values |= {m.value() for m in third}
    check(len(values) == 100, f"{len(values)} distinct records over three consumers, expected 100")


def scenario_admin(node):
    from confluent_kafka.admin import (  # noqa: PLC0415
        AlterConfigOpType, ConfigEntry, ConfigResource, NewPartitions, NewTopic,
    )
    from confluent_kafka import TopicCollection  # noqa: PLC0415

    a = admin(node)
    topic = unique("ck-admin")
    fs = a.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1,
                                   config={"retention.ms": "3600000"})], operation_timeout=10)
    fs[topic].result(timeout=15)

    # Creating it again is TOPIC_ALREADY_EXISTS.
    fs = a.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    try:
        fs[topic].result(timeout=15)
        raise Failure("creating an existing topic succeeded")
    except Failure:
        raise
    except Exception as e:  # noqa: BLE001
        code = e.args[0].code() if e.args and hasattr(e.args[0], "code") else None
        check(code == _ck().KafkaError.TOPIC_ALREADY_EXISTS,
              f"creating an existing topic failed with {e!r}, expected TOPIC_ALREADY_EXISTS")

    md = a.list_topics(timeout=10)
    check(topic in md.topics, f"list_topics does not show {topic}")
    check(len(md.topics[topic].partitions) == 3,
          f"list_topics shows {len(md.topics[topic].partitions)} partitions, expected 3")

    desc = a.describe_topics(TopicCollection([topic]), request_timeout=10)[topic].result(timeout=15)
    check(desc.name == topic and len(desc.partitions) == 3,
          f"describe_topics: {desc.name} with {len(desc.partitions)} partitions")
    check(desc.topic_id is not None and str(desc.topic_id) != "AAAAAAAAAAAAAAAAAAAAAA",
          f"describe_topics: topic id is {desc.topic_id}")

    cluster = a.describe_cluster(request_timeout=10).result(timeout=15)
    check(cluster.cluster_id and len(cluster.nodes) == 1,
          f"describe_cluster: id {cluster.cluster_id!r}, {len(cluster.nodes)} nodes")

    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = a.describe_configs([resource], request_timeout=10)[resource].result(timeout=15)
    check(configs.get("retention.ms") and configs["retention.ms"].value == "3600000",
          f"describe_configs retention.ms = {getattr(configs.get('retention.ms'), 'value', None)!r}")
    check("cleanup.policy" in configs and configs["cleanup.policy"].is_default,
          "describe_configs does not report cleanup.policy with its default")

    alter = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "7200000",
                    incremental_operation=AlterConfigOpType.SET)])
    a.incremental_alter_configs([alter], request_timeout=10)[alter].result(timeout=15)
    configs = a.describe_configs([resource], request_timeout=10)[resource].result(timeout=15)
    check(configs["retention.ms"].value == "7200000",
          f"after incremental_alter_configs retention.ms = {configs['retention.ms'].value!r}")

    fs = a.create_partitions([NewPartitions(topic, 5)], request_timeout=10)
    fs[topic].result(timeout=15)
    md = a.list_topics(topic, timeout=10)
    check(len(md.topics[topic].partitions) == 5,
          f"after create_partitions: {len(md.topics[topic].partitions)} partitions, expected 5")

    fs = a.delete_topics([topic], operation_timeout=10)
    fs[topic].result(timeout=15)
    md = a.list_topics(timeout=10)
    check(topic not in md.topics, "the deleted topic is still listed")


def scenario_list_offsets(node):
    ck = _ck()
    from confluent_kafka.admin import OffsetSpec  # noqa: PLC0415

    topic = unique("ck-offsets")
    create_topic(node, topic, 1)
    t0 = int(time.time() * 1000) - 60_000
    p = producer(node)
    for i in range(10):
        p.produce(topic, value=f"t{i}".encode(), partition=0, timestamp=t0 + i * 1000)
        p.flush(10)  # one batch per record, so every record's time is findable
    check(p.flush(10) == 0, "records undelivered")

    c = consumer(node, unique("ck-offsets-g"))
    try:
        low, high = c.get_watermark_offsets(ck.TopicPartition(topic, 0), timeout=10)
        check((low, high) == (0, 10), f"watermarks ({low}, {high}), expected (0, 10)")
        queries = [ck.TopicPartition(topic, 0, t0 + 3500)]
        (found,) = c.offsets_for_times(queries, timeout=10)
        check(found.offset == 4, f"offsets_for_times(t0+3.5s) = {found.offset}, expected 4")
        (found,) = c.offsets_for_times([ck.TopicPartition(topic, 0, t0)], timeout=10)
        check(found.offset == 0, f"offsets_for_times(t0) = {found.offset}, expected 0")
        (found,) = c.offsets_for_times([ck.TopicPartition(topic, 0, t0 + 60_000)], timeout=10)
        check(found.offset in (-1, 10),
              f"offsets_for_times(after the last record) = {found.offset}, expected -1 (end)")
    finally:
        c.close()

    a = admin(node)
    tp = ck.TopicPartition(topic, 0)
    for spec, want in ((OffsetSpec.earliest(), 0), (OffsetSpec.latest(), 10),
                       (OffsetSpec.for_timestamp(t0 + 7000), 7)):
        result = a.list_offsets({tp: spec}, request_timeout=10)[tp].result(timeout=15)
        check(result.offset == want, f"admin list_offsets({spec}) = {result.offset}, expected {want}")
        if want == 7:
            check(result.timestamp == t0 + 7000,
                  f"list_offsets by time: timestamp {result.timestamp}, expected {t0 + 7000}")


def scenario_lossless_round_trip(node):
    topic = unique("ck-lossless")
    create_topic(node, topic, 1)
    ts = int(time.time() * 1000) - 123_456
    headers = [("dup", b"1"), ("dup", b"2"), ("bin", bytes(range(256))), ("null", None)]
    p = producer(node)
    p.produce(topic, key=b"\x00key\xff", value=None, headers=headers, timestamp=ts, partition=0)
    p.produce(topic, key=None, value=b"", partition=0)
    check(p.flush(10) == 0, "records undelivered")
    c = consumer(node, unique("ck-lossless-g"))
    try:
        c.subscribe([topic])
        got = drain(c, 2, 15)
    finally:
        c.close()
    check(len(got) == 2, f"consumed {len(got)} of 2")
    m = got[0]
    check(m.key() == b"\x00key\xff", f"key came back as {m.key()!r}")
    check(m.value() is None, f"null value came back as {m.value()!r}")
    check(m.headers() == headers, f"headers came back as {m.headers()!r}")
    check(m.timestamp() == (_ck().TIMESTAMP_CREATE_TIME, ts), f"timestamp came back as {m.timestamp()}")
    check(got[1].key() is None and got[1].value() == b"",
          f"empty value / null key came back as {got[1].key()!r}/{got[1].value()!r}")


def scenario_group_admin(node):
    ck = _ck()
    from confluent_kafka import ConsumerGroupTopicPartitions  # noqa: PLC0415

    topic = unique("ck-gadmin")
    group = unique("ck-gadmin-g")
    create_topic(node, topic, 2)
    produce_all(node, topic, [(None, f"{i}".encode(), i % 2) for i in range(20)])
    a = admin(node)
    c = consumer(node, group, **{"client.id": "ck-admin-member"})
    try:
        c.subscribe([topic])
        check(len(drain(c, 20, 20)) == 20, "did not consume the 20 records")
        c.commit(asynchronous=False)
        listed = a.list_consumer_groups(request_timeout=10).result(timeout=15)
        ids = {g.group_id: g for g in listed.valid}
        check(group in ids, f"list_consumer_groups does not show {group}")
        check(ids[group].state == ck.ConsumerGroupState.STABLE,
              f"list_consumer_groups state {ids[group].state}")
        desc = a.describe_consumer_groups([group], request_timeout=10)[group].result(timeout=15)
        check(desc.state == ck.ConsumerGroupState.STABLE, f"describe state {desc.state}")
        check(len(desc.members) == 1 and desc.members[0].client_id == "ck-admin-member",
              f"describe members {[m.client_id for m in desc.members]}")
        assigned = sorted(tp.partition for tp in desc.members[0].assignment.topic_partitions)
        check(assigned == [0, 1], f"describe assignment {assigned}")
    finally:
        c.close()

    def committed():
        result = a.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group)], request_timeout=10)[group].result(timeout=15)
        return {tp.partition: tp.offset for tp in result.topic_partitions}

    check(committed() == {0: 10, 1: 10}, f"list_consumer_group_offsets {committed()}")
    a.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(
        group, [ck.TopicPartition(topic, 0, 3)])], request_timeout=10)[group].result(timeout=15)
    check(committed() == {0: 3, 1: 10}, f"after alter_consumer_group_offsets: {committed()}")
    a.delete_consumer_groups([group], request_timeout=10)[group].result(timeout=15)
    listed = a.list_consumer_groups(request_timeout=10).result(timeout=15)
    check(group not in {g.group_id for g in listed.valid}, "the deleted group is still listed")


def scenario_cooperative_sticky(node):
    topic = unique("ck-coop")
    group = unique("ck-coop-g")
    create_topic(node, topic, 4)
    records = []
    strategy = {"partition.assignment.strategy": "cooperative-sticky"}
    first = Member(node, group, topic, "c0", records, **strategy)
    members = [first]
    try:
        wait_until(lambda: first.get_assigned() == set(range(4)), 20,
                   "the first member to own all four partitions")
        members.append(Member(node, group, topic, "c1", records, **strategy))

        def shared():
            a, b = (m.get_assigned() for m in members)
            return a and b and not (a & b) and (a | b) == set(range(4))

        wait_until(shared, 30, "an incremental rebalance sharing the partitions")
        produce_all(node, topic, [(None, f"{i}".encode(), i % 4) for i in range(200)])
        wait_until(lambda: len(records) >= 200, 20, f"200 records (have {len(records)})")
        time.sleep(0.3)
        values = [r[3] for r in records]
        check(len(values) == len(set(values)) == 200,
              f"{len(values)} consumed, {len(set(values))} distinct; expected 200 once each")
    finally:
        for m in members:
            m.stop.set()
        for m in members:
            m.thread.join(15)
    for m in members:
        if m.error:
            raise Failure(f"{m.name}: {m.error}")


def scenario_fetch_whole_batch(node):
    # A batch larger than the consumer's fetch limits still comes back whole (as in Kafka,
    # so a consumer can always make progress).
    topic = unique("ck-bigbatch")
    create_topic(node, topic, 1)
    produce_all(node, topic, [(None, b"x" * 20_000, 0), (None, b"y" * 20_000, 0)],
                **{"linger.ms": 50})
    c = consumer(node, unique("ck-bigbatch-g"), **{
        "fetch.max.bytes": 1000, "message.max.bytes": 1000,
        "max.partition.fetch.bytes": 100})
    try:
        c.subscribe([topic])
        got = drain(c, 2, 15)
    finally:
        c.close()
    check([len(m.value()) for m in got] == [20_000, 20_000],
          f"consumed values of sizes {[len(m.value()) for m in got]}")


def run(suite, node):
    try:
        _ck()
    except ImportError as e:
        suite.skip("all", f"confluent-kafka is not installed: {e}")
        suite.failed += 1
        return
    suite.run("idempotent producer: all delivered once, in order",
              lambda: scenario_idempotent_producer(node), timeout=45)
    suite.run("consumer group of three on six partitions; a member leaves, the others take over",
              lambda: scenario_consumer_group(node), timeout=90)
    suite.run("cooperative-sticky group: incremental rebalance, records once each",
              lambda: scenario_cooperative_sticky(node), timeout=60)
    suite.run("admin list/describe consumer groups, group offsets, alter, delete group",
              lambda: scenario_group_admin(node), timeout=40)
    suite.run("a batch larger than the fetch limits is returned whole",
              lambda: scenario_fetch_whole_batch(node), timeout=30)
    suite.run("admin create/list/describe topics, configs, cluster, partitions, delete",
              lambda: scenario_admin(node), timeout=40)
    suite.run("ListOffsets: watermarks, offsets_for_times, admin list_offsets",
              lambda: scenario_list_offsets(node), timeout=30)
    suite.run("keys, headers, null values and timestamps round-trip",
              lambda: scenario_lossless_round_trip(node), timeout=30)
    # Last: it restarts the node.
    suite.run("a restarted consumer resumes at the committed offset (also across a node restart)",
              lambda: scenario_resume_at_committed(node), timeout=60)
