#!/usr/bin/env bash
# Services the test suite talks to for real: Mosquitto (MQTT broker).
#
#   .ci/services.sh install        install mosquitto from Debian's packages if missing (idempotent)
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
    install) install_mosquitto ;;
    start) shift; start_mosquitto "$@" ;;
    *) echo "usage: $0 install | start [PORT]" >&2; exit 2 ;;
esac
