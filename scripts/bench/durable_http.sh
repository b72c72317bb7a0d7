#!/usr/bin/env bash
# Durable publish over HTTP into one stream (flush: always), for before/after comparisons
# of the stream append path: starts its own node from WEFT (data in a temporary
# directory, HTTP on port 0), creates a one-partition stream capturing `load/>`, and runs
# the http_load example against it with no subscribers.
#
#   cargo build --release -p weft -p weft-test --example http_load
#   scripts/bench/durable_http.sh target/release/weft target/release/examples/http_load [PUBLISHERS] [SIZE] [EVENTS]
set -euo pipefail
weft=$1
load=$2
publishers=${3:-16}
size=${4:-100}
events=${5:-20000}
data=$(mktemp -d)
trap 'kill "$node" 2>/dev/null; wait "$node" 2>/dev/null; rm -rf "$data"' EXIT
"$weft" serve --http 127.0.0.1:0 --kafka off --mqtt off --data-dir "$data/data" \
  --ready-file "$data/ready.json" --log-level warn >/dev/null 2>&1 &
node=$!
for _ in $(seq 300); do [[ -s $data/ready.json ]] && break; sleep 0.05; done
http=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["http"])' "$data/ready.json")
curl -sf -XPOST "http://$http/v1/streams" -H 'content-type: application/json' \
  -d '{"name":"s","filters":["load/>"],"flush":"always"}' >/dev/null
"$load" --server "http://$http" --events "$events" --publishers "$publishers" --subscribers 0 --size "$size"
