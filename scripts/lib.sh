# Shared by scripts/run and scripts/test: installing what the project needs, idempotently.

# Runs a command as root (directly when already root, else through sudo).
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian packages given that are not installed yet.
apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "==> installing Debian packages: ${missing[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# What every build of the workspace needs: SQLCipher links the system libcrypto, and the
# app (Tauri 2) links WebKitGTK and its companions.
BUILD_PACKAGES=(build-essential pkg-config libssl-dev ca-certificates curl
    libwebkit2gtk-4.1-dev libxdo-dev libayatana-appindicator3-dev librsvg2-dev)

# Makes sure PostgreSQL answers on 127.0.0.1:5432 (user postgres, trust auth locally).
ensure_postgres() {
    if command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then
        return 0
    fi
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
        apt_install postgresql
    fi
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    echo "==> starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 30); do
        pg_isready -q -h 127.0.0.1 -p 5432 && return 0
        sleep 1
    done
    echo "PostgreSQL does not answer on 127.0.0.1:5432; start it and run this again." >&2
    return 1
}

# tauri-driver, which drives the app's window through WebKitWebDriver.
ensure_tauri_driver() {
    if ! command -v tauri-driver >/dev/null; then
        echo "==> installing tauri-driver"
        cargo install tauri-driver --locked
    fi
}
