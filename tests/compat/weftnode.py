"""Helpers for the Kafka client compatibility script: a weft node under test, a scenario
runner with time limits, and a minimal raw Kafka Fetch client (to look at stored batches
exactly as the broker returns them)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class Failure(Exception):
    """A scenario's check did not hold."""


def check(condition, reason):
    if not condition:
        raise Failure(reason)


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_until(predicate, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise Failure(f"timed out after {timeout}s waiting for {what}")


def find_weft_bin():
    """WEFT_BIN, else `target/debug/weft` under cargo's target directory (which respects
    CARGO_TARGET_DIR and workspace configuration)."""
    # weft rejects unknown WEFT_* environment variables, so WEFT_BIN must not reach the
    # weft processes this script starts.
    env = os.environ.pop("WEFT_BIN", None)
    if env:
        return env
    target = None
    try:
        out = subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--no-deps"],
            cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
        ).stdout
        target = json.loads(out)["target_directory"]
    except Exception:  # noqa: BLE001 - fall back to the conventional location
        target = os.environ.get("CARGO_TARGET_DIR") or str(REPO / "target")
    return str(Path(target) / "debug" / "weft")


class Node:
    """One `weft serve` process on its own data directory, on free loopback ports."""

    def __init__(self, weft_bin, extra_args=(), log_level="info"):
        self.bin = weft_bin
        self.extra_args = list(extra_args)
        self.log_level = log_level
        self.dir = Path(tempfile.mkdtemp(prefix="weft-kafka-compat-"))
        self.data_dir = self.dir / "data"
        self.proc = None
        self.http = None
        self.kafka = None
        self.name = None
        self.starts = 0

    def start(self, timeout=20):
        ready = self.dir / "ready.json"
        if ready.exists():
            ready.unlink()
        self.starts += 1
        log = open(self.dir / f"node-{self.starts}.log", "wb")
        self.proc = subprocess.Popen(
            [
                self.bin, "serve",
                "--http", "127.0.0.1:0",
                "--kafka", "127.0.0.1:0",
                "--mqtt", "127.0.0.1:0",
                "--data-dir", str(self.data_dir),
                "--ready-file", str(ready),
                "--node-name", "compat",
                "--log-level", self.log_level,
                *self.extra_args,
            ],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        log.close()

        def read_ready():
            if self.proc.poll() is not None:
                raise Failure(f"weft serve exited with {self.proc.returncode}; see {self.log_path()}")
            try:
                return json.loads(ready.read_text())
            except (FileNotFoundError, ValueError):
                return None

        info = wait_until(read_ready, timeout, "the node's ready file")
        self.http, self.kafka, self.name = info["http"], info["kafka"], info.get("node")
        return self

    def log_path(self):
        return self.dir / f"node-{self.starts}.log"

    def stop(self, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def cleanup(self, keep=False):
        self.stop()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def url(self):
        return f"http://{self.http}"


class Suite:
    """Scenarios of one client. Each scenario runs in a daemon thread with a time limit, so
    a hung client call fails that scenario instead of the whole script."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def run(self, title, fn, timeout=30):
        outcome = {}

        def body():
            try:
                fn()
                outcome["ok"] = True
            except Failure as e:
                outcome["error"] = str(e)
            except Exception as e:  # noqa: BLE001 - any client error fails the scenario
                outcome["error"] = f"{type(e).__name__}: {e}"
                if os.environ.get("COMPAT_VERBOSE"):
                    traceback.print_exc()

        started = time.monotonic()
        thread = threading.Thread(target=body, name=title, daemon=True)
        thread.start()
        thread.join(timeout)
        elapsed = time.monotonic() - started
        if thread.is_alive():
            outcome["error"] = f"did not finish within {timeout}s"
        if outcome.get("ok"):
            self.passed += 1
            if os.environ.get("COMPAT_VERBOSE"):
                print(f"  ok    {self.name}: {title} ({elapsed:.1f}s)", flush=True)
        else:
            self.failed += 1
            print(f"  FAIL  {self.name}: {title}: {outcome.get('error')}", flush=True)

    def skip(self, title, reason):
        self.skipped += 1
        print(f"  skip  {self.name}: {title}: {reason}", flush=True)

    def summary(self):
        line = f"{self.name}: {self.passed} passed, {self.failed} failed"
        if self.skipped:
            line += f", {self.skipped} skipped"
        return line


def run_cmd(args, timeout=20, input=None, check_rc=True):
    """Run a client command line; fails the scenario on a non-zero exit or a timeout."""
    try:
        result = subprocess.run(
            args, input=input, capture_output=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired as e:
        raise Failure(f"`{' '.join(args[:4])} ...` timed out after {timeout}s") from e
    if check_rc and result.returncode != 0:
        raise Failure(
            f"`{' '.join(args)}` exited {result.returncode}: "
            f"{result.stderr.decode(errors='replace').strip()[-400:]}"
        )
    return result


# --- a minimal raw Kafka client: Fetch v4, to see stored batches byte for byte ----------

def _string(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise Failure("broker closed the connection")
        buf += chunk
    return buf


def raw_fetch_batches(kafka_addr, topic, partition=0, offset=0, max_bytes=1 << 20):
    """Fetch (v4) from `topic`/`partition` at `offset` and return the record batches as a
    list of (base_offset, attributes, last_offset_delta, record_count, producer_id,
    base_sequence)."""
    host, port = kafka_addr.rsplit(":", 1)
    body = struct.pack(">iiiib", -1, 500, 1, max_bytes, 0)
    body += struct.pack(">i", 1) + _string(topic)
    body += struct.pack(">i", 1) + struct.pack(">iqi", partition, offset, max_bytes)
    header = struct.pack(">hhi", 1, 4, 7) + _string("weft-compat-raw")
    frame = header + body
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(struct.pack(">i", len(frame)) + frame)
        size = struct.unpack(">i", _recv_exact(sock, 4))[0]
        data = _recv_exact(sock, size)
    pos = 4  # correlation id
    pos += 4  # throttle_time_ms
    (ntopics,) = struct.unpack_from(">i", data, pos)
    pos += 4
    check(ntopics == 1, f"raw fetch: {ntopics} topics in response")
    (tlen,) = struct.unpack_from(">h", data, pos)
    pos += 2 + tlen
    (nparts,) = struct.unpack_from(">i", data, pos)
    pos += 4
    check(nparts == 1, f"raw fetch: {nparts} partitions in response")
    _pidx, error, _hw, _lso = struct.unpack_from(">ihqq", data, pos)
    pos += 4 + 2 + 8 + 8
    check(error == 0, f"raw fetch: error code {error}")
    (naborted,) = struct.unpack_from(">i", data, pos)
    pos += 4 + max(naborted, 0) * 16
    (rlen,) = struct.unpack_from(">i", data, pos)
    pos += 4
    records = data[pos:pos + max(rlen, 0)]
    batches = []
    p = 0
    while p + 61 <= len(records):
        base_offset, batch_len = struct.unpack_from(">qi", records, p)
        if p + 12 + batch_len > len(records):
            break  # a partial batch at the end of the fetch
        (attributes,) = struct.unpack_from(">h", records, p + 21)
        (last_delta,) = struct.unpack_from(">i", records, p + 23)
        producer_id, _epoch, base_sequence, count = struct.unpack_from(">qhii", records, p + 43)
        batches.append((base_offset, attributes, last_delta, count, producer_id, base_sequence))
        p += 12 + batch_len
    return batches


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def raw_fetch_all(kafka_addr, topic, partition=0, limit=100):
    """Every batch of a partition, fetching on from the end of the last one."""
    batches = []
    offset = 0
    for _ in range(limit):
        got = [b for b in raw_fetch_batches(kafka_addr, topic, partition, offset)
               if b[0] + b[2] >= offset]
        if not got:
            return batches
        batches.extend(got)
        offset = got[-1][0] + got[-1][2] + 1
    raise Failure(f"raw fetch of {topic}/{partition} did not reach the end in {limit} fetches")


def finish(label, suites, nodes, extra_failed=0, print_suites=True):
    """Cleans up the nodes (kept, with their logs, when anything failed or COMPAT_KEEP is
    set), prints each suite's summary and the closing `LABEL: N passed, N failed` line,
    and returns the exit code."""
    keep = bool(os.environ.get("COMPAT_KEEP"))
    failed = sum(s.failed for s in suites) + extra_failed
    for node in nodes:
        if keep or failed:
            print(f"  weft node directory (logs): {node.dir}", file=sys.stderr)
        node.cleanup(keep=keep or failed > 0)
    if print_suites:
        for suite in suites:
            if not getattr(suite, "printed", False):
                print(suite.summary(), flush=True)
    passed = sum(s.passed for s in suites)
    print(f"{label}: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0
