import shutil

import numpy as np
import pytest

from emoedge.data.faceset import balanced_sample, stratified_sample
from emoedge.data.ferplus import (
    all_faces_labels,
    load_ferplus,
    majority_labels,
    vote_distribution,
)
from emoedge.errors import UserInputError


def votes(*rows):
    return np.asarray(rows, dtype=np.int32)


def test_majority_rule_follows_the_ferplus_reference():
    table = votes(
        [0, 10, 0, 0, 0, 0, 0, 0, 0, 0],  # unanimous happiness
        [6, 0, 0, 4, 0, 0, 0, 0, 0, 0],  # 6 of 10: kept as neutral
        [5, 0, 0, 5, 0, 0, 0, 0, 0, 0],  # a tie is not a majority: dropped
        [4, 1, 1, 1, 1, 1, 1, 0, 0, 0],  # single votes are outliers: 4 of 4 -> neutral
        [0, 0, 0, 0, 0, 0, 0, 0, 8, 2],  # unknown: dropped
        [0, 0, 0, 0, 0, 0, 0, 3, 0, 7],  # not a face: dropped
    )
    assert majority_labels(table).tolist() == [1, 0, -1, 0, -1, -1]


def test_all_faces_rule_takes_the_first_top_vote():
    table = votes([5, 0, 0, 5, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 8, 2])
    assert all_faces_labels(table).tolist() == [0, -1]


def test_vote_distribution_drops_single_votes_and_normalises():
    dist = vote_distribution(votes([6, 1, 0, 3, 0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0, 0, 9, 0]))
    assert np.allclose(dist[0], [0.6 / 0.9, 0, 0, 0.3 / 0.9, 0, 0, 0, 0])
    assert np.allclose(dist[1], [1, 0, 0, 0, 0, 0, 0, 0])  # only a single vote: kept raw


def test_fixture_loads_with_every_class(ferplus_fixture):
    train = load_ferplus(ferplus_fixture, "train")
    assert len(train) == 48  # 6 per class; the 2 unknown/NF rows are dropped
    assert set(train.class_counts().values()) == {6}
    assert train.images.shape == (48, 48, 48) and train.images.dtype == np.uint8
    assert np.allclose(train.soft_targets.sum(axis=1), 1)
    assert (train.soft_targets.argmax(axis=1) == train.labels).all()
    assert train.extra["dropped"] == 2
    assert len(load_ferplus(ferplus_fixture, "test")) == 24


def test_second_load_comes_from_the_cache(ferplus_fixture, tmp_path):
    first = load_ferplus(ferplus_fixture, "valid", cache_dir=tmp_path)
    assert list((tmp_path / "ferplus").glob("valid-*.npz"))
    second = load_ferplus(ferplus_fixture, "valid", cache_dir=tmp_path)
    assert np.array_equal(first.images, second.images)
    assert first.names == second.names


def test_missing_dataset_folder_is_named(tmp_path):
    with pytest.raises(UserInputError, match="dataset folder not found"):
        load_ferplus(tmp_path / "nope", "train")
    with pytest.raises(UserInputError, match="FER2013Train"):
        load_ferplus(tmp_path, "train")


def test_wrong_column_count_names_file_and_line(tmp_path):
    split = tmp_path / "FER2013Test"
    split.mkdir()
    (split / "label.csv").write_text('a.png,"(0, 0, 48, 48)",10,0,0,0,0,0,0,0,0,0\nb.png,1,2,3\n')
    with pytest.raises(UserInputError, match=r"label.csv:2: expected 12 columns.*found 4"):
        load_ferplus(tmp_path, "test", cache_dir=tmp_path)


def test_unreadable_image_is_named(ferplus_fixture, tmp_path):
    split = tmp_path / "FER2013Test"
    shutil.copytree(ferplus_fixture / "FER2013Test", split)
    victim = sorted(split.glob("*.png"))[0]
    victim.write_bytes(b"not a png")
    with pytest.raises(UserInputError, match=victim.name):
        load_ferplus(tmp_path, "test", cache_dir=tmp_path / "cache")


def test_unknown_split_and_protocol(ferplus_fixture):
    with pytest.raises(UserInputError, match="split"):
        load_ferplus(ferplus_fixture, "dev")
    with pytest.raises(UserInputError, match="protocol"):
        load_ferplus(ferplus_fixture, "test", protocol="plurality")


def test_samplers_keep_classes():
    labels = np.array([0] * 90 + [1] * 9 + [2] * 1)
    strat = stratified_sample(labels, 20)
    assert len(strat) == 20 and set(labels[strat]) == {0, 1, 2}
    bal = balanced_sample(labels, 12)
    assert np.bincount(labels[bal]).tolist() == [6, 5, 1]


@pytest.mark.dataset
def test_full_ferplus_counts_match_the_protocol(ferplus_full):
    expected = {
        "train": (25045, 28385),
        "valid": (3191, 3555),
        "test": (3137, 3545),
    }
    for split, (majority, all_faces) in expected.items():
        assert len(load_ferplus(ferplus_full, split, "majority")) == majority
        assert len(load_ferplus(ferplus_full, split, "all_faces")) == all_faces
