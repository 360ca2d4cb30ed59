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

install_mosquitto() {
    if [ -n "$(find_mosquitto)" ]; then
        return 0
    fi
    local sudo=""
    if [ "$(id -u)" != "0" ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "note: the MQTT tests need Mosquitto (Debian package 'mosquitto'); not root and" \
                 "no sudo, so it is not installed and those tests will be skipped" >&2
            return 0
        fi
        sudo="sudo"
    fi
    echo "Installing Mosquitto (Debian package 'mosquitto') with apt-get for the daemon's MQTT" \
         "tests${sudo:+; sudo may ask for your password}" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! { $sudo apt-get update -qq >/dev/null && \
           $sudo apt-get install -y -qq --no-install-recommends mosquitto >/dev/null; }; then
        echo "note: apt-get could not install mosquitto; the MQTT tests will be skipped" >&2
        return 0
    fi
    # Debian's package may start a system broker on 1883; the tests do not need it.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet mosquitto 2>/dev/null; then
        $sudo systemctl stop mosquitto || true
        $sudo systemctl disable mosquitto >/dev/null 2>&1 || true
    fi
    [ -n "$(find_mosquitto)" ] || echo "note: mosquitto did not install; the MQTT tests will be skipped" >&2
}

install_promtool() {
    command -v promtool >/dev/null 2>&1 && return 0
    local sudo=""
    if [ "$(id -u)" != "0" ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "note: the metrics lint test needs promtool (Debian package 'prometheus'); not" \
                 "root and no sudo, so it is not installed and that test will be skipped" >&2
            return 0
        fi
        sudo="sudo"
    fi
    echo "Installing promtool (Debian package 'prometheus') with apt-get for the daemon's" \
         "metrics test${sudo:+; sudo may ask for your password}" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! { $sudo apt-get update -qq >/dev/null && \
           $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }; then
        echo "note: apt-get could not install prometheus; the promtool test will be skipped" >&2
        return 0
    fi
    # The package starts a Prometheus server; the tests only need its promtool.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
        $sudo systemctl stop prometheus || true
        $sudo systemctl disable prometheus >/dev/null 2>&1 || true
    fi
}

find_chromium() {
    command -v chromium 2>/dev/null || { [ -x /usr/bin/chromium ] && echo /usr/bin/chromium; } || true
}

# Debian's Chromium for the daemon page's browser tests: Playwright drives it
# (executable_path), since Playwright's own browser download is not reachable.
install_chromium() {
    [ -n "$(find_chromium)" ] && return 0
    local sudo=""
    if [ "$(id -u)" != "0" ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "note: the daemon page's browser tests need Chromium (Debian package 'chromium');" \
                 "not root and no sudo, so it is not installed and those tests will be skipped" >&2
            return 0
        fi
        sudo="sudo"
    fi
    echo "Installing Chromium (Debian package 'chromium') with apt-get for the daemon page's" \
         "browser tests${sudo:+; sudo may ask for your password}" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! { $sudo apt-get update -qq >/dev/null && \
           $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; then
        echo "note: apt-get could not install chromium; the browser tests will be skipped" >&2
        return 0
    fi
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
