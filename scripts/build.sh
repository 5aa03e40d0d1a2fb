#!/usr/bin/env bash
# Builds both plugins into dist/ as Grafana installs them, and zips each:
#   dist/natsmicro-datasource/  plugin.json (version, date filled in), module.js, img/, README.md,
#                               LICENSE, CHANGELOG.md, gpx_natsmicro_<os>_<arch>[.exe] (mode 755)
#   dist/natsmicro-ping-panel/  plugin.json, module.js, img/, README.md, LICENSE, CHANGELOG.md
#   dist/<id>-<version>.zip     one folder each, ready for `grafana cli --pluginUrl` or unzip
# Backends: the host target always; more with NATSMICRO_TARGETS="aarch64-unknown-linux-gnu ..."
# (scripts/setup.sh, run with the same NATSMICRO_TARGETS, installs each one's standard library
# and cross toolchain; see README "Build for other platforms").
# Run scripts/setup.sh first (it installs Node.js and the frontend's packages).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS=0

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
today=$(date -u +%Y-%m-%d)

# Rust target triple -> Grafana's <os>_<arch> suffix.
grafana_suffix() {
    local arch os
    case "$1" in
        x86_64-*) arch=amd64 ;; aarch64-*) arch=arm64 ;; armv7-*|arm-*) arch=arm ;; *) echo "unknown arch in $1" >&2; return 1 ;;
    esac
    case "$1" in
        *-linux-*) os=linux ;; *-apple-darwin) os=darwin ;; *-windows-*) os=windows ;; *) echo "unknown os in $1" >&2; return 1 ;;
    esac
    if [ "$os" = windows ]; then echo "${os}_${arch}.exe"; else echo "${os}_${arch}"; fi
}

host=$(rustc -vV | sed -n 's/^host: //p')
targets=("$host")
for t in ${NATSMICRO_TARGETS:-}; do [ "$t" = "$host" ] || targets+=("$t"); done

ds=dist/natsmicro-datasource
panel=dist/natsmicro-ping-panel
rm -rf "$ds" "$panel" dist/*.zip
mkdir -p "$ds/img" "$panel/img"

for t in "${targets[@]}"; do
    suffix=$(grafana_suffix "$t")
    echo "== cargo build --release --target $t (gpx_natsmicro $version → gpx_natsmicro_$suffix)"
    exe=gpx_natsmicro
    [[ "$suffix" == *.exe ]] && exe=gpx_natsmicro.exe
    if [ "$t" = "$host" ]; then
        # Same output as `cargo build --release`, which tests and the demo use.
        cargo build --release --locked --bin gpx_natsmicro
        install -m 755 "target/release/$exe" "$ds/gpx_natsmicro_$suffix"
    else
        # The cross linker and C compiler (ring has C code) scripts/setup.sh installs, unless set.
        case "$t" in
            aarch64-unknown-linux-gnu) cross=aarch64-linux-gnu-gcc ;;
            x86_64-pc-windows-gnu) cross=x86_64-w64-mingw32-gcc ;;
            *) cross="" ;;
        esac
        if [ -n "$cross" ]; then
            linker_var="CARGO_TARGET_$(echo "$t" | tr 'a-z-' 'A-Z_')_LINKER"
            cc_var="CC_${t//-/_}"
            if [ -z "${!linker_var:-}" ]; then export "$linker_var=$cross"; fi
            if [ -z "${!cc_var:-}" ]; then export "$cc_var=$cross"; fi
        fi
        if [[ "$t" == *-apple-darwin ]]; then
            # Zig links for macOS (scripts/setup.sh installs it into .venv, and cargo-zigbuild),
            # against link stubs of the two system frameworks the binary imports (no Apple SDK
            # here: scripts/macos-sdk lists the symbols; the Mac that runs it has the frameworks).
            SDKROOT="$PWD/scripts/macos-sdk" PATH="$PWD/.venv/bin:$PATH" \
                cargo zigbuild --release --locked --bin gpx_natsmicro --target "$t"
        else
            cargo build --release --locked --bin gpx_natsmicro --target "$t"
        fi
        install -m 755 "target/$t/release/$exe" "$ds/gpx_natsmicro_$suffix"
    fi
done

echo "== frontend (esbuild → AMD module.js)"
(cd frontend && npm run --silent build)

fill() { sed -e "s/%VERSION%/$version/" -e "s/%TODAY%/$today/" "$1" > "$2"; }
fill plugin.json "$ds/plugin.json"
fill frontend/plugin.json "$panel/plugin.json"
cp frontend/dist/natsmicro-datasource/module.js* "$ds/"
cp frontend/dist/natsmicro-ping-panel/module.js* "$panel/"
cp img/* "$ds/img/"
cp frontend/img/* "$panel/img/"
cp README.md LICENSE CHANGELOG.md "$ds/"
cp docs/alerting.md "$ds/RUNBOOKS.md"
cp frontend/PANEL.md "$panel/README.md"
cp LICENSE CHANGELOG.md "$panel/"

for dir in "$ds" "$panel"; do
    id=$(basename "$dir")
    (cd dist && rm -f "$id-$version.zip" && python3 -m zipfile -c "$id-$version.zip" "$id/")
done

echo "built in ${SECONDS} s:"
ls -l "$ds" "$panel" dist/*.zip
