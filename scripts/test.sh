#!/usr/bin/env bash
# The whole test suite: installs what it needs, then format check, lints, unit and
# integration tests (real nats-server, real micro services, the plugin driven over gRPC),
# and the packaging check of the built plugin.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --locked
echo "== package"
bash scripts/build.sh
bash scripts/check-dist.sh
