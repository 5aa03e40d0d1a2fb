#!/usr/bin/env bash
# Builds the backend (release, stripped) into dist/natsmicro-datasource/ as Grafana expects:
# plugin.json (version and date filled in), gpx_natsmicro_<os>_<arch> (mode 755), img/,
# README.md, LICENSE, CHANGELOG.md. Other targets: see README "Build for other platforms".
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
today=$(date -u +%Y-%m-%d)
case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; *) os=$(uname -s | tr 'A-Z' 'a-z') ;; esac
case "$(uname -m)" in x86_64|amd64) arch=amd64 ;; aarch64|arm64) arch=arm64 ;; *) arch=$(uname -m) ;; esac

echo "== cargo build --release (gpx_natsmicro $version, ${os}_${arch})"
cargo build --release --locked --bin gpx_natsmicro

out=dist/natsmicro-datasource
rm -rf "$out"
mkdir -p "$out/img"
sed -e "s/%VERSION%/$version/" -e "s/%TODAY%/$today/" plugin.json > "$out/plugin.json"
install -m 755 target/release/gpx_natsmicro "$out/gpx_natsmicro_${os}_${arch}"
cp img/* "$out/img/"
cp README.md LICENSE CHANGELOG.md "$out/"
if [ -f frontend/package.json ] && [ -d frontend/dist ]; then
    cp -r frontend/dist/. "$out/"
fi
echo "built $out:"
ls -l "$out"
