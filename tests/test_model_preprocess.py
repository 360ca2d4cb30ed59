"""Preprocessing bound to the model: read from the JSON that travels with a .keras,
never inferred from its input shape, and a model without one refused."""

from __future__ import annotations

import json
import shutil

import pytest

from emoedge.errors import UserInputError
from emoedge.export import export_build
from emoedge.models.zoo import model_preprocess_spec, resolve_model_path, zoo_entry


def test_a_zoo_model_is_fed_as_its_card_says():
    for name in ("mini_xception", "mobilenet_v2"):
        stated = zoo_entry(name).card["preprocess"]
        spec = model_preprocess_spec(f"zoo:{name}")
        assert (spec.height, spec.width, spec.channels, spec.scale) == (
            stated["height"],
            stated["width"],
            stated["channels"],
            stated["scale"],
        )


@pytest.fixture
def bare_copy(tmp_path):
    """The zoo model copied away from its card: a .keras that says nothing of its input."""
    path = tmp_path / "copy.keras"
    shutil.copy(resolve_model_path("zoo:mini_xception"), path)
    return path


def test_a_model_without_a_recorded_spec_is_refused_saying_how_to_give_one(bare_copy, tmp_path):
    with pytest.raises(UserInputError) as caught:
        model_preprocess_spec(bare_copy)
    message = str(caught.value)
    assert f"Write {bare_copy.with_suffix('.json')}" in message and '"scale"' in message
    # export refuses it before converting anything, and leaves no build behind
    with pytest.raises(UserInputError, match="no preprocessing is recorded"):
        export_build(bare_copy, "rpi", out=tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_the_sidecar_is_what_is_read(bare_copy):
    sidecar = {"height": 64, "width": 64, "channels": 1, "scale": "unit"}
    bare_copy.with_suffix(".json").write_text(json.dumps({"preprocess": sidecar}))
    assert model_preprocess_spec(bare_copy).scale == "unit"  # not the registry's symmetric
    # a training run folder's record serves every model file in it
    bare_copy.with_suffix(".json").unlink()
    (bare_copy.parent / "run.json").write_text(json.dumps({"preprocess": sidecar}))
    assert model_preprocess_spec(bare_copy).scale == "unit"


def test_a_sidecar_that_contradicts_the_model_is_refused(bare_copy):
    from emoedge.models.zoo import load_keras_model

    real = model_preprocess_spec("zoo:mini_xception").height
    wrong = 64 if real != 64 else 48
    sidecar = {"height": wrong, "width": wrong, "channels": 1, "scale": "symmetric"}
    bare_copy.with_suffix(".json").write_text(json.dumps({"preprocess": sidecar}))
    pattern = rf"takes {real}x{real}x1 inputs but .*copy\.json says {wrong}x{wrong}x1"
    with pytest.raises(UserInputError, match=pattern):
        model_preprocess_spec(bare_copy, load_keras_model(bare_copy))
