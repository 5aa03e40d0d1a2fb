#!/usr/bin/env bash
# The main job: install what is needed, build the plugin, start a NATS server with demo micro
# services (several services and instances; endpoints that sometimes fail or are slow), then
#   - start Grafana with the plugin provisioned, where a grafana binary exists;
#   - otherwise start the local PREVIEW HOST (not Grafana): a page at http://127.0.0.1:3001/ that
#     loads the built module.js files the way Grafana does and talks to the real backend binary
#     over Grafana's plugin protocol; and show the terminal console (the same backend) here.
# Stop with Ctrl-C; everything it started is stopped too.
# Env: NATS_PORT (default 4222, or a free port if taken), PREVIEW_PORT (default 3001),
#      DEMO_ONCE=1 (start everything, check the preview answers, print one view and exit).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

bash scripts/setup.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh
bash scripts/build.sh

pids=()
# Stop in reverse order: Grafana and services first, nats-server last.
cleanup() {
    for ((i=${#pids[@]}-1; i>=0; i--)); do kill "${pids[i]}" 2>/dev/null || true; sleep 0.1; done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

port=${NATS_PORT:-4222}
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fi
url="nats://127.0.0.1:$port"
echo "== nats-server on $url"
"$NATS_SERVER_BIN" -a 127.0.0.1 -p "$port" >/tmp/natsmicro-demo-nats.log 2>&1 &
pids+=($!)
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

svc() {
    "$NATSMICRO_PYTHON" tests/services/micro_service.py --url "$url" "$@" >/dev/null 2>>/tmp/natsmicro-demo-services.log &
    pids+=($!)
}
echo "== demo services: orders ×3, billing ×2, inventory ×1"
svc --name orders --version 1.4.0 --instances 3 --description "Order intake" --metadata team=shop \
    --endpoint get:orders.get --endpoint create:orders.create --fail-every 7 --delay-ms 3 --stats-data
svc --name billing --version 2.1.0 --instances 2 --description "Payments" --metadata team=finance \
    --endpoint charge:billing.charge --fail-every 4 --delay-ms 25
svc --name inventory --version 0.9.3 --instances 1 --endpoint stock:inventory.stock
sleep 1.5
echo "== demo traffic (bursts every 30 s)"
"$NATSMICRO_PYTHON" scripts/demo_load.py --url "$url" --subject orders.get --subject orders.create \
    --subject billing.charge --subject inventory.stock --rate 20 2>>/tmp/natsmicro-demo-services.log &
pids+=($!)

grafana_bin=$(command -v grafana || command -v grafana-server || true)
if [ -n "$grafana_bin" ]; then
    prov=$(mktemp -d)
    mkdir -p "$prov/datasources" "$prov/dashboards" "$prov/alerting" "$prov/plugins"
    cp provisioning/datasources/*.yaml "$prov/datasources/"
    cp provisioning/alerting/*.yaml "$prov/alerting/"
    cp provisioning/dashboards/*.json "$prov/dashboards/"
    sed "s#path: /etc/grafana/provisioning/dashboards#path: $prov/dashboards#" provisioning/dashboards/natsmicro.yaml \
        > "$prov/dashboards/natsmicro.yaml"
    echo "== Grafana on http://localhost:3000 (admin/admin) with both plugins from dist/"
    NATS_URL="$url" GF_PATHS_PLUGINS="$repo/dist" GF_PATHS_PROVISIONING="$prov" \
    GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS=natsmicro-datasource,natsmicro-ping-panel \
        "$grafana_bin" server --homepath "${GRAFANA_HOME:-/usr/share/grafana}" &
    pids+=($!)
    NATSMICRO_PLUGIN_BIN="$repo/target/release/gpx_natsmicro" cargo run -q --release --example console -- \
        --url "$url" --interval 5
else
    preview_port=${PREVIEW_PORT:-3001}
    echo "== no Grafana here: local preview host (NOT Grafana) on http://127.0.0.1:$preview_port/"
    (cd frontend && exec node preview/server.mjs --plugin "$repo/target/release/gpx_natsmicro" \
        --url "$url" --port "$preview_port") >/tmp/natsmicro-demo-preview.log 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        grep -q "^preview: http" /tmp/natsmicro-demo-preview.log 2>/dev/null && break
        sleep 0.1
    done
    if ! grep "^preview: http" /tmp/natsmicro-demo-preview.log; then
        echo "demo: the preview host did not start; its log:" >&2
        cat /tmp/natsmicro-demo-preview.log >&2
        exit 1
    fi
    echo "   open it in a browser: Configuration (Save & test), Query (pickers), Dashboard (ping panel)"
    echo "== terminal console (the same backend, driven over Grafana's plugin protocol)"
    if [ "${DEMO_ONCE:-}" = 1 ]; then
        python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())' \
            "http://127.0.0.1:$preview_port/api/datasources/uid/natsmicro/health"
        NATSMICRO_PLUGIN_BIN="$repo/target/release/gpx_natsmicro" cargo run -q --release --example console -- \
            --url "$url" --once
    else
        NATSMICRO_PLUGIN_BIN="$repo/target/release/gpx_natsmicro" cargo run -q --release --example console -- \
            --url "$url"
    fi
fi
