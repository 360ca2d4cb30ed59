"""The train / evaluate / data / models commands, driven through the real CLI."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emoedge.cli import app
from emoedge.errors import UserInputError

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def invoke_train(data, out, epochs: int, *options):
    """`emoedge train` on `data` into `out` at batch size 16 (a few steps an epoch on
    the fixture), with `options` besides."""
    return invoke(
        "train", "--data", data, "--epochs", epochs, "--batch-size", 16, "--out", out, *options
    )


def test_help_explains_the_flow():
    result = invoke("--help")
    assert result.exit_code == 0
    for step in ("train", "evaluate", "export", "run", "bench", "daemon"):
        assert f"emoedge {step}" in result.output


def test_data_inspect_on_the_fixture(ferplus_fixture):
    result = invoke("data", "inspect", ferplus_fixture, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    test = summary["splits"]["test"]
    assert test["rows"] == 26 and test["majority_images"] == 24
    assert test["class_counts_majority"]["contempt"] == 3
    assert test["image_sizes_sampled"] == {"48x48": 26}


def test_data_inspect_missing_folder_is_one_clear_line(tmp_path):
    result = invoke("data", "inspect", tmp_path / "missing")
    assert result.exit_code == 2
    assert "dataset folder not found" in result.output
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, ferplus_fixture):
    out = tmp_path_factory.mktemp("run")
    result = invoke_train(ferplus_fixture, out, 2, "--model", "mini_xception", "--seed", 1)
    assert result.exit_code == 0, result.output
    return out, result


def test_train_writes_model_and_run_record(trained_run):
    out, result = trained_run
    assert "best val accuracy" in result.stdout
    assert (out / "model.keras").is_file() and (out / "last.keras").is_file()
    # how the run's models are fed travels with them, and is what they are read with
    from emoedge.models.zoo import model_preprocess_spec

    sidecar = json.loads((out / "preprocess.json").read_text())["preprocess"]
    assert model_preprocess_spec(out / "model.keras").scale == sidecar["scale"] == "symmetric"
    record = json.loads((out / "run.json").read_text())
    assert record["config"]["model"] == "mini_xception"
    assert record["data"]["train_images"] == 48 and record["data"]["fingerprint"]
    assert len(record["epochs"]) == 2
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(record["epochs"][0])
    # each epoch's cost is recorded with it (training and validation)
    assert all(e["epoch_seconds"] > 0 and e["images_per_second"] > 0 for e in record["epochs"])
    assert record["model"]["parameters"] == 59_576
    assert record["versions"]["tensorflow"]
    assert "epoch   2" in result.output  # one summary line per epoch


def test_resume_continues_from_the_backup(trained_run, ferplus_fixture):
    out, _ = trained_run
    result = invoke_train(ferplus_fixture, out, 3, "--seed", 1, "--resume")
    assert result.exit_code == 0, result.output
    record = json.loads((out / "run.json").read_text())
    assert len(record["epochs"]) == 3  # epochs 1-2 from the first run, only 3 trained now
    assert "epoch   1 " not in result.output
    assert "nothing to resume" not in result.output


def test_resume_with_nothing_to_resume_says_so(tmp_path, ferplus_fixture):
    """A mistyped --out would otherwise restart a long run from epoch 1 unnoticed."""
    result = invoke(
        "train", "--data", ferplus_fixture, "--epochs", 1, "--out", tmp_path / "typo", "--resume"
    )
    assert result.exit_code == 0, result.output
    assert "no backup in" in result.output and "starting at epoch 1" in result.output
    assert (tmp_path / "typo" / "model.keras").is_file()


def test_a_new_run_over_a_finished_one_needs_force(trained_run, ferplus_fixture, tmp_path):
    """Without --resume or --force a second run would truncate history.csv and, if
    interrupted, leave its first-epoch model beside the previous run's run.json."""
    out, _ = trained_run
    before = (out / "model.keras").read_bytes()
    refused = invoke_train(ferplus_fixture, out, 1)
    assert refused.exit_code == 2, refused.output
    assert "already holds a training run" in refused.output and "--force" in refused.output
    assert (out / "model.keras").read_bytes() == before
    copy = tmp_path / "again"
    shutil.copytree(out, copy)
    forced = invoke_train(ferplus_fixture, copy, 1, "--force")
    assert forced.exit_code == 0, forced.output
    record = json.loads((copy / "run.json").read_text())
    assert len(record["epochs"]) == 1  # nothing of the two-epoch run is left
    assert len((copy / "history.csv").read_text().splitlines()) == 2  # header + 1 epoch


def test_train_mobilenet_v2_briefly(tmp_path, ferplus_fixture):
    result = invoke_train(
        ferplus_fixture,
        tmp_path,
        1,
        "--model",
        "mobilenet_v2",
        "--alpha",
        0.35,
        "--input-size",
        48,
        "--loss",
        "focal",
        "--class-weighting",
        "balanced",
        "--mixup",
        0.2,
    )
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["preprocess"]["height"] == 48
    assert record["config"]["model_options"] == {"alpha": 0.35}
    assert record["distillation"] is None


def test_train_distils_from_a_zoo_teacher(tmp_path, ferplus_fixture):
    from emoedge.data.ferplus import load_ferplus
    from emoedge.evaluation import load_predictor, predict_faceset

    teacher_options = ("--teacher", "zoo:mini_xception", "--teacher-weight", 0.6)
    result = invoke_train(ferplus_fixture, tmp_path, 1, *teacher_options)
    assert result.exit_code == 0, result.output
    distillation = json.loads((tmp_path / "run.json").read_text())["distillation"]
    assert distillation["weight"] == 0.6
    (teacher,) = distillation["teachers"]
    assert teacher["ref"] == "zoo:mini_xception" and teacher["path"].endswith("mini_xception.keras")
    from emoedge.targets.manifest import sha256_file

    assert teacher["sha256"] == sha256_file(Path(teacher["path"]))
    # the recorded teacher accuracy is the zoo model's own on these training images
    train = load_ferplus(ferplus_fixture, "train")
    predictor, spec, _ = load_predictor("zoo:mini_xception")
    probs = predict_faceset(predictor, train, spec, flip_tta=True)
    assert distillation["teacher_train_accuracy"] == pytest.approx(
        float((probs.argmax(1) == train.labels).mean())
    )
    assert distillation["teacher_train_accuracy"] > 0.5

    # --resume does not score the training images again: the run folder keeps them
    resumed = invoke_train(ferplus_fixture, tmp_path, 2, *teacher_options, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert "teachers' probabilities from" in resumed.output
    assert "on the training images' majority" not in resumed.output
    again = json.loads((tmp_path / "run.json").read_text())["distillation"]
    assert again["teacher_train_accuracy"] == distillation["teacher_train_accuracy"]

    # another subset of the same size and split is scored afresh, not read from the cache
    for seed in (3, 4):
        subset = invoke_train(
            ferplus_fixture, tmp_path, 1, *teacher_options, "--limit", 20, "--seed", seed, "--force"
        )
        assert subset.exit_code == 0, subset.output
        assert "teachers' probabilities from" not in subset.output


def test_blended_targets_mix_votes_and_teacher():
    import numpy as np

    from emoedge.training.distill import blend_targets

    votes = np.array([[1.0, 0.0], [0.5, 0.5]], np.float32)
    teacher = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32)
    blended = blend_targets(votes, teacher, 0.25)
    np.testing.assert_allclose(blended, [[0.75, 0.25], [0.625, 0.375]])
    np.testing.assert_allclose(blended.sum(axis=1), 1.0)
    with pytest.raises(UserInputError, match="teacher weight"):
        blend_targets(votes, teacher, 1.5)


def test_evaluate_prints_and_reports(trained_run, ferplus_fixture, tmp_path):
    out, _ = trained_run
    result = invoke(
        "evaluate",
        out / "model.keras",
        "--data",
        ferplus_fixture,
        "--split",
        "test",
        "--out",
        tmp_path,
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["images"] == 24
    assert sum(map(sum, report["confusion"])) == 24
    assert f"accuracy {report['accuracy']:.4f}" in result.stdout
    assert (tmp_path / "confusion.png").stat().st_size > 10_000
    assert set(report["per_class"]) >= {"neutral", "contempt"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("train", "--model", "resnet9000"), "unknown model 'resnet9000'"),
        (("train", "--data", "/nonexistent/ferplus", "--epochs", 1), "dataset folder not found"),
        (("evaluate", "/nonexistent/model.keras"), "model file not found"),
        (("evaluate", "zoo:nope"), "no zoo model 'nope'"),
        (("train", "--loss", "hinge"), "unknown loss"),
        (("train", "--teacher", "/nonexistent/teacher.keras"), "--teacher model not found"),
        (("train", "--format", "photo"), "unknown data format 'photo'"),
        # scored photos as face crops, with no error
        (("evaluate", "zoo:mini_xception", "--format", "photo"), "unknown data format 'photo'"),
        # --limit 0 wrote a report on 0 images, a negative one scored a few random images
        (("evaluate", "zoo:mini_xception", "--limit", 0), "Invalid value for '--limit'"),
        (("train", "--limit", -5), "Invalid value for '--limit'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_corrupt_model_file(tmp_path, ferplus_fixture):
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"PK\x03\x04 truncated")
    result = invoke("evaluate", bad, "--data", ferplus_fixture)
    assert result.exit_code == 2
    assert "not a loadable Keras model" in result.output


def test_label_csv_with_wrong_columns(tmp_path):
    split = tmp_path / "FER2013Train"
    split.mkdir()
    (split / "label.csv").write_text("a.png,box,1,2\n")
    result = invoke("train", "--data", tmp_path, "--epochs", 1)
    assert result.exit_code == 2
    assert "label.csv:1: expected 12 columns" in result.output


def _folder_dataset(root, ferplus_fixture):
    """A folder-per-class dataset made of real FER+ faces (as a user would arrange them)."""
    import shutil

    from emoedge.data.ferplus import load_ferplus

    train = load_ferplus(ferplus_fixture, "train")
    for name, label in zip(train.names, train.labels, strict=True):
        folder = root / EMOTION_NAMES[label]
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(ferplus_fixture / "FER2013Train" / name, folder / name)
    return root


EMOTION_NAMES = (
    "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
)  # fmt: skip


def test_fine_tune_a_zoo_model_on_folders(tmp_path, ferplus_fixture):
    data = _folder_dataset(tmp_path / "faces", ferplus_fixture)
    out = tmp_path / "run"
    result = invoke_train(data, out, 1, "--format", "folders", "--init-from", "zoo:mini_xception")
    assert result.exit_code == 0, result.output
    record = json.loads((out / "run.json").read_text())
    assert record["data"]["source"].startswith("folders:")
    assert record["data"]["train_images"] + record["data"]["valid_images"] == 48
    inspected = invoke("data", "inspect", data, "--json")
    assert json.loads(inspected.stdout)["class_counts"]["contempt"] == 6


def test_folder_with_an_unknown_class_name(tmp_path):
    (tmp_path / "smug").mkdir()
    result = invoke("data", "inspect", tmp_path)
    assert result.exit_code == 2
    assert "unknown emotion 'smug'" in result.output


def test_a_fine_tuned_model_keeps_its_preprocessing_and_can_be_resized():
    """Without --input-size a zoo model is fed at its card's size, not the registry's
    default; with it (progressive resizing) only the size changes, the scaling and
    the face framing stay the card's."""
    import dataclasses

    from emoedge.models.zoo import model_preprocess_spec
    from emoedge.training.config import TrainConfig
    from emoedge.training.fit import _preprocess_spec

    card = model_preprocess_spec("zoo:mini_xception")
    assert _preprocess_spec(TrainConfig(init_from="zoo:mini_xception")) == card
    other = card.height + 16
    resized = _preprocess_spec(TrainConfig(init_from="zoo:mini_xception", input_size=other))
    assert resized == dataclasses.replace(card, height=other, width=other)


def test_a_resized_model_computes_what_it_computed_on_the_same_pixels():
    """with_input_size copies every weight: a fully convolutional model fed the old
    size's image gives the old model's output, and it takes the new size."""
    import numpy as np

    from emoedge.models import with_input_size
    from emoedge.models.zoo import load_keras_model

    model = load_keras_model("zoo:mini_xception")
    height, width, channels = model.input_shape[1:]
    bigger = with_input_size(model, height + 16, width + 16)
    assert bigger.input_shape[1:] == (height + 16, width + 16, channels)
    assert bigger.count_params() == model.count_params()
    image = np.random.default_rng(0).uniform(-1, 1, (2, height, width, channels))
    same_size = with_input_size(bigger, height, width)
    np.testing.assert_allclose(
        same_size(image.astype("float32")).numpy(),
        model(image.astype("float32")).numpy(),
        atol=1e-6,
    )
    assert bigger(np.zeros((1, height + 16, width + 16, channels), "float32")).shape == (1, 8)


def test_a_model_whose_weights_depend_on_its_size_is_not_resized():
    import keras

    from emoedge.models import with_input_size

    inputs = keras.Input((8, 8, 1))
    flat = keras.layers.Flatten()(keras.layers.Conv2D(2, 3, padding="same")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(8)(flat))
    with pytest.raises(UserInputError, match="depend on its input size"):
        with_input_size(model, 16, 16)
