#!/usr/bin/env bash
# The main job on bundled defaults: export the shipped mini-Xception for a Raspberry Pi
# (TFLite int8, LiteRT) and run it on the sample photos shipped in the repo.
# Calibrates on the small FER+ fixture in the repo; point EMOEDGE_DATA at a full FER+ root
# for a real calibration.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[train,rpi]"
TARGET="${1:-rpi}"
emoedge export --target "$TARGET" --model zoo:mini_xception \
    --data "${EMOEDGE_DATA:-tests/fixtures/ferplus}" --out "builds/demo-$TARGET" --force
emoedge run "builds/demo-$TARGET" --source tests/fixtures/wild/images --print-faces
