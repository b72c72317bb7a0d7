#!/usr/bin/env python3
"""HTTP client compatibility: Python's urllib against a weft node.

urllib writes a request's whole body before it reads the answer and never sends
`Expect: 100-continue`, so an early refusal (413 for a body over the limit, 400 for a bad
query) only reaches it if the node reads the body it is refusing. Each scenario checks
that urllib gets the status and the problem document, not a reset or a broken pipe.

Usage: python3 tests/compat/http_compat.py   (WEFT_BIN names the binary; standard
library only)
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

from weftnode import Node, Suite, check, find_weft_bin, finish

MIB = 1024 * 1024


def post(node, path, body, content_type="text/plain"):
    """POSTs `body` with urllib; returns (status, parsed JSON answer)."""
    request = urllib.request.Request(
        f"{node.url}{path}", data=body, method="POST",
        headers={"content-type": content_type},
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def refused_whole(node, path, size, status, content_type="text/plain"):
    def scenario():
        got, answer = post(node, path, b"x" * size, content_type)
        check(got == status, f"expected {status}, got {got}: {answer}")
        check(answer.get("status") == status, f"not a problem document: {answer}")
    return scenario


def accepted(node):
    def scenario():
        got, answer = post(node, "/v1/topics/compat/http", b"hello")
        check(got == 202 and len(answer.get("ids", [])) == 1, f"{got}: {answer}")
    return scenario


def main():
    weft_bin = find_weft_bin()
    if not os.access(weft_bin, os.X_OK):
        print(f"weft binary not found at {weft_bin}; build it with `cargo build -p weft` "
              "or set WEFT_BIN", file=sys.stderr)
        print("http-compat: 0 passed, 1 failed")
        return 1
    suite = Suite("urllib")
    node = Node(weft_bin)
    try:
        node.start()
    except Exception as error:  # noqa: BLE001
        print(f"  FAIL  urllib: could not start weft: {error}", flush=True)
        suite.failed += 1
        return finish("http-compat", [suite], [node])
    suite.run("a publish is accepted", accepted(node))
    for size in (3 * MIB, 32 * MIB):
        suite.run(f"a {size // MIB} MiB body over the 1 MiB limit reads 413",
                  refused_whole(node, "/v1/topics/compat/http", size, 413))
    suite.run("a bad query with a 32 MiB body reads 400",
              refused_whole(node, "/v1/topics/compat/http?ack=maybe", 32 * MIB, 400,
                            "application/cloudevents-batch+json"))
    return finish("http-compat", [suite], [node])


if __name__ == "__main__":
    sys.exit(main())
