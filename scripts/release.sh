#!/usr/bin/env bash
# The release: both plugins built for every Grafana platform, checked, zipped once with every
# platform and once per platform (as Grafana's catalog tooling lays them out), with SHA-256
# checksums, and signed when a Grafana access-policy token is given.
#
#   bash scripts/release.sh        → dist/release/<version>/
#     natsmicro-datasource-<version>.zip                  every platform's backend
#     natsmicro-datasource-<version>.<os>_<arch>.zip      one backend each (linux_amd64, linux_arm64,
#                                                         darwin_amd64, darwin_arm64, windows_amd64)
#     natsmicro-ping-panel-<version>.zip                  the panel (no backend)
#     SHA256SUMS                                          `sha256sum -c SHA256SUMS` checks them
#
# NATSMICRO_RELEASE_TARGETS: the Rust targets built beside the host's (default: the four other
#   Grafana platforms; "" builds the host's only).
# NATSMICRO_RELEASE_PREBUILT=1: package dist/ as scripts/build.sh left it (no setup, no build).
# Signing (a private signature: Grafana's catalog does not list backends that are not written in
# Go): GRAFANA_ACCESS_POLICY_TOKEN (an access-policy token with the plugins:write scope) and
# GRAFANA_ROOT_URLS (comma-separated root URLs of the Grafana servers that will load the plugins).
# Without a token the zips are unsigned, and the script says how to allow that.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
SECONDS=0
SIGN_PLUGIN_VERSION="3.3.3"

signed=0
if [ -n "${GRAFANA_ACCESS_POLICY_TOKEN:-}" ]; then
    if [ -z "${GRAFANA_ROOT_URLS:-}" ]; then
        echo "release: GRAFANA_ACCESS_POLICY_TOKEN is set but GRAFANA_ROOT_URLS is not: a private signature names the Grafana root URLs it is valid for (for example https://grafana.example.com/)" >&2
        exit 2
    fi
    signed=1
fi

all="aarch64-unknown-linux-gnu x86_64-pc-windows-gnu aarch64-apple-darwin x86_64-apple-darwin"
export NATSMICRO_TARGETS="${NATSMICRO_RELEASE_TARGETS-$all}"
if [ "${NATSMICRO_RELEASE_PREBUILT:-}" != 1 ]; then
    bash scripts/setup.sh
    # shellcheck source=/dev/null
    source scripts/env.sh
    bash scripts/build.sh
fi
bash scripts/check-dist.sh

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
out="dist/release/$version"
stage="dist/release/stage"
rm -rf "$out" "$stage"
mkdir -p "$out" "$stage"

# Zip folder $1 (a plugin folder named by its id) as $2, signed first when a token is given.
package() {
    local dir=$1 zip=$2
    if [ "$signed" = 1 ]; then
        (cd "$dir" && npx --yes "@grafana/sign-plugin@$SIGN_PLUGIN_VERSION" --rootUrls "$GRAFANA_ROOT_URLS" >/dev/null)
    fi
    (cd "$(dirname "$dir")" && python3 -m zipfile -c "$root/$out/$zip" "$(basename "$dir")/")
}

ds=natsmicro-datasource
panel=natsmicro-ping-panel
# Every platform in one zip, and the panel.
cp -a "dist/$ds" "$stage/$ds"
package "$stage/$ds" "$ds-$version.zip"
cp -a "dist/$panel" "$stage/$panel"
package "$stage/$panel" "$panel-$version.zip"
# One zip per platform: the data source folder with that platform's backend only.
platforms=()
for bin in "dist/$ds"/gpx_natsmicro_*; do
    suffix=${bin##*/gpx_natsmicro_}
    platform=${suffix%.exe}
    platforms+=("$platform")
    rm -rf "${stage:?}/$ds"
    cp -a "dist/$ds" "$stage/$ds"
    find "$stage/$ds" -maxdepth 1 -name 'gpx_natsmicro_*' ! -name "gpx_natsmicro_$suffix" -delete
    package "$stage/$ds" "$ds-$version.$platform.zip"
done
rm -rf "$stage"
(cd "$out" && sha256sum -- *.zip > SHA256SUMS)

# The release's own checks: every zip is listed and matches its checksum, each per-platform zip
# holds exactly its platform's backend, the all-platform zip holds every one.
fail=0
(cd "$out" && sha256sum --quiet -c SHA256SUMS) || fail=1
binaries() { python3 -c 'import sys, zipfile; print("\n".join(sorted(n.split("/")[-1] for n in zipfile.ZipFile(sys.argv[1]).namelist() if "/gpx_natsmicro_" in n)))' "$1"; }
for platform in "${platforms[@]}"; do
    got=$(binaries "$out/$ds-$version.$platform.zip")
    want="gpx_natsmicro_$platform"
    [ "$platform" = windows_amd64 ] && want="$want.exe"
    if [ "$got" != "$want" ]; then echo "FAIL: $ds-$version.$platform.zip holds [$got], not $want"; fail=1; fi
done
if [ "$(binaries "$out/$ds-$version.zip" | wc -l)" != "${#platforms[@]}" ]; then
    echo "FAIL: $ds-$version.zip does not hold the ${#platforms[@]} backends of dist/"; fail=1
fi
if [ -n "$(binaries "$out/$panel-$version.zip")" ]; then echo "FAIL: the panel's zip holds a backend"; fail=1; fi
if [ "$fail" != 0 ]; then exit 1; fi

echo "release $version in $out (${SECONDS} s): platforms ${platforms[*]}"
ls -l "$out"
if [ "$signed" = 1 ]; then
    echo "release: signed (private signature for $GRAFANA_ROOT_URLS)"
else
    echo "release: UNSIGNED (GRAFANA_ACCESS_POLICY_TOKEN is not set). Grafana loads unsigned plugins only when allowed:"
    echo "  [plugins]"
    echo "  allow_loading_unsigned_plugins = $ds,$panel"
    echo "  (or GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS=$ds,$panel)"
fi
