#!/usr/bin/env bash
# Soak benchmark in one command: setup, release build, then examples/soak.rs for SOAK_MINUTES
# (default 30) against SOAK_INSTANCES (default 1000) churning micro-service instances under
# dashboard load; rewrites the section of BENCHMARKS.md between <!-- bench:soak:start --> and
# <!-- bench:soak:end -->.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
bash scripts/setup.sh
# shellcheck source=/dev/null
source scripts/env.sh
echo "soak: cargo build --release"
cargo build --release --locked --bin gpx_natsmicro --example soak
echo "soak: running ${SOAK_MINUTES:-30} minutes"
NATSMICRO_PLUGIN_BIN="$REPO/target/release/gpx_natsmicro" "$REPO/target/release/examples/soak"
