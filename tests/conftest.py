"""Shared fixtures: the small real FER+ fixture kept in the repo, and the full sets when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # before anything imports TensorFlow
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
FERPLUS_FIXTURE = FIXTURES / "ferplus"
SHARED_DATASETS = Path(os.environ.get("EMOEDGE_DATASETS", REPO.parent / "shared" / "datasets"))
FERPLUS_FULL = SHARED_DATASETS / "ferplus"
WILD_SAMPLE = SHARED_DATASETS / "wild-sample"


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Decoded-data caches go to a temporary folder, never the user's home."""
    os.environ["EMOEDGE_CACHE"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def ferplus_fixture() -> Path:
    return FERPLUS_FIXTURE


@pytest.fixture(scope="session")
def ferplus_full() -> Path:
    if not (FERPLUS_FULL / "FER2013Test" / "label.csv").is_file():
        pytest.skip(f"full FER+ not found at {FERPLUS_FULL} (set EMOEDGE_DATASETS)")
    return FERPLUS_FULL


@pytest.fixture(scope="session")
def wild_sample() -> Path:
    if not (WILD_SAMPLE / "labels.csv").is_file():
        pytest.skip(f"wild-sample photos not found at {WILD_SAMPLE} (set EMOEDGE_DATASETS)")
    return WILD_SAMPLE


# -- the daemon's end-to-end tests (test_daemon_service, test_daemon_page) share these:
# one export and one clip per session, however many modules use them.
@pytest.fixture(scope="session")
def photos() -> list[Path]:
    for folder in (
        REPO / "tests" / "fixtures" / "wild" / "images",
        REPO.parent / "shared" / "datasets" / "wild-sample" / "images",
    ):
        found = sorted(folder.glob("*.jpg"))[:6]
        if found:
            return found
    pytest.skip("no face photos (tests/fixtures/wild or ../shared/datasets/wild-sample)")


@pytest.fixture(scope="session")
def daemon_build(tmp_path_factory) -> Path:
    """An rpi build (TFLite int8 on LiteRT) of the zoo model, calibrated on the repo's fixture."""
    from emoedge.export import export_build

    out = tmp_path_factory.mktemp("daemon-build") / "build"
    return export_build(
        "zoo:mini_xception",
        "rpi",
        out=out,
        data=REPO / "tests/fixtures/ferplus",
        calibration_size=32,
        validation_size=32,
        allow_drop=100.0,
    )


@pytest.fixture(scope="session")
def video(tmp_path_factory, photos) -> Path:
    """A short looping clip of those photos (the modules with a `video` of their own keep it)."""
    from daemon_support import make_video

    return make_video(tmp_path_factory.mktemp("video") / "clip.avi", photos)
