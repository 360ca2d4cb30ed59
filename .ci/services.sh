#!/usr/bin/env bash
# Services and tools the test suite uses for real: Mosquitto (MQTT broker),
# promtool (Prometheus' metrics linter, Debian package 'prometheus') and Chromium
# (Debian package 'chromium': the browser the daemon page's tests drive with Playwright).
#
#   .ci/services.sh install        install them from Debian's packages if missing (idempotent)
#   .ci/services.sh start [PORT]   start a throwaway broker on 127.0.0.1:PORT (default 1883), print its pid
#
# The daemon tests start their own broker on a free port with a generated
# config, so CI only needs `install`; `start` is for trying things by hand.
set -euo pipefail

find_mosquitto() {
    command -v mosquitto 2>/dev/null || { [ -x /usr/sbin/mosquitto ] && echo /usr/sbin/mosquitto; } || true
}

# The one way a tool comes from Debian's packages: as root, or with sudo (saying
# so before it may ask), and skipped with a note when neither works, so the tests
# that need it skip instead of CI failing. `apt-get update` runs once per script.
SUDO=""
APT_UPDATED=""
apt_install() {  # PACKAGE WHAT (e.g. "the MQTT tests")
    local package="$1" what="$2"
    if [ "$(id -u)" != "0" ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "note: Debian package '$package' (for $what) is not installed: not root" \
                 "and no sudo; $what will be skipped" >&2
            return 1
        fi
        SUDO="sudo"
    fi
    echo "Installing Debian package '$package' with apt-get for $what${SUDO:+; sudo may ask for" \
         "your password}" >&2
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "$APT_UPDATED" ]; then
        $SUDO apt-get update -qq >/dev/null || { echo "note: apt-get update failed;" \
            "$what will be skipped" >&2; return 1; }
        APT_UPDATED=1
    fi
    if ! $SUDO apt-get install -y -qq --no-install-recommends "$package" >/dev/null; then
        echo "note: apt-get could not install $package; $what will be skipped" >&2
        return 1
    fi
}

stop_system_service() {  # Debian's packages may start a server the tests do not need
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$1" 2>/dev/null; then
        $SUDO systemctl stop "$1" || true
        $SUDO systemctl disable "$1" >/dev/null 2>&1 || true
    fi
}

install_mosquitto() {
    [ -n "$(find_mosquitto)" ] && return 0
    apt_install mosquitto "the daemon's MQTT tests" || return 0
    stop_system_service mosquitto  # a system broker on 1883
    [ -n "$(find_mosquitto)" ] || echo "note: mosquitto did not install; the MQTT tests will be skipped" >&2
}

install_promtool() {
    command -v promtool >/dev/null 2>&1 && return 0
    apt_install prometheus "the daemon's metrics lint test (promtool)" || return 0
    stop_system_service prometheus  # the tests only need its promtool
}

find_chromium() {
    command -v chromium 2>/dev/null || { [ -x /usr/bin/chromium ] && echo /usr/bin/chromium; } || true
}

# Debian's Chromium for the daemon page's browser tests: Playwright drives it
# (executable_path), since Playwright's own browser download is not reachable.
install_chromium() {
    [ -n "$(find_chromium)" ] && return 0
    apt_install chromium "the daemon page's browser tests" || return 0
    [ -n "$(find_chromium)" ] || echo "note: chromium did not install; the browser tests will be skipped" >&2
}

start_mosquitto() {
    local port="${1:-1883}"
    local bin
    bin="$(find_mosquitto)"
    [ -n "$bin" ] || { echo "mosquitto is not installed; run: $0 install" >&2; exit 1; }
    local dir
    dir="$(mktemp -d)"
    printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" >"$dir/mosquitto.conf"
    "$bin" -c "$dir/mosquitto.conf" >"$dir/mosquitto.log" 2>&1 &
    echo $!
}

case "${1:-install}" in
    install) install_mosquitto; install_promtool; install_chromium ;;
    start) shift; start_mosquitto "$@" ;;
    *) echo "usage: $0 install | start [PORT]" >&2; exit 2 ;;
esac
