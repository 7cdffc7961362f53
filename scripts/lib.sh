# Shared by scripts/test and scripts/demo: install what the testbed needs.
# shellcheck shell=bash

# Debian packages: the real router (miniupnpd with nftables), the firewall
# tool, the namespaces tool, and the reference clients used for cross-checks.
# The C library's tests (tests/gateway/c.rs): a C compiler, pkg-config, valgrind.
PFWD_PACKAGES=(miniupnpd-nftables nftables iproute2 miniupnpc natpmpc gcc pkg-config valgrind)

pfwd_missing_packages() {
    local missing=()
    for p in "${PFWD_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    echo "${missing[@]:-}"
}

pfwd_ensure_packages() {
    local missing
    missing=$(pfwd_missing_packages)
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "pfwd: missing Debian packages: $missing (run as root to install them)" >&2
        return 0
    fi
    echo "pfwd: installing $missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# Remove namespaces that a killed run left behind (never touches live runs).
pfwd_clean_testbeds() {
    [ "$(id -u)" = 0 ] || return 0
    for exe in target/debug/pfwd-testbed target/release/pfwd-testbed; do
        if [ -x "$exe" ]; then
            "$exe" clean || true
            return 0
        fi
    done
}

# The Python package (pfwd-py): a fresh virtual environment in
# target/py-venv with the test tools and the freshly built wheel. maturin
# builds with the dev profile into target/, so the Rust build is shared with
# cargo's. Installs Debian's python3-venv when python3 lacks venv (as root).
PFWD_VENV=target/py-venv
PFWD_PY_TOOLS=(maturin pytest pytest-asyncio mypy miniupnpc)

pfwd_python_venv() {
    if ! python3 -c "import venv, ensurepip" 2>/dev/null; then
        [ "$(id -u)" = 0 ] || { echo "pfwd: python3 has no venv module; install python3-venv" >&2; return 1; }
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    fi
    rm -rf "$PFWD_VENV"
    python3 -m venv "$PFWD_VENV"
    "$PFWD_VENV/bin/pip" install -q --disable-pip-version-check "${PFWD_PY_TOOLS[@]}"
    rm -f target/wheels/pfwd-*.whl
    (cd pfwd-py && "../$PFWD_VENV/bin/maturin" build --quiet --locked --profile dev -o ../target/wheels)
    "$PFWD_VENV/bin/pip" install -q --disable-pip-version-check target/wheels/pfwd-*.whl
}
