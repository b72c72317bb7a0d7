#!/usr/bin/env python3
"""Kafka macro benchmark: produce and consume throughput and produce latency against a
weft node, with librdkafka (confluent-kafka) as the client.

    cargo build --release -p weft
    python3 scripts/bench/kafka.py [--weft target/release/weft] [--records 200000]

Starts its own node (data in a temporary directory, default flush policy: fsync before
every acknowledgement), then for 100 B and 1 KiB records:
  * produce throughput: one producer, batched (linger.ms=5, batch.size=1 MiB), acks=all,
    lz4 off, waits for every delivery report;
  * produce latency: 5,000 records sent one at a time at a steady rate, p50/p99 of the
    time from produce() to its delivery report;
  * consume throughput: one consumer reading the whole topic from the start.
Prints one line per measurement. Numbers go to docs/BENCHMARKS.md with this command.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from confluent_kafka import Consumer, Producer


def start_node(weft, data):
    ready = os.path.join(data, "ready.json")
    process = subprocess.Popen(
        [weft, "serve", "--http", "127.0.0.1:0", "--kafka", "127.0.0.1:0", "--mqtt", "off",
         "--data-dir", os.path.join(data, "data"), "--ready-file", ready,
         "--log-level", "warn"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    deadline = time.time() + 30
    while not os.path.exists(ready):
        if time.time() > deadline or process.poll() is not None:
            raise SystemExit("weft did not start")
        time.sleep(0.05)
    time.sleep(0.05)
    with open(ready) as file:
        return process, json.load(file)["kafka"]


def produce_throughput(bootstrap, topic, size, count):
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                         "batch.size": 1 << 20, "acks": "all",
                         "queue.buffering.max.messages": 1_000_000})
    payload = b"x" * size
    failures = []
    started = time.perf_counter()
    for index in range(count):
        while True:
            try:
                producer.produce(topic, payload, key=str(index % 1000).encode(),
                                 on_delivery=lambda error, _m: error and failures.append(error))
                break
            except BufferError:
                producer.poll(0.01)
        if index % 10_000 == 0:
            producer.poll(0)
    producer.flush(60)
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} deliveries failed: {failures[0]}")
    return count / elapsed, count * size / elapsed / 1e6


def produce_latency(bootstrap, topic, size, count=5000, rate=2000):
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "acks": "all"})
    payload = b"y" * size
    latencies = []

    def report(error, _message, sent):
        if error is None:
            latencies.append(time.perf_counter() - sent)

    interval = 1.0 / rate
    next_send = time.perf_counter()
    for _ in range(count):
        now = time.perf_counter()
        if now < next_send:
            time.sleep(next_send - now)
        sent = time.perf_counter()
        producer.produce(topic, payload, on_delivery=lambda e, m, s=sent: report(e, m, s))
        producer.poll(0)
        next_send += interval
    producer.flush(30)
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    return pick(0.50), pick(0.99)


def consume_throughput(bootstrap, topic, size, count):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{topic}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "fetch.max.bytes": 64 << 20,
                         "max.partition.fetch.bytes": 16 << 20})
    consumer.subscribe([topic])
    seen = 0
    started = None
    deadline = time.time() + 120
    while seen < count and time.time() < deadline:
        messages = consumer.consume(10_000, 1.0)
        if messages and started is None:
            started = time.perf_counter()
        seen += sum(1 for message in messages if message.error() is None)
    elapsed = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    return seen / elapsed, seen * size / elapsed / 1e6


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--weft", default="target/release/weft")
    parser.add_argument("--records", type=int, default=200_000)
    args = parser.parse_args()
    data = tempfile.mkdtemp(prefix="weft-kafka-bench-")
    process, bootstrap = start_node(args.weft, data)
    try:
        for size in (100, 1024):
            topic = f"bench-{size}"
            records, mb = produce_throughput(bootstrap, topic, size, args.records)
            print(f"produce {size:>4} B: {records:10,.0f} records/s {mb:8.1f} MB/s (acks=all, fsync)")
            records, mb = consume_throughput(bootstrap, topic, size, args.records)
            print(f"consume {size:>4} B: {records:10,.0f} records/s {mb:8.1f} MB/s")
            p50, p99 = produce_latency(bootstrap, f"latency-{size}", size)
            print(f"produce {size:>4} B latency at 2,000/s: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
