"""The one-warp augmenter: geometry and photometry as its policy says, nothing else."""

import numpy as np
import pytest

from emoedge.errors import UserInputError
from emoedge.tf_env import import_tf
from emoedge.training.augment import AUGMENT_POLICIES, AugmentPolicy, make_augmenter
from emoedge.training.config import TrainConfig


def _faces(count=16, size=48, seed=0):
    rng = np.random.default_rng(seed)
    # smooth random images: a bilinear warp of noise would be hard to reason about
    small = rng.uniform(-1, 1, (count, 6, 6, 1)).astype(np.float32)
    return np.repeat(np.repeat(small, size // 6, axis=1), size // 6, axis=2)


def test_a_policy_of_zero_ranges_is_the_identity():
    tf = import_tf()
    faces = _faces()
    out = make_augmenter(AugmentPolicy(flip=False), seed=1)(tf.constant(faces)).numpy()
    assert np.allclose(out, faces, atol=1e-6)


def test_flip_alone_mirrors_about_half_the_faces():
    tf = import_tf()
    faces = _faces(64)
    out = make_augmenter(AugmentPolicy(flip=True), seed=3)(tf.constant(faces)).numpy()
    same = [np.allclose(o, f, atol=1e-5) for o, f in zip(out, faces, strict=True)]
    mirrored = [np.allclose(o, f[:, ::-1], atol=1e-5) for o, f in zip(out, faces, strict=True)]
    assert all(s or m for s, m in zip(same, mirrored, strict=True))
    assert 16 < sum(mirrored) < 48


def test_every_policy_keeps_shape_and_value_range():
    tf = import_tf()
    faces = _faces()
    for name, policy in AUGMENT_POLICIES.items():
        if policy is None:
            continue
        for value_range in ((-1.0, 1.0), (0.0, 1.0)):
            low, high = value_range
            inputs = faces if low < 0 else (faces + 1) / 2
            out = make_augmenter(policy, seed=5, value_range=value_range)(tf.constant(inputs))
            out = out.numpy()
            assert out.shape == inputs.shape and out.dtype == np.float32, name
            assert out.min() >= low and out.max() <= high, name
            assert not np.allclose(out, inputs), name  # it did change something


def test_erasing_blanks_one_patch_at_the_range_middle():
    tf = import_tf()
    faces = np.full((8, 48, 48, 1), 0.9, np.float32)
    out = make_augmenter(AugmentPolicy(flip=False, erase=1.0), seed=2)(tf.constant(faces)).numpy()
    for image in out:
        blanked = np.isclose(image, 0.0)
        assert 0 < blanked.sum() < 0.25 * image.size  # a patch may reach past the edge
        assert np.isclose(image[~blanked], 0.9).all()


def test_an_unknown_policy_is_refused_before_any_data_is_read():
    with pytest.raises(UserInputError, match="unknown augmentation 'heavy'"):
        TrainConfig(augment="heavy").validate()
    with pytest.raises(UserInputError, match="unknown precision"):
        TrainConfig(precision="fp8").validate()
