#!/usr/bin/env python3
"""Kafka client compatibility: unmodified Kafka clients (kcat, confluent-kafka,
kafka-python) against a weft node started by this script.

Prints one `CLIENT: N passed, N failed` line per client and a closing
`kafka-compat: N passed, N failed` line; exits 1 if anything failed.

    WEFT_BIN=target/debug/weft python3 tests/compat/kafka_compat.py [kcat|confluent|kafka-python ...]

Environment: WEFT_BIN (default: target/debug/weft under cargo's target directory),
COMPAT_VERBOSE=1 (print passing scenarios and tracebacks), COMPAT_KEEP=1 (keep the node's
directory with its logs), COMPAT_LOG_LEVEL (the node's log level, default info).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, str(Path(__file__).resolve().parent))

from weftnode import Node, Suite, find_weft_bin, finish  # noqa: E402

# The whole script must finish well inside CI's budget; this is the hard stop.
TOTAL_LIMIT_S = 230


def main(argv):
    wanted = argv[1:] or ["kcat", "confluent", "kafka-python"]
    weft_bin = find_weft_bin()
    if not os.access(weft_bin, os.X_OK):
        print(f"weft binary not found at {weft_bin}; build it with `cargo build -p weft` "
              "or set WEFT_BIN", file=sys.stderr)
        print("kafka-compat: 0 passed, 1 failed")
        return 1

    suites = []
    nodes = []

    def report_and_exit(*_):
        print(f"  FAIL  kafka-compat: the whole run exceeded {TOTAL_LIMIT_S}s", flush=True)
        finish("kafka-compat", suites, nodes, extra_failed=1)
        os._exit(1)

    signal.signal(signal.SIGALRM, report_and_exit)
    signal.alarm(TOTAL_LIMIT_S)

    started = time.monotonic()
    for client in wanted:
        if client == "kcat":
            import compat_kcat as module
        elif client == "confluent":
            import compat_confluent as module
        elif client == "kafka-python":
            import compat_kafka_python as module
        else:
            print(f"unknown client {client!r}", file=sys.stderr)
            return 2
        node = Node(weft_bin, log_level=os.environ.get("COMPAT_LOG_LEVEL", "info"))
        nodes.append(node)
        suite = Suite(module.NAME)
        suites.append(suite)
        try:
            node.start()
        except Exception as e:  # noqa: BLE001
            print(f"  FAIL  {module.NAME}: could not start weft: {e}", flush=True)
            suite.failed += 1
            print(suite.summary(), flush=True)
            suite.printed = True
            continue
        module.run(suite, node)
        node.stop()
        print(suite.summary(), flush=True)
        suite.printed = True
    signal.alarm(0)
    code = finish("kafka-compat", suites, nodes, print_suites=False)
    print(f"(took {time.monotonic() - started:.0f}s)", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
