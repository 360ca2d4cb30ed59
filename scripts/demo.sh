#!/usr/bin/env bash
# The main job on bundled defaults: export the shipped MobileNetV2 (the default model) for a Raspberry Pi
# (TFLite int8, LiteRT) and run it on the sample photos shipped in the repo.
# Without FER+ it calibrates on the FER+ sample the package ships and does not measure
# accuracy; point EMOEDGE_DATA at a FER+ root to calibrate on it and gate on FER+ valid.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[train,rpi]"
TARGET="${1:-rpi}"
emoedge export --target "$TARGET" --force    # writes builds/mobilenet_v2-$TARGET-int8
emoedge run "builds/mobilenet_v2-$TARGET-int8" --source tests/fixtures/wild/images --print-faces
