#!/usr/bin/env bash
# Checks the built plugin folder the way Grafana reads it: plugin.json fields, the
# executable's name and mode, that the packaged binary performs the go-plugin handshake, that
# both module.js files are AMD modules exporting `plugin`, and that the zips hold each folder.
set -euo pipefail
cd "$(dirname "$0")/.."
out=dist/natsmicro-datasource
passed=0; failed=0
check() { if eval "$2"; then passed=$((passed+1)); else failed=$((failed+1)); echo "FAIL: $1"; fi; }

# The host's binary (the one this machine can run); every other one is checked by its architecture.
host_suffix=$(uname -s | tr 'A-Z' 'a-z')_$(uname -m | sed -e 's/^x86_64$/amd64/' -e 's/^aarch64$/arm64/')
bin="$out/gpx_natsmicro_$host_suffix"
[ -e "$bin" ] || bin=""
check "plugin.json is valid JSON with id, backend, alerting, executable" \
  "python3 -c 'import json,sys; p=json.load(open(\"$out/plugin.json\")); sys.exit(not (p[\"id\"]==\"natsmicro-datasource\" and p[\"backend\"] and p[\"alerting\"] and p[\"executable\"]==\"gpx_natsmicro\"))'"
# The oldest Grafana the plugins claim is the oldest whose packages CI builds and tests against.
tested=$(python3 -c 'import json; print(".".join(json.load(open("frontend/package.json"))["dependencies"]["@grafana/data"].split(".")[:2]))')
for f in "$out/plugin.json" dist/natsmicro-ping-panel/plugin.json; do
  check "$f: grafanaDependency is >=$tested.0, the oldest Grafana CI tests" \
    "python3 -c 'import json,sys; sys.exit(json.load(open(\"$f\"))[\"dependencies\"][\"grafanaDependency\"] != \">=$tested.0\")'"
done
full=$(python3 -c 'import json; print(json.load(open("frontend/package.json"))["dependencies"]["@grafana/data"])')
check "docker-compose.yaml runs Grafana $full, the release CI tests" "grep -q 'image: grafana/grafana:$full\$' docker-compose.yaml"
check "version and date are filled in" "! grep -q '%VERSION%\|%TODAY%' $out/plugin.json"
check "this machine's binary gpx_natsmicro_$host_suffix exists" "[ -n \"$bin\" ]"
if command -v file >/dev/null 2>&1; then
  # -E: a missing or unreadable binary is an error, not a description without "not stripped".
  check "binary is stripped (file: $(file -E -b "$bin" 2>&1 | grep -Eo '(not )?stripped|ERROR.*' | head -n1))" "info=\$(file -E -b \"$bin\") && ! grep -q 'not stripped' <<<\"\$info\""
else
  failed=$((failed+1))
  echo "FAIL: binary is stripped: cannot tell, the \`file\` command is missing (scripts/setup.sh installs it: Debian package file)"
fi
# What `file` says each Grafana suffix must be.
arch_of() {
    case "$1" in
        linux_amd64) echo 'ELF 64-bit LSB .*x86-64' ;;
        linux_arm64) echo 'ELF 64-bit LSB .*ARM aarch64' ;;
        windows_amd64.exe) echo 'PE32\+ executable .*x86-64' ;;
        darwin_arm64) echo 'Mach-O 64-bit .*arm64' ;;
        darwin_amd64) echo 'Mach-O 64-bit .*x86_64' ;;
        *) echo 'no such Grafana platform' ;;
    esac
}
for b in "$out"/gpx_natsmicro_*; do
    [ -e "$b" ] || continue
    suffix=${b##*/gpx_natsmicro_}
    if command -v file >/dev/null 2>&1; then
        check "$(basename "$b") is built for $suffix ($(file -b "$b" | cut -d, -f1-2))" "file -b \"$b\" | grep -Eq '$(arch_of "$suffix")'"
    fi
    check "$(basename "$b") is mode 755" "[ \"\$(stat -c %a \"$b\")\" = 755 ]"
done
# macOS: Apple Silicon runs no unsigned code (the linker signs arm64 ad hoc; Intel Macs need no
# signature), and the binary may load system libraries only (it is linked against stubs of two
# frameworks: scripts/macos-sdk).
for b in "$out"/gpx_natsmicro_darwin_*; do
    [ -e "$b" ] || continue
    check "$(basename "$b") is code-signed if arm64 and loads system libraries only ($(python3 scripts/macho.py "$b" 2>&1 | head -n1))" \
      "python3 scripts/macho.py --check \"$b\""
done
arm="$out/gpx_natsmicro_linux_arm64"
if [ -e "$arm" ] && [ "$host_suffix" != linux_arm64 ]; then
    if command -v qemu-aarch64 >/dev/null 2>&1; then
        arm_handshake=$(grafana_plugin_type=datasource PLUGIN_PROTOCOL_VERSIONS=2 timeout 10 qemu-aarch64 -L /usr/aarch64-linux-gnu "$arm" 2>/dev/null | head -n1 || true)
        check "linux_arm64 binary prints the go-plugin handshake under qemu-aarch64 ($arm_handshake)" "[[ \"$arm_handshake\" =~ ^1\\|2\\|tcp\\|127\\.0\\.0\\.1:[0-9]+\\|grpc$ ]]"
    else
        failed=$((failed+1))
        echo "FAIL: linux_arm64 handshake: cannot run it, qemu-aarch64 is missing (scripts/setup.sh with NATSMICRO_TARGETS installs it: Debian package qemu-user)"
    fi
fi
for t in ${NATSMICRO_TARGETS:-}; do
    case "$t" in
        aarch64-unknown-linux-gnu) want=linux_arm64 ;; x86_64-pc-windows-gnu) want=windows_amd64.exe ;;
        aarch64-apple-darwin) want=darwin_arm64 ;; x86_64-apple-darwin) want=darwin_amd64 ;; *) want="?" ;;
    esac
    check "NATSMICRO_TARGETS' $t is packaged as gpx_natsmicro_$want" "[ -e \"$out/gpx_natsmicro_$want\" ]"
done
check "README, LICENSE, CHANGELOG, logo are packaged" "[ -f $out/README.md ] && [ -f $out/LICENSE ] && [ -f $out/CHANGELOG.md ] && [ -f $out/img/logo.svg ]"
check "the alert recipes' runbooks are packaged where their runbook_url points" "grep -q 'id=\"slo-burn\"' $out/RUNBOOKS.md && grep -q '/public/plugins/natsmicro-datasource/RUNBOOKS.md' provisioning/alerting/natsmicro-recipes.json"
handshake=$(grafana_plugin_type=datasource PLUGIN_PROTOCOL_VERSIONS=2 timeout 2 "$bin" 2>/dev/null | head -n1 || true)
check "packaged binary prints the go-plugin handshake ($handshake)" "[[ \"$handshake\" =~ ^1\\|2\\|tcp\\|127\\.0\\.0\\.1:[0-9]+\\|grpc$ ]]"
panel=dist/natsmicro-ping-panel
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
check "panel plugin.json: id natsmicro-ping-panel, type panel, version filled in" \
  "python3 -c 'import json,sys; p=json.load(open(\"$panel/plugin.json\")); sys.exit(not (p[\"id\"]==\"natsmicro-ping-panel\" and p[\"type\"]==\"panel\" and p[\"info\"][\"version\"]==\"$version\"))'"
check "panel README, LICENSE, CHANGELOG, logo are packaged" "[ -f $panel/README.md ] && [ -f $panel/LICENSE ] && [ -f $panel/CHANGELOG.md ] && [ -f $panel/img/logo.svg ]"
for d in "$out" "$panel"; do
  check "$d/module.js is an AMD module of Grafana's shared dependencies only" \
    "head -c 200 $d/module.js | grep -Eq '^define\\(\\[(\"(react|react-dom|@grafana/(data|ui|runtime)|@emotion/(css|react)|rxjs|rxjs/operators|lodash|moment)\",?)*\\]'"
  check "$d/module.js is below 1 MiB ($(stat -c %s $d/module.js 2>/dev/null) bytes)" "[ \$(stat -c %s $d/module.js) -lt 1048576 ]"
done
for id in natsmicro-datasource natsmicro-ping-panel; do
  z=dist/$id-$version.zip
  check "$z holds $id/ with plugin.json and module.js" \
    "python3 -c 'import zipfile,sys; n=set(zipfile.ZipFile(\"$z\").namelist()); sys.exit(not {\"$id/plugin.json\",\"$id/module.js\"} <= n)'"
done
check "the zipped backend keeps mode 755" \
  "python3 -c 'import zipfile,sys; z=zipfile.ZipFile(\"dist/natsmicro-datasource-$version.zip\"); m=[i.external_attr>>16 & 0o777 for i in z.infolist() if \"/gpx_natsmicro_\" in i.filename]; sys.exit(not (m and all(x==0o755 for x in m)))'"
echo "dist: $passed passed, $failed failed"
[ "$failed" = 0 ]
