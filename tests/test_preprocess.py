import numpy as np
import pytest

from emoedge.data.preprocess import PreprocessSpec, expand_box, preprocess, preprocess_batch
from emoedge.errors import UserInputError


def test_symmetric_scaling_maps_black_and_white_to_minus_one_and_one():
    spec = PreprocessSpec(height=16, width=16)
    image = np.zeros((16, 16), np.uint8)
    image[:, 8:] = 255
    out = preprocess(image, spec)
    assert out.shape == (16, 16, 1) and out.dtype == np.float32
    assert out[0, 0, 0] == -1.0 and out[0, 15, 0] == 1.0


def test_unit_scaling():
    spec = PreprocessSpec(height=16, width=16, scale="unit")
    out = preprocess(np.full((20, 20), 255, np.uint8), spec)
    assert np.allclose(out, 1.0)


@pytest.mark.parametrize(
    "image",
    [
        np.full((48, 48), 100, np.uint8),
        np.full((48, 48, 1), 100, np.uint8),
        np.full((48, 48, 3), 100, np.uint8),
        np.full((48, 48, 4), 100, np.uint8),
        np.full((48, 48), 100 * 257, np.uint16),
    ],
    ids=["gray", "gray1", "bgr", "bgra", "uint16"],
)
def test_every_frame_layout_gives_the_same_gray_input(image):
    spec = PreprocessSpec(height=64, width=64)
    out = preprocess(image, spec)
    assert out.shape == (64, 64, 1)
    assert np.allclose(out, 100 / 127.5 - 1.0, atol=1e-6)


def test_rgb_spec_replicates_gray():
    out = preprocess(np.full((48, 48), 10, np.uint8), PreprocessSpec(32, 32, channels=3))
    assert out.shape == (32, 32, 3)


def test_box_is_expanded_by_the_margin_and_clipped():
    assert expand_box((10, 10, 20, 20), 0.1, (100, 100)) == (8, 8, 24, 24)
    assert expand_box((0, 0, 50, 50), 0.2, (40, 40)) == (0, 0, 40, 40)


def test_crop_uses_only_the_box():
    image = np.zeros((100, 100), np.uint8)
    image[40:60, 40:60] = 255
    spec = PreprocessSpec(height=16, width=16, margin=0.0, shift=0.0)
    out = preprocess(image, spec, box=(40, 40, 20, 20))
    assert np.allclose(out, 1.0)


def test_box_outside_the_image_is_a_clear_error():
    with pytest.raises(UserInputError, match="outside"):
        preprocess(np.zeros((50, 50), np.uint8), PreprocessSpec(), box=(80, 80, 10, 10))


def test_empty_image_is_a_clear_error():
    with pytest.raises(UserInputError):
        preprocess(np.zeros((0, 0), np.uint8), PreprocessSpec())


def test_batch_matches_single_calls():
    spec = PreprocessSpec(height=24, width=24)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (48, 48), dtype=np.uint8) for _ in range(3)]
    batch = preprocess_batch(images, spec)
    assert batch.shape == (3, 24, 24, 1)
    assert np.array_equal(batch[1], preprocess(images[1], spec))


def test_spec_roundtrips_through_a_manifest_dict():
    spec = PreprocessSpec(height=96, width=96, channels=3, scale="unit", margin=0.2)
    assert PreprocessSpec.from_dict(spec.to_dict()) == spec


def test_bad_spec_values_are_rejected():
    with pytest.raises(UserInputError):
        PreprocessSpec(channels=2)
    with pytest.raises(UserInputError):
        PreprocessSpec(scale="imagenet")


def _photo_crop(side: int) -> np.ndarray:
    import cv2
    from conftest import FIXTURES

    photo = cv2.imread(str(sorted((FIXTURES / "wild" / "images").glob("*.jpg"))[0]), 0)
    return cv2.resize(photo, (side, side), interpolation=cv2.INTER_LINEAR)


@pytest.mark.parametrize("side", [266, 129, 191, 350])
def test_shrinking_a_face_stays_an_area_average(side):
    """The fast path (bilinear to a whole multiple, then area) against OpenCV's
    direct area resize, on a real face: within a gray level on average."""
    import cv2

    crop = _photo_crop(side)
    spec = PreprocessSpec(height=64, width=64)
    direct = cv2.resize(crop, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32)
    fast = (preprocess(crop, spec)[:, :, 0] + 1.0) * 127.5
    assert np.abs(fast - direct).mean() < 1.0


def test_whole_multiple_is_exactly_the_area_average():
    import cv2

    crop = _photo_crop(256)
    direct = cv2.resize(crop, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32)
    fast = (preprocess(crop, PreprocessSpec(height=64, width=64))[:, :, 0] + 1.0) * 127.5
    assert np.allclose(fast, direct, atol=1e-3)
