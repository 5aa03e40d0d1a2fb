#!/usr/bin/env bash
# Checks the built plugin folder the way Grafana reads it: plugin.json fields, the
# executable's name and mode, and that the packaged binary performs the go-plugin handshake.
set -euo pipefail
cd "$(dirname "$0")/.."
out=dist/natsmicro-datasource
passed=0; failed=0
check() { if eval "$2"; then passed=$((passed+1)); else failed=$((failed+1)); echo "FAIL: $1"; fi; }

bin=$(ls "$out"/gpx_natsmicro_*_* 2>/dev/null | head -n1 || true)
check "plugin.json is valid JSON with id, backend, alerting, executable" \
  "python3 -c 'import json,sys; p=json.load(open(\"$out/plugin.json\")); sys.exit(not (p[\"id\"]==\"natsmicro-datasource\" and p[\"backend\"] and p[\"alerting\"] and p[\"executable\"]==\"gpx_natsmicro\"))'"
check "version and date are filled in" "! grep -q '%VERSION%\|%TODAY%' $out/plugin.json"
check "binary gpx_natsmicro_<os>_<arch> exists" "[ -n \"$bin\" ]"
check "binary is mode 755" "[ \"\$(stat -c %a \"$bin\")\" = 755 ]"
check "binary is stripped" "! (file \"$bin\" 2>/dev/null | grep -q 'not stripped')"
check "README, LICENSE, CHANGELOG, logo are packaged" "[ -f $out/README.md ] && [ -f $out/LICENSE ] && [ -f $out/CHANGELOG.md ] && [ -f $out/img/logo.svg ]"
handshake=$(grafana_plugin_type=datasource PLUGIN_PROTOCOL_VERSIONS=2 timeout 2 "$bin" 2>/dev/null | head -n1 || true)
check "packaged binary prints the go-plugin handshake ($handshake)" "[[ \"$handshake\" =~ ^1\\|2\\|tcp\\|127\\.0\\.0\\.1:[0-9]+\\|grpc$ ]]"
echo "dist: $passed passed, $failed failed"
[ "$failed" = 0 ]
