#!/usr/bin/env bash
# Coverage-guided fuzzing in one command: installs cargo-fuzz (crates.io) for the nightly
# toolchain, runs each target of fuzz/ (FUZZ_TARGETS, default "reply query history frames": the
# reply parser; the query, settings and channel parsers; the shared history's messages, assembler
# and checkpoints; replies to every table and instant frame) for FUZZ_RUNS inputs (default 10 000 000 each) seeded from
# tests/fixtures/replies, and writes each target's row into the section of BENCHMARKS.md between
# <!-- bench:fuzz:start --> and <!-- bench:fuzz:end --> as soon as that target is done.
# Exits non-zero on any crash (libFuzzer writes the input to fuzz/artifacts/<target>/).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
RUNS="${FUZZ_RUNS:-10000000}"
TARGETS="${FUZZ_TARGETS:-reply query history frames}"
CARGO_FUZZ_VERSION="0.13.2"

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz: installing the nightly toolchain (rustup)"
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    echo "fuzz: cargo install cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION" >/dev/null
fi

corpus() {
    local dir="fuzz/corpus/$1"
    mkdir -p "$dir"
    case "$1" in
        reply|frames) cp tests/fixtures/replies/*.json "$dir/" ;;
        history) printf 'NMH\002\001\000\000\001\000' > "$dir/seed0" ;;
        query)
            i=0
            for q in '{"queryType":"ping","format":"timeseries","service":"orders"}' \
                     '{"queryType":"stats","metric":"error_ratio","endpoint":"get"}' \
                     '{"queryType":"request","subject":"a.b","headers":{"X":"1"},"payload":{"k":1}}' \
                     '{"authType":"userpass","username":"u","timeoutMs":"500","requestSubjects":["a.>"]}' \
                     'v1/ping/timeseries/rtt/orders/=/=' 'v1/stats/timeseries/request_rate/a/b/=24x'; do
                printf '\001%s' "$q" > "$dir/seed$i"; i=$((i + 1))
            done ;;
    esac
}

# Replace (or add) one target's row of the table, keeping the other targets' rows.
record() {
    python3 - "$1" "$2" "$(rustc +nightly --version | cut -d' ' -f2-)" "$CARGO_FUZZ_VERSION" <<'PY'
import sys, pathlib, re
target, row, nightly, version = sys.argv[1:5]
p = pathlib.Path("BENCHMARKS.md")
text = p.read_text()
start, end = "<!-- bench:fuzz:start -->", "<!-- bench:fuzz:end -->"
old = text[text.index(start) + len(start):text.index(end)] if start in text and end in text else ""
rows = [l for l in old.splitlines() if l.startswith("| `")]
rows = [l for l in rows if not l.startswith(f"| `{target}` ")] + [row]
rows.sort()
head = (f"Command: `bash scripts/fuzz.sh` (cargo-fuzz {version}, libFuzzer with AddressSanitizer (`frames` without, inputs ≤ 8 KiB), nightly {nightly}; "
        "`FUZZ_RUNS` inputs per target, `FUZZ_TARGETS` to run some). Seeds: the recorded replies of tests/fixtures/replies "
        "and a few queries, settings and channel paths. `reply`: every verb's parser on any bytes, asserting the field "
        "bounds of every accepted reply; `query`: the query model, the settings parser (asserting no secret in any error) "
        "and Live channel paths (asserting decode → encode is the identity); `history`: round chunks through the "
        "assembler (held bytes within its limit) and checkpoints (restored, then read back); `frames`: any bytes as INFO, "
        "STATS and PING replies and as a request reply, built into every table and instant frame within the answer "
        "budget and encoded as Arrow.\n\n"
        "| target | inputs executed | time | inputs/s | coverage (edges) | crashes | panics |\n|---|---|---|---|---|---|---|\n")
block = f"{start}\n{head}" + "\n".join(rows) + f"\n{end}"
if start in text and end in text:
    text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
else:
    text = text.rstrip("\n") + "\n\n## Fuzzing\n\n" + block + "\n"
p.write_text(text)
PY
}

failed=0
for target in $TARGETS; do
    corpus "$target"
    log="$(mktemp)"
    echo "fuzz: $target, $RUNS inputs"
    t0=$(date +%s)
    status=0
    # `frames` builds and encodes five frames per input: without AddressSanitizer (safe Rust
    # only) and with inputs up to 8 KiB it runs about 7× faster, so 10 M inputs fit an hour.
    case "$target" in
        frames) opts=(-s none); max_len=8192 ;;
        *) opts=(); max_len=65536 ;;
    esac
    (cd fuzz && cargo +nightly fuzz run "${opts[@]}" "$target" "corpus/$target" -- -runs="$RUNS" -max_len="$max_len" -print_final_stats=1) >"$log" 2>&1 || status=$?
    secs=$(( $(date +%s) - t0 ))
    execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1 || true)
    speed=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1 || true)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || true)
    crashes=$(ls "fuzz/artifacts/$target" 2>/dev/null | grep -c '^crash-' || true)
    panics=$(grep -c 'panicked at' "$log" || true)
    echo "fuzz: $target: ${execs:-?} inputs in ${secs} s (${speed:-?}/s), coverage ${cov:-?} edges, ${crashes} crashes, ${panics} panics, exit ${status}"
    if [ "$status" != 0 ]; then failed=1; tail -40 "$log"; fi
    record "$target" "| \`${target}\` | ${execs:-?} | ${secs} s | ${speed:-?} | ${cov:-?} | ${crashes} | ${panics} |"
    rm -f "$log"
done
echo "fuzz: results in BENCHMARKS.md"
exit "$failed"
