#!/usr/bin/env bash
# The benchmark suite in one command: setup, release build, the npm baseline (bench/node, npm ci),
# then examples/bench/, which runs every backend measurement and rewrites the generated section of
# BENCHMARKS.md between <!-- bench:backend:start --> and <!-- bench:backend:end -->, and the
# frontend render benchmark (frontend/bench/render.mjs: the built panel in headless Chromium),
# which rewrites the section between <!-- bench:frontend:start --> and <!-- bench:frontend:end -->.
# Then examples/flood.rs (peak RSS under reply floods, its own section), examples/hostile.rs (peak
# RSS of every query type under hostile peers, section bench:hostile), examples/stops.rs
# (how fast each discovery stop rule answers, its own section) and examples/history_store.rs
# (memory and JetStream history stores, takeover, 10 000 instances: section bench:history). Knobs are environment
# variables read by examples/bench/ (BENCH_RUNS, BENCH_RUNS_1000, ...). Longer runs have their
# own commands: scripts/soak.sh (30 min) and scripts/fuzz.sh (coverage-guided fuzzing).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
t0=$(date +%s)

bash scripts/setup.sh --browser
# shellcheck source=/dev/null
source scripts/env.sh

echo "bench: cargo build --release"
cargo build --release --locked --bin gpx_natsmicro --example bench --example flood --example stops --example history_store --example hostile

lock="bench/node/package-lock.json"
stamp="bench/node/node_modules/.natsmicro-lock"
if [ ! -f "$stamp" ] || ! cmp -s "$lock" "$stamp"; then
    echo "bench: npm ci (bench/node/)"
    (cd bench/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp "$lock" "$stamp"
fi

echo "bench: running (about 5½ minutes)"
NATSMICRO_PLUGIN_BIN="$REPO/target/release/gpx_natsmicro" "$REPO/target/release/examples/bench" >/dev/null

echo "bench: reply floods (about 1.5 minutes)"
NATSMICRO_PLUGIN_BIN="$REPO/target/release/gpx_natsmicro" "$REPO/target/release/examples/flood" >/dev/null

echo "bench: hostile peers, every query type (about 2 minutes)"
NATSMICRO_PLUGIN_BIN="$REPO/target/release/gpx_natsmicro" "$REPO/target/release/examples/hostile" >/dev/null \
    || echo "bench: hostile peers: a query type is over its memory goal (BENCHMARKS.md, section bench:hostile)"

echo "bench: stop rules (about 10 seconds)"
NATSMICRO_PLUGIN_BIN="$REPO/target/release/gpx_natsmicro" "$REPO/target/release/examples/stops" >/dev/null

echo "bench: history stores (about 12 minutes)"
NATSMICRO_PLUGIN_BIN="$REPO/target/release/gpx_natsmicro" "$REPO/target/release/examples/history_store" >/dev/null

echo "bench: frontend render (about 2.5 minutes)"
(cd frontend && node bench/render.mjs >/dev/null)

echo "bench: suite took $(( $(date +%s) - t0 )) s; results in BENCHMARKS.md"
echo "bench: done"
