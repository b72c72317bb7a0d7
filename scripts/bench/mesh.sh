#!/usr/bin/env bash
# Macro numbers of the mesh links (docs/BENCHMARKS.md, "Mesh"): throughput of 100-byte
# events across 1, 2 and 3 hops, publish-to-deliver latency at 10,000 events/s across
# 1, 2 and 3 hops, interest propagation across 5 nodes, reroute time in a ring of 4.
#
#   ./scripts/bench/mesh.sh            # before (plain) and after (batching + lz4, + zstd)
#   MODES=lz4 ./scripts/bench/mesh.sh  # one mode: plain, lz4 or zstd
#   MODES=parts ./scripts/bench/mesh.sh  # the parts alone: one broker without the mesh
#                                        # (the ceiling), one link without brokers
#
# Runs crates/weft-mesh/examples/mesh_bench.rs (release): nodes in one process, each
# with its own broker, linked over loopback TCP by the same code `weft serve --mesh`
# runs; events are published with Broker::publish (no protocol front end).
set -euo pipefail
cd "$(dirname "$0")/../.."

MODES=${MODES:-plain,lz4,zstd}

cargo build --release --locked -p weft-mesh --example mesh_bench >&2
target_dir=$(cargo metadata --format-version 1 --no-deps --locked |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
bench="$target_dir/release/examples/mesh_bench"

IFS=, read -r -a modes <<<"$MODES"
for mode in "${modes[@]}"; do
  case $mode in
  plain) "$bench" --plain ;;
  lz4) "$bench" ;;
  zstd) "$bench" --zstd ;;
  parts)
    "$bench" --only ceiling
    "$bench" --only link
    ;;
  *)
    echo "unknown mode $mode (plain, lz4, zstd, parts)" >&2
    exit 2
    ;;
  esac
  echo
done
