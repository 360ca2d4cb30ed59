#!/usr/bin/env bash
# What a device gets: the package built as a wheel (not the editable install the tests
# use), installed with only a target's extra into a fresh venv, then `emoedge doctor`
# and `emoedge run` on a build made here. Catches a module or model file missing from
# the wheel, and any device-side import of a host tool (TensorFlow, converters).
#
#   bash scripts/device_smoke.sh [rpi|x86|jetson]    (after scripts/demo.sh TARGET)
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${1:-rpi}"
BUILD="builds/mobilenet_v2-$TARGET-int8"  # what scripts/demo.sh TARGET writes
[ -f "$BUILD/manifest.json" ] || { echo "no $BUILD: run bash scripts/demo.sh $TARGET first" >&2; exit 2; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
[ -e build ] && KEEP_BUILD=1 || KEEP_BUILD=0
python3 -m pip wheel -q --no-deps -w "$WORK/dist" .
[ "$KEEP_BUILD" = 1 ] || rm -rf build  # setuptools' staging folder, not ours
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q "$(ls "$WORK"/dist/emoedge-*.whl)[$TARGET]"
echo "installed: $("$WORK/venv/bin/pip" list --format freeze | wc -l) packages"
cp -r "$BUILD" "$WORK/build"
cd "$WORK"  # away from the repo, so nothing resolves to its folders
venv/bin/emoedge doctor build
venv/bin/emoedge run build --source "$OLDPWD/tests/fixtures/wild/images" --print-faces
venv/bin/python -c "
import sys
import emoedge.targets.pipeline
host = [m for m in ('tensorflow', 'keras', 'nncf', 'tf2onnx') if m in sys.modules]
assert not host, f'device side imported host tools: {host}'
print('device side imports no host tools')
"
