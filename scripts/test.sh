#!/usr/bin/env bash
# The whole test suite: installs what it needs, then
#   backend:  format check, clippy, unit and integration tests (real nats-server, real micro
#             services, the plugin driven over gRPC as Grafana drives it);
#   frontend: prettier, eslint (@grafana/eslint-config), tsc --noEmit, no import circles (madge), vitest;
#   package:  both plugins built into dist/ and checked the way Grafana reads them;
#   browser:  the built module.js files loaded by the preview host in headless Chromium,
#             against the real backend, nats-server and demo services.
# Each step prints a plain "<step>: N passed, N failed" line or cargo's own summary.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS=0
step() { echo; echo "== $* (at ${SECONDS}s)"; }

bash scripts/setup.sh --browser
# shellcheck source=scripts/env.sh
source scripts/env.sh

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
step "cargo test"
cargo test --locked

step "frontend: prettier, eslint, tsc, import circles"
(cd frontend && npx prettier --check . && npm run --silent lint && npm run --silent typecheck && npm run --silent circles)
step "frontend: vitest"
(cd frontend && npm run --silent test)

step "package"
bash scripts/build.sh
bash scripts/check-dist.sh

step "browser tests (headless Chromium, preview host, real backend)"
(cd frontend && NATSMICRO_PLUGIN_BIN="$PWD/../target/release/gpx_natsmicro" npm run --silent test:browser)
echo
echo "all tests passed in ${SECONDS}s"
