"""One build per target for the whole test session, shared by the quantization test files.

Made from the repo's FER+ fixture (48 calibration images from its train split,
24 parity images from valid) with the gate opened wide: 24 images are too few for
a 1-point gate, which `test_export.py` tests on its own. Cached per process so
`test_export.py`, `test_runtimes.py` and `test_cli_export.py` share the work.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "ferplus"
TARGETS = ("rpi", "x86", "jetson")


@functools.cache
def _root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="emoedge-quant-builds-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


@functools.cache
def build_for(target: str) -> Path:
    from emoedge.export import export_build

    return export_build(
        "zoo:mini_xception",
        target,
        out=_root() / f"mini_xception-{target}",
        data=FIXTURE,
        calibration_size=48,
        validation_size=24,
        max_drop=100.0,
    )


@functools.cache
def float_model():
    from emoedge.models.zoo import load_keras_model

    return load_keras_model("zoo:mini_xception")


@functools.cache
def fixture_test_inputs():
    """FER+ fixture test faces, preprocessed for the zoo model, and their labels."""
    from emoedge.data.ferplus import load_ferplus
    from emoedge.models.zoo import model_preprocess_spec

    faces = load_ferplus(FIXTURE, "test")
    return faces.to_inputs(model_preprocess_spec("zoo:mini_xception")), faces.labels
