#!/usr/bin/env bash
# weft's MQTT front end side by side with Mosquitto, on this machine, with the same load
# client (crates/weft-mqtt/examples/mqtt_load.rs, MQTT 3.1.1). Prints a markdown table of
# medians (and ranges) over REPEAT rounds; the raw RESULT lines are kept in
# $RESULTS (default: a file in the work directory, printed at the end).
#
#   ./scripts/bench/mqtt.sh
#   REPEAT=1 CONNECTIONS=2000 LATENCY_SECONDS=3 ./scripts/bench/mqtt.sh     # a quick look
#   PARTS=idle ./scripts/bench/mqtt.sh                                       # memory only
#   PARTS=throughput ./scripts/bench/mqtt.sh        # closed-loop throughput only (no open loop, no latency)
#   BENCH_WEFT_BIN=target/release/weft BENCH_LOAD_BIN=target/release/examples/mqtt_load \
#     ./scripts/bench/mqtt.sh
#     # binaries already built: no cargo build (not WEFT_*: weft reads those as config)
#
# Each round starts each broker fresh, one after the other (weft, then Mosquitto), and
# runs: idle connections (broker RSS before/after, per connection), QoS 0 and QoS 1
# throughput one-to-one (1 → 1, and 10 publishers → 10 subscribers in pairs) and
# one-to-many (1 → 100), and publish-to-deliver latency at a steady rate. Throughput runs
# are closed loop (a publisher stays at most 1,000 messages ahead of its slowest
# subscriber, below both brokers' queue limits) plus one open-loop run per QoS.
# Needs the `mosquitto` Debian package (installed when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."

REPEAT=${REPEAT:-3}
CONNECTIONS=${CONNECTIONS:-10000}
LATENCY_RATE=${LATENCY_RATE:-1000}
LATENCY_SECONDS=${LATENCY_SECONDS:-10}
# idle: memory per connection; load: throughput (open and closed loop) and latency;
# throughput: the closed-loop throughput runs alone (the quickest comparison).
PARTS=${PARTS:-idle,load}
WEFT_PORT=${WEFT_PORT:-18830}
MOSQUITTO_PORT=${MOSQUITTO_PORT:-18831}

# 10,000 connections: one descriptor each in the load tool and in the broker.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if (($(ulimit -n) < CONNECTIONS + 200)); then
  CONNECTIONS=$(($(ulimit -n) - 200))
  echo "open-file limit $(ulimit -n): measuring $CONNECTIONS idle connections" >&2
fi

if ! command -v mosquitto >/dev/null; then
  if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq mosquitto
fi
mosquitto_bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)

if [[ -n ${BENCH_WEFT_BIN:-} && -n ${BENCH_LOAD_BIN:-} ]]; then
  # Already built (e.g. while the work tree does not build with --locked).
  weft_bin=$BENCH_WEFT_BIN
  load=$BENCH_LOAD_BIN
else
  cargo build --release --locked -p weft >&2
  cargo build --release --locked -p weft-mqtt --example mqtt_load >&2
  target_dir=$(cargo metadata --format-version 1 --no-deps --locked |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
  weft_bin="$target_dir/release/weft"
  load="$target_dir/release/examples/mqtt_load"
fi

work=$(mktemp -d)
RESULTS=${RESULTS:-$work/results.txt}
: >"$RESULTS"
broker_pid=
stop_broker() {
  if [[ -n $broker_pid ]]; then
    kill "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
    broker_pid=
  fi
}
trap 'stop_broker; rm -rf "$work"' EXIT

wait_for_port() {
  for _ in $(seq 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "nothing listens on port $1" >&2
  exit 1
}

start_broker() {
  case $1 in
  weft)
    rm -rf "$work/weft-data"
    "$weft_bin" serve --http 127.0.0.1:0 --kafka off --mqtt "127.0.0.1:$WEFT_PORT" \
      --data-dir "$work/weft-data" --log-level warn &
    broker_pid=$!
    port=$WEFT_PORT
    ;;
  mosquitto)
    # Queues large enough that QoS 1 is never dropped; 32 messages in flight per client,
    # as weft allows an MQTT 3.1.1 client (`v3_inflight_limit`).
    cat >"$work/mosquitto.conf" <<EOF
listener $MOSQUITTO_PORT 127.0.0.1
allow_anonymous true
persistence false
max_inflight_messages 32
max_queued_messages 1000000
max_queued_bytes 0
max_connections -1
log_type error
EOF
    "$mosquitto_bin" -c "$work/mosquitto.conf" &
    broker_pid=$!
    port=$MOSQUITTO_PORT
    ;;
  esac
  wait_for_port "$port"
  sleep 0.5
}

run() { # broker, load tool arguments…
  local broker=$1
  shift
  local line
  line=$("$load" "$@" --broker "127.0.0.1:$port" | tee /dev/stderr | grep '^RESULT ') || {
    echo "load run failed: $*" >&2
    return 0
  }
  echo "broker=$broker ${line#RESULT }" >>"$RESULTS"
}

for round in $(seq "$REPEAT"); do
  for broker in weft mosquitto; do
    echo "== round $round/$REPEAT: $broker" >&2
    if [[ $PARTS == *idle* ]]; then
      # A fresh broker for each: memory freed by closed connections stays in the process.
      for subscribe in 0 1; do
        start_broker "$broker"
        run "$broker" idle --connections "$CONNECTIONS" --subscribe "$subscribe" --pid "$broker_pid"
        stop_broker
      done
    fi
    full_load=false
    [[ $PARTS == *load* ]] && full_load=true
    $full_load || [[ $PARTS == *throughput* ]] || continue
    start_broker "$broker"
    for qos in 0 1; do
      # Open loop (as fast as the broker takes them): shows what each broker does when a
      # subscriber cannot keep up. The rest are closed loop (`--ahead 1000`, the default).
      if $full_load; then
        run "$broker" throughput --qos "$qos" --publishers 1 --subscribers 1 --messages 200000 --size 64 --ahead 0
      fi
      run "$broker" throughput --qos "$qos" --publishers 1 --subscribers 1 --messages 200000 --size 64
      run "$broker" throughput --qos "$qos" --publishers 10 --subscribers 10 --pattern pairs --messages 20000 --size 64
      run "$broker" throughput --qos "$qos" --publishers 1 --subscribers 100 --messages 2000 --size 64
      if $full_load; then
        run "$broker" latency --qos "$qos" --rate "$LATENCY_RATE" --seconds "$LATENCY_SECONDS" --size 64
      fi
    done
    stop_broker
  done
done

python3 - "$RESULTS" "$REPEAT" <<'EOF'
import statistics, sys
from collections import defaultdict

path, repeat = sys.argv[1], sys.argv[2]
rows = defaultdict(lambda: defaultdict(list))  # scenario -> broker -> values
order = []
def add(scenario, broker, value):
    if scenario not in order:
        order.append(scenario)
    rows[scenario][broker].append(float(value))

for line in open(path):
    r = dict(kv.split("=", 1) for kv in line.split())
    b = r["broker"]
    if r["mode"] == "idle":
        what = "with one subscription" if r["subscribe"] == "1" else "connected"
        add(f"memory per idle connection ({r['connections']}, {what}), bytes", b, r["bytes_per_connection"])
    elif r["mode"] == "throughput":
        shape = f"{r['publishers']} pub → {r['subscribers']} sub" + (" (pairs)" if r["pattern"] == "pairs" else "")
        if r.get("ahead") == "0":
            shape += " open loop"
        add(f"QoS {r['qos']} {shape}, {r['size']} B: delivered msgs/s", b, r["delivered_per_s"])
        loss = float(r["loss_pct"])
        if loss > 0:
            add(f"QoS {r['qos']} {shape}: loss %", b, loss)
    elif r["mode"] == "latency":
        rate = float(r["rate"])
        add(f"QoS {r['qos']} latency at {rate:.0f} msgs/s: p50 µs", b, r["p50_us"])
        add(f"QoS {r['qos']} latency at {rate:.0f} msgs/s: p99 µs", b, r["p99_us"])

def cell(values):
    if not values:
        return "–"
    m = statistics.median(values)
    fmt = (lambda v: f"{v:,.2f}") if m < 10 else (lambda v: f"{v:,.0f}")
    if len(values) == 1:
        return fmt(m)
    return f"{fmt(m)} ({fmt(min(values))}–{fmt(max(values))})"

print(f"\nmedian (range) of {repeat} round(s); raw results: {path}\n")
print("| measurement | weft | mosquitto | weft / mosquitto |")
print("|---|---|---|---|")
for scenario in order:
    w, m = rows[scenario]["weft"], rows[scenario]["mosquitto"]
    ratio = f"{statistics.median(w) / statistics.median(m):.2f}×" if w and m and statistics.median(m) else "–"
    print(f"| {scenario} | {cell(w)} | {cell(m)} | {ratio} |")
EOF
if [[ $RESULTS == "$work/results.txt" ]]; then
  echo >&2
  cat "$RESULTS" >&2
fi
