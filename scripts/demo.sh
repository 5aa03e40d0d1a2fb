#!/usr/bin/env bash
# The main job: install what is needed, build the plugin, start a NATS server with demo micro
# services (several services and instances; endpoints that sometimes fail or are slow), then
#   - start Grafana with the plugin provisioned, where a grafana binary exists;
#   - otherwise show the local console: the plugin driven over Grafana's own plugin protocol.
# Stop with Ctrl-C; everything it started is stopped too.
# Env: NATS_PORT (default 4222, or a free port if taken), DEMO_ONCE=1 (print one view and exit).
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
    --endpoint get:orders.get --endpoint create:orders.create --fail-every 7 --delay-ms 3
svc --name billing --version 2.1.0 --instances 2 --description "Payments" --metadata team=finance \
    --endpoint charge:billing.charge --fail-every 4 --delay-ms 25
svc --name inventory --version 0.9.3 --instances 1 --endpoint stock:inventory.stock
sleep 1.5
load="orders.get,orders.create,billing.charge,inventory.stock"

grafana_bin=$(command -v grafana || command -v grafana-server || true)
if [ -n "$grafana_bin" ]; then
    prov=$(mktemp -d)
    mkdir -p "$prov/datasources" "$prov/dashboards" "$prov/alerting" "$prov/plugins"
    sed "s#url: nats://127.0.0.1:4222#url: $url#" provisioning/datasources/natsmicro.yaml > "$prov/datasources/natsmicro.yaml"
    echo "== Grafana on http://localhost:3000 (admin/admin) with the plugin from dist/"
    GF_PATHS_PLUGINS="$repo/dist" GF_PATHS_PROVISIONING="$prov" \
    GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS=natsmicro-datasource,natsmicro-ping-panel \
        "$grafana_bin" server --homepath "${GRAFANA_HOME:-/usr/share/grafana}" &
    pids+=($!)
    NATSMICRO_PLUGIN_BIN="$repo/target/release/gpx_natsmicro" cargo run -q --release --example console -- \
        --url "$url" --load "$load" --interval 5
else
    echo "== no Grafana here: local console (the real plugin, driven over Grafana's plugin protocol)"
    once=()
    [ "${DEMO_ONCE:-}" = 1 ] && once=(--once)
    NATSMICRO_PLUGIN_BIN="$repo/target/release/gpx_natsmicro" cargo run -q --release --example console -- \
        --url "$url" --load "$load" "${once[@]}"
fi
