# Shared setup for ./run.sh and ./test.sh; source it, don't run it.
#
# On a fresh Debian 12 machine this installs QEMU and the Debian source tools, fetches QEMU's
# source for the installed version into a cache outside the repository (its schema and test cases
# are test data, never committed), and creates .venv with pyqmp installed in editable mode.
# Every step is skipped when its result is already there, so a second run is quick.
#
# Exports: PYQMP_CACHE, PYQMP_QEMU_SRC, and PATH with .venv/bin first.

set -euo pipefail

PYQMP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PYQMP_CACHE="${PYQMP_CACHE:-/var/cache/pyqmp}"
export PYQMP_QEMU_SRC="$PYQMP_CACHE/qemu-src"

_setup_say() { echo "setup: $*" >&2; }

# apt needs root; use sudo when run as another user and sudo is there.
_setup_as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        _setup_say "need root (or sudo) to run: $*"
        return 1
    fi
}

_setup_apt_updated=0
_setup_apt_update() {
    if [ "$_setup_apt_updated" -eq 0 ]; then
        _setup_say "apt-get update"
        _setup_as_root apt-get update -qq
        _setup_apt_updated=1
    fi
}

# Enable deb-src for the Debian suites already configured, so that `apt-get source` works.
# Idempotent: a stanza already reading "Types: deb deb-src" is left alone, and a deb-src line is
# only added to sources.list when the matching one is missing.
_setup_enable_deb_src() {
    local sources=/etc/apt/sources.list.d/debian.sources
    local classic=/etc/apt/sources.list
    if [ -f "$sources" ] && grep -Eq '^Types:[[:space:]]*deb[[:space:]]*$' "$sources"; then
        _setup_say "enabling deb-src in $sources"
        _setup_as_root sed -i -E 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb deb-src/' "$sources"
        _setup_apt_updated=0
    fi
    if [ -f "$classic" ]; then
        local missing
        missing="$(awk '
            /^[[:space:]]*deb-src[[:space:]]/ { sub(/^[[:space:]]+/, ""); have[$0] = 1; next }
            /^[[:space:]]*deb[[:space:]]/ {
                line = $0; sub(/^[[:space:]]*deb/, "deb-src", line); want[++n] = line
            }
            END { for (i = 1; i <= n; i++) if (!(want[i] in have)) print want[i] }
        ' "$classic")"
        if [ -n "$missing" ]; then
            _setup_say "adding deb-src lines to $classic"
            printf '%s\n' "$missing" | _setup_as_root tee -a "$classic" >/dev/null
            _setup_apt_updated=0
        fi
    fi
}

# (a) QEMU itself, and dpkg-source to unpack its source package.
if ! command -v qemu-system-x86_64 >/dev/null 2>&1 || ! command -v dpkg-source >/dev/null 2>&1; then
    _setup_enable_deb_src
    _setup_apt_update
    _setup_say "installing qemu-system-x86 and dpkg-dev"
    _setup_as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq qemu-system-x86 dpkg-dev >/dev/null
fi

# (a2) The other real parts the agent's tests start (issue 10): NATS and Prometheus, Debian's
# packages.  Only the binaries are used: the tests start them on 127.0.0.1 and stop them by PID;
# the packages' own services are not needed (and may stay stopped).
if ! command -v nats-server >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
    _setup_apt_update
    _setup_say "installing nats-server and prometheus"
    _setup_as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=600 install -y -qq nats-server prometheus >/dev/null
fi

# (a3) Chromium (Debian's package), headless: the reference manual's browser test opens the manual
# of QEMU's schema in it over the DevTools protocol on 127.0.0.1 (tests/docgen).
if ! command -v chromium >/dev/null 2>&1; then
    _setup_apt_update
    _setup_say "installing chromium"
    _setup_as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >/dev/null
fi

# (b) QEMU's source for the installed version: its qapi/ schema, docs and tests/qapi-schema/ are
# the specification and test data.
if [ ! -f "$PYQMP_QEMU_SRC/qapi/qapi-schema.json" ]; then
    _setup_enable_deb_src
    _setup_apt_update
    _setup_as_root mkdir -p "$PYQMP_CACHE"
    _setup_qemu_version="$(dpkg-query -W -f='${source:Version}' qemu-system-x86 2>/dev/null || true)"
    _setup_say "fetching QEMU source ${_setup_qemu_version:-(latest)} into $PYQMP_CACHE"
    (
        cd "$PYQMP_CACHE"
        if [ -z "$_setup_qemu_version" ] ||
            ! _setup_as_root apt-get source -qq --download-only "qemu=$_setup_qemu_version"; then
            _setup_say "warning: source for qemu ${_setup_qemu_version} not found; taking the archive's"
            _setup_as_root apt-get source -qq --download-only qemu
        fi
        dsc="qemu_${_setup_qemu_version#*:}.dsc"
        if [ -z "$_setup_qemu_version" ] || [ ! -f "$dsc" ]; then
            dsc="$(ls -t qemu_*.dsc | head -n 1)"
        fi
        # Unpack beside the final place and rename, so an interrupted run leaves no half tree.
        _setup_as_root rm -rf qemu-src qemu-src.partial
        _setup_say "unpacking $dsc"
        # apt has already verified the files against the signed archive index; dpkg-source's own
        # signature check would only complain that the uploader's key is not installed.
        _setup_as_root dpkg-source -q --no-check -x "$dsc" qemu-src.partial >/dev/null
        _setup_as_root mv qemu-src.partial qemu-src
    )
    if [ ! -f "$PYQMP_QEMU_SRC/qapi/qapi-schema.json" ]; then
        _setup_say "QEMU source unpacked but $PYQMP_QEMU_SRC/qapi/qapi-schema.json is missing"
        return 1 2>/dev/null || exit 1
    fi
fi

# (c) The virtual environment, reinstalled only when pyproject.toml changed since the last install.
_setup_venv="$PYQMP_ROOT/.venv"
_setup_stamp="$_setup_venv/.pyqmp-installed"
if [ ! -x "$_setup_venv/bin/python" ]; then
    if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        _setup_apt_update
        _setup_say "installing python3 and python3-venv"
        _setup_as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq python3 python3-venv >/dev/null
    fi
    _setup_say "creating .venv"
    python3 -m venv "$_setup_venv"
fi
if [ ! -f "$_setup_stamp" ] || [ "$PYQMP_ROOT/pyproject.toml" -nt "$_setup_stamp" ]; then
    _setup_say "installing pyqmp and its dependencies into .venv"
    "$_setup_venv/bin/python" -m pip install -q -e "$PYQMP_ROOT[test,fast]"
    touch "$_setup_stamp"
fi

export PATH="$_setup_venv/bin:$PATH"
_setup_say "ready (QEMU source: $PYQMP_QEMU_SRC)"
