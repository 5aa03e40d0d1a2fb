#!/usr/bin/env bash
# The whole test suite: installs what it needs, then
#   backend:  format check, clippy, unit and integration tests (real nats-server, real micro
#             services, the plugin driven over gRPC as Grafana drives it); the fuzz targets compile;
#   frontend: prettier, eslint (@grafana/eslint-config), tsc --noEmit, no import circles (madge),
#             the provisioned dashboards regenerated from frontend/dashboards/ without a diff, vitest;
#   package:  both plugins built into dist/ and checked the way Grafana reads them;
#   browser:  the built module.js files loaded by the preview host in headless Chromium,
#             against the real backend, nats-server and demo services;
#   grafana 13: the frontend type-checked, unit-tested and built against Grafana 13's packages
#             (React 19), and the SHIPPED module.js files browser-tested in a preview host made of
#             those packages (frontend/scripts/grafana-set.mjs).
# Each step prints a plain "<step>: N passed, N failed" line, and the end says where the time went.
#
# scripts/test.sh --fast: the edit-test loop; unit and integration tests (all but the heavy
# 1 000-instance one, tests/fleet.rs) and vitest, without lints, packaging or the browser.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS=0
FAST=0
if [ "${1:-}" = "--fast" ]; then FAST=1; fi
timings=()
phase=""
phase_start=0
finish_phase() {
    if [ -n "$phase" ]; then timings+=("$(printf '%6ss  %s' "$((SECONDS - phase_start))" "$phase")"); fi
}
step() { finish_phase; phase="$*"; phase_start=$SECONDS; echo; echo "== $* (at ${SECONDS}s)"; }
report_times() {
    finish_phase
    phase=""
    echo
    echo "time per step:"
    printf '%s\n' "${timings[@]}"
}
# cargo test, then one plain line summing every test binary's result.
cargo_tests() {
    local log rc=0
    log="$(mktemp)"
    cargo test --locked "$@" 2>&1 | tee "$log" || rc=$?
    awk '/^test result:/ { p += $4; f += $6 } END { printf "cargo test: %d passed, %d failed\n", p, f }' "$log"
    rm -f "$log"
    return "$rc"
}

step "setup"
if [ "$FAST" = 1 ]; then bash scripts/setup.sh; else bash scripts/setup.sh --browser; fi
# shellcheck source=scripts/env.sh
source scripts/env.sh

if [ "$FAST" = 1 ]; then
    step "cargo test (fast: all but tests/fleet.rs)"
    args=(--lib --bins)
    for f in tests/*.rs; do
        name="$(basename "$f" .rs)"
        if [ "$name" != fleet ]; then args+=(--test "$name"); fi
    done
    cargo_tests "${args[@]}"
    step "frontend: vitest"
    (cd frontend && npm run --silent test)
    report_times
    echo
    echo "fast tests passed in ${SECONDS}s"
    exit 0
fi

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
step "cargo test"
cargo_tests

step "fuzz targets compile (cargo check of fuzz/; running them: scripts/fuzz.sh)"
cargo check --locked --manifest-path fuzz/Cargo.toml --bins --target-dir target/fuzz-check

step "frontend: prettier, eslint, tsc, import circles, dashboards as code"
(cd frontend && npx prettier --check . && npm run --silent lint && npm run --silent typecheck && npm run --silent circles \
    && npm run --silent dashboards -- --check)
step "frontend: vitest"
(cd frontend && npm run --silent test)

step "package"
bash scripts/build.sh
bash scripts/check-dist.sh
step "release of the Linux targets: linux_arm64 cross-built (its handshake under qemu), zips, per-platform zips, checksums (macOS and Windows: scripts/release.sh, outside CI)"
NATSMICRO_RELEASE_TARGETS="aarch64-unknown-linux-gnu" bash scripts/release.sh

step "GitHub workflows: actionlint"
# actionlint skips the `run:` scripts silently when shellcheck is missing: it must not be.
command -v shellcheck >/dev/null || { echo "shellcheck is missing (scripts/setup.sh installs it)" >&2; exit 1; }
actionlint -no-color -shellcheck shellcheck .github/workflows/*.yml

step "browser tests (headless Chromium, preview host, real backend)"
(cd frontend && NATSMICRO_PLUGIN_BIN="$PWD/../target/release/gpx_natsmicro" npm run --silent test:browser)

step "frontend under Grafana 13 (React 19): install, tsc, vitest, build, browser"
repo="$PWD"
set13="$(cd frontend && node scripts/grafana-set.mjs prepare | tail -n 1)"
(
    cd "$set13"
    npm run --silent typecheck
    npm run --silent test
    npm run --silent build
    # The browser tests load what ships: the module.js files built above with Grafana 12.4's packages.
    rm -rf dist && cp -r "$repo/frontend/dist" dist
    NATSMICRO_REPO="$repo" NATSMICRO_GRAFANA_SET=13 NATSMICRO_PLUGIN_BIN="$repo/target/release/gpx_natsmicro" \
        npm run --silent test:browser
)
report_times
echo
echo "all tests passed in ${SECONDS}s"
