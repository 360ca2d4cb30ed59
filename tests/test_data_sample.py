"""The FER+ sample the package ships for exports without FER+ (`emoedge.data.sample`)."""

from __future__ import annotations

import numpy as np
import pytest

from emoedge.data.preprocess import PreprocessSpec
from emoedge.data.sample import (
    CARD_FILE,
    REMAKE_COMMAND,
    SAMPLE_FILE,
    load_sample,
    make_sample,
    write_sample,
)
from emoedge.labels import NUM_CLASSES
from emoedge.quantization import CalibrationSet


def test_the_shipped_sample_is_small_balanced_raw_ferplus():
    """Raw 48x48 faces (no model's preprocessing), 16 train and 8 valid faces a class,
    each named after its FER+ file, in a few hundred KB."""
    sample = load_sample()
    assert SAMPLE_FILE.stat().st_size < 500_000
    for faces, split, per_class in (
        (sample.calibration, "FER2013Train/", 16),
        (sample.parity, "FER2013Valid/", 8),
    ):
        assert faces.images.dtype == np.uint8 and faces.images.shape == (
            per_class * NUM_CLASSES,
            48,
            48,
        )
        assert np.bincount(faces.labels, minlength=NUM_CLASSES).tolist() == [per_class] * 8
        assert all(name.startswith(split) and name.endswith(".png") for name in faces.names)
        assert len(set(faces.names)) == len(faces)
        np.testing.assert_allclose(faces.soft_targets.sum(axis=1), 1.0, rtol=1e-6)
        # the hard label is the majority emotion of the votes the file keeps
        assert (faces.soft_targets.argmax(axis=1) == faces.labels).all()
    assert sample.meta["seed"] == 0 and sample.meta["protocol"] == "majority"


def test_the_card_says_what_it_is_its_licences_and_how_it_was_made():
    card = CARD_FILE.read_text()
    assert REMAKE_COMMAND in card
    for fact in ("MIT", "FER2013 challenge", "research data set", "majority protocol"):
        assert fact in card, fact
    for part in load_sample().meta["parts"].values():  # its table gives the file's counts
        assert f"| {part['images']} | {part['per_class']} |" in card, part


@pytest.mark.parametrize(
    "spec",
    [
        PreprocessSpec(48, 48, 1),
        PreprocessSpec(64, 64, 1),
        PreprocessSpec(96, 96, 3, scale="unit"),
    ],
    ids=["48-gray", "64-gray", "96-rgb-unit"],
)
def test_one_sample_calibrates_every_input_size(spec):
    """The faces are preprocessed for each model's input at export, not stored so."""
    calibration = CalibrationSet.from_shipped_sample(spec)
    assert calibration.inputs.shape == (128, *spec.input_shape)
    low = -1.0 if spec.scale == "symmetric" else 0.0
    assert calibration.inputs.min() >= low and calibration.inputs.max() <= 1.0
    described = calibration.describe()
    assert described["class_counts"] == [16] * 8
    assert described["source"].startswith("emoedge FER+ sample (ferplus_sample.npz: FER2013Train")
    fewer = CalibrationSet.from_shipped_sample(spec, size=24)  # --calibration-size 24
    assert fewer.describe()["class_counts"] == [3] * 8


def test_writing_the_same_arrays_gives_the_same_bytes(tmp_path):
    """A remade sample is no new binary in git unless its faces changed."""
    with np.load(SAMPLE_FILE, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    first = write_sample(arrays, tmp_path / "a.npz").read_bytes()
    assert write_sample(arrays, tmp_path / "b.npz").read_bytes() == first


@pytest.mark.dataset
def test_the_shipped_sample_is_what_the_command_makes(ferplus_full):
    """The card's command, from the full FER+, draws exactly the shipped faces."""
    made = make_sample(ferplus_full)
    with np.load(SAMPLE_FILE, allow_pickle=False) as shipped:
        assert sorted(shipped.files) == sorted(made)
        for name in made:
            np.testing.assert_array_equal(shipped[name], made[name], err_msg=name)
