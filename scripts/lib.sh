# Shared by scripts/test and scripts/demo: install what the testbed needs.
# shellcheck shell=bash

# Debian packages: the real router (miniupnpd with nftables), the firewall
# tool, the namespaces tool, and the reference clients used for cross-checks.
# The C library's tests (tests/gateway/c.rs): a C compiler, pkg-config, valgrind.
# The book's Getting started in the testbed (tests/gateway/book.rs): curl.
PFWD_PACKAGES=(miniupnpd-nftables nftables iproute2 miniupnpc natpmpc gcc pkg-config valgrind curl)

# The packages of "$@" (default: PFWD_PACKAGES) that are not installed.
pfwd_missing_packages() {
    local missing=() want=("$@")
    [ $# -gt 0 ] || want=("${PFWD_PACKAGES[@]}")
    for p in "${want[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    echo "${missing[@]:-}"
}

pfwd_ensure_packages() {
    local missing
    missing=$(pfwd_missing_packages "$@")
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

# Make sure `python3 -m venv` works: installs Debian's python3-venv when
# python3 lacks the module (as root), or says what to install.
pfwd_need_venv() {
    python3 -c "import venv, ensurepip" 2>/dev/null && return 0
    [ "$(id -u)" = 0 ] || { echo "pfwd: python3 has no venv module; install python3-venv" >&2; return 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
}

# The Python package (pfwd-py): a fresh virtual environment in
# target/py-venv with the test tools and the freshly built wheel. maturin
# builds with the dev profile into target/, so the Rust build is shared with
# cargo's.
PFWD_VENV=target/py-venv
PFWD_PY_TOOLS=(maturin pytest pytest-asyncio mypy miniupnpc)

pfwd_python_venv() {
    pfwd_need_venv || return 1
    rm -rf "$PFWD_VENV"
    python3 -m venv "$PFWD_VENV"
    "$PFWD_VENV/bin/pip" install -q --disable-pip-version-check "${PFWD_PY_TOOLS[@]}"
    rm -f target/wheels/pfwd-*.whl
    (cd pfwd-py && "../$PFWD_VENV/bin/maturin" build --quiet --locked --profile dev -o ../target/wheels)
    "$PFWD_VENV/bin/pip" install -q --disable-pip-version-check target/wheels/pfwd-*.whl
}

# ---- Raspberry Pi builds (scripts/release, the emulated tests) -----------
# Cross linkers for the 64-bit and ARMv7 Pi builds, qemu to run ARM programs
# here, lintian to check the packages, help2man for the man page. The
# ARMv6 build (Pi Zero / Pi 1) links with zig, from the ziglang PyPI package
# in target/py-release (shared with scripts/release-python).
PFWD_PI_PACKAGES=(gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-arm64-cross
    libc6-dev-armhf-cross qemu-user-static lintian help2man python3-venv)
PFWD_PI_TARGETS=(aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf arm-unknown-linux-gnueabihf)
PFWD_ZIG_VENV=target/py-release

# Installs the packages above, the rustup targets of the Pi builds and
# those given as arguments (the wheels' musl targets), rust-src, and zig.
pfwd_ensure_pi_toolchain() {
    pfwd_ensure_packages "${PFWD_PI_PACKAGES[@]}"
    local installed t
    installed=$(rustup target list --installed)
    for t in "${PFWD_PI_TARGETS[@]}" "$@"; do
        grep -qx "$t" <<<"$installed" && continue
        # Without a prebuilt standard library (rustup cannot fetch one for
        # every target everywhere), scripts/release builds it from rust-src.
        rustup target add "$t" >/dev/null 2>&1 || echo "pfwd: no prebuilt std for $t: building it from rust-src" >&2
    done
    rustup component list --installed | grep -q '^rust-src' || rustup component add rust-src >/dev/null
    if ! [ -x "$PFWD_ZIG_VENV/bin/maturin" ] || ! "$PFWD_ZIG_VENV/bin/python" -c "import ziglang" 2>/dev/null; then
        python3 -m venv "$PFWD_ZIG_VENV"
        "$PFWD_ZIG_VENV/bin/pip" install -q --disable-pip-version-check maturin ziglang
    fi
}

# cargo build ARGS... for the Rust target TRIPLE (the caller passes
# --release or --profile), with the target's linker; where rustup has no
# prebuilt standard library for TRIPLE, std is built from rust-src.
pfwd_cross_build() {
    local triple=$1
    shift
    local env=() flags=()
    case $triple in
        aarch64-unknown-linux-gnu)
            env=(CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
                CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc) ;;
        armv7-unknown-linux-gnueabihf)
            env=(CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER=arm-linux-gnueabihf-gcc
                CC_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-gcc) ;;
        arm-unknown-linux-gnueabihf)
            env=(CARGO_TARGET_ARM_UNKNOWN_LINUX_GNUEABIHF_LINKER="$PWD/packaging/zig-cc"
                PFWD_ZIG_PYTHON="$PWD/$PFWD_ZIG_VENV/bin/python") ;;
    esac
    if ! rustup target list --installed | grep -qx "$triple"; then
        env+=(RUSTC_BOOTSTRAP=1)
        flags=("-Zbuild-std=std,panic_abort")
    fi
    env "${env[@]}" cargo build --locked --quiet --target "$triple" "${flags[@]}" "$@"
}

# Debian's own arm64 Python for the emulated wheel test, unpacked (not
# installed: python3:arm64 would replace this machine's python3) into
# target/pi-python/root, where qemu-aarch64 -L finds its libraries. Adds
# Debian's arm64 architecture to dpkg once, so that apt can download it.
PFWD_PI_PYTHON=target/pi-python
PFWD_PI_PYTHON_DEBS=(libc6:arm64 libgcc-s1:arm64 zlib1g:arm64 libexpat1:arm64 libffi8:arm64
    libssl3:arm64 libbz2-1.0:arm64 liblzma5:arm64 python3.11-minimal:arm64
    libpython3.11-minimal:arm64 libpython3.11-stdlib:arm64 python3.11-venv:arm64 python3-pip-whl)

pfwd_pi_python() {
    [ -x "$PFWD_PI_PYTHON/root/usr/bin/python3.11" ] && return 0
    [ "$(id -u)" = 0 ] || { echo "pfwd: the arm64 Python needs root (dpkg --add-architecture arm64)" >&2; return 1; }
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        dpkg --add-architecture arm64
        apt-get update -qq
    fi
    rm -rf "$PFWD_PI_PYTHON"
    mkdir -p "$PFWD_PI_PYTHON/debs" "$PFWD_PI_PYTHON/root"
    # apt's download user cannot write under target/: fetch into a temp dir.
    local tmp deb
    tmp=$(mktemp -d)
    chmod 755 "$tmp"
    (cd "$tmp" && apt-get download -q "${PFWD_PI_PYTHON_DEBS[@]}" >/dev/null 2>&1) ||
        (cd "$tmp" && apt-get update -qq && apt-get download -q "${PFWD_PI_PYTHON_DEBS[@]}" >/dev/null)
    mv "$tmp"/*.deb "$PFWD_PI_PYTHON/debs/"
    rmdir "$tmp"
    for deb in "$PFWD_PI_PYTHON"/debs/*.deb; do
        dpkg-deb -x "$deb" "$PFWD_PI_PYTHON/root"
    done
}
# ---- end of Raspberry Pi ---------------------------------------------------

# ---- Kubernetes manifests (pfwd-kube) ---------------------------------------
# kubernetes-validate (PyPI; it ships the Kubernetes JSON schemas, so no
# cluster and no network beyond PyPI are needed) in its own small venv.
PFWD_KUBE_VENV=target/kube-venv
PFWD_KUBE_VALIDATE=kubernetes-validate==1.37.0
# The oldest Kubernetes pfwd-kube's k8s-openapi feature (v1_33) names, and
# the newest kubernetes-validate knows.
PFWD_KUBE_VERSIONS=(1.33.0 1.37.0)

# Validates the manifests "$@" strictly (unknown fields fail) against each
# of PFWD_KUBE_VERSIONS.
pfwd_kube_validate() {
    if [ ! -x "$PFWD_KUBE_VENV/bin/kubernetes-validate" ]; then
        pfwd_need_venv || return 1
        rm -rf "$PFWD_KUBE_VENV"
        python3 -m venv "$PFWD_KUBE_VENV"
        "$PFWD_KUBE_VENV/bin/pip" install -q --disable-pip-version-check "$PFWD_KUBE_VALIDATE"
    fi
    local v
    for v in "${PFWD_KUBE_VERSIONS[@]}"; do
        "$PFWD_KUBE_VENV/bin/kubernetes-validate" --strict --quiet -k "$v" "$@"
    done
}

# mdBook, which builds the book (docs/, book.toml): the version the book is
# written for, without its optional features (no search index, no live
# server), into target/tools/bin. One build (~2 min on two cores), then
# reused.
PFWD_MDBOOK_VERSION=0.5.4
pfwd_mdbook() {
    local bin=target/tools/bin/mdbook
    if [ -x "$bin" ] && "$bin" --version | grep -qx "mdbook v$PFWD_MDBOOK_VERSION"; then
        return 0
    fi
    cargo install mdbook --version "$PFWD_MDBOOK_VERSION" --locked --no-default-features \
        --root target/tools --quiet
}

# Build the book with every warning an error: mdBook only logs them.
pfwd_build_book() {
    pfwd_mdbook
    local log
    log=$(target/tools/bin/mdbook build 2>&1) || { echo "$log" >&2; return 1; }
    if grep -E '(WARN|ERROR)' <<<"$log" >&2; then
        echo "pfwd: the book built with warnings (above): fix them" >&2
        return 1
    fi
    echo "book: target/book/index.html"
}
