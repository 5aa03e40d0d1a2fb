#!/usr/bin/env bash
# Runs every test binary N times over (default 20), as `cargo test` runs them (one binary at a
# time, its tests in parallel), to find flaky tests: bash scripts/repeat.sh [N]
# The binaries (and the plugin they drive) are copied aside first, so editing and rebuilding
# meanwhile does not change what runs. Prints one line per run, the failing binaries' output
# under target/repeat/, and a last "repeat: N of N runs green" line.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-20}"
bash scripts/setup.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh
out="target/repeat"
rm -rf "$out" && mkdir -p "$out/bin"
cargo test --no-run --locked --message-format=json 2>/dev/null | python3 -c '
import json, shutil, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"].get("test"):
        kind = "-lib" if m["target"]["kind"] == ["lib"] else ""
        shutil.copy(m["executable"], sys.argv[1] + "/" + m["target"]["name"] + kind)
' "$out/bin"
cp target/debug/gpx_natsmicro "$out/plugin"
export NATSMICRO_PLUGIN_BIN="$PWD/$out/plugin"
green=0
for run in $(seq 1 "$runs"); do
    start=$SECONDS passed=0 failed=0 bad=""
    for bin in "$out"/bin/*; do
        name="$(basename "$bin")"
        rc=0
        log="$(timeout 600 "$bin" 2>&1)" || rc=$?
        p="$(grep -oE "test result: .* [0-9]+ passed" <<<"$log" | grep -oE "[0-9]+ passed" | grep -oE "[0-9]+" || echo 0)"
        f="$(grep -oE "[0-9]+ failed" <<<"$log" | tail -1 | grep -oE "[0-9]+" || echo 0)"
        passed=$((passed + p)) failed=$((failed + f))
        if [ "$rc" -ne 0 ]; then bad="$bad $name"; echo "$log" > "$out/run$run-$name.log"; fi
    done
    if [ -z "$bad" ]; then green=$((green + 1)); fi
    echo "run $run: $passed passed, $failed failed, $((SECONDS - start)) s${bad:+, failing:$bad}"
done
echo "repeat: $green of $runs runs green"
[ "$green" -eq "$runs" ]
