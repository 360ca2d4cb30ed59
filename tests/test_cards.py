import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emoedge.cli import app
from emoedge.models.cards import config_to_command, render_markdown
from emoedge.training.config import TrainConfig


def test_config_to_command_lists_every_non_default_choice():
    config = TrainConfig(
        model="mobilenet_v2",
        data="/d/ferplus",
        out="runs/m",
        epochs=20,
        input_size=64,
        model_options={"alpha": 0.5},
        learning_rate=2e-3,
        weight_decay=1e-4,
        seed=7,
        init_from=None,
    )
    command = config_to_command(config.to_dict())
    assert command.startswith("emoedge train --model mobilenet_v2 --data /d/ferplus --out runs/m")
    for part in (
        "--epochs 20",
        "--lr 0.002",
        "--weight-decay 0.0001",
        "--input-size 64",
        "--seed 7",
        "--alpha 0.5",
    ):
        assert part in command
    assert "--loss" not in command  # defaults stay implicit
    assert "--teacher" not in command


def test_config_to_command_states_augmentation_and_kernels_of_old_and_new_records():
    assert "--augment strong" in config_to_command(TrainConfig(augment="strong").to_dict())
    assert "--augment" not in config_to_command(TrainConfig().to_dict())
    old = TrainConfig().to_dict()
    old["augment"] = False  # records before 2026-12 kept a bool
    assert "--augment none" in config_to_command(old)
    assert "--no-onednn" in config_to_command(TrainConfig(onednn=False).to_dict())


def test_config_to_command_repeats_each_teacher():
    config = TrainConfig(teachers=["zoo:mini_xception", "zoo:mobilenet_v2"], teacher_weight=0.7)
    command = config_to_command(config.to_dict())
    assert command.endswith(
        "--teacher zoo:mini_xception --teacher zoo:mobilenet_v2 --teacher-weight 0.7"
    )


def test_publish_writes_a_card_measured_on_the_data(tmp_path, ferplus_fixture):
    runner = CliRunner()
    run = tmp_path / "run"
    trained = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(ferplus_fixture),
            "--epochs",
            "1",
            "--batch-size",
            "16",
            "--out",
            str(run),
            "--teacher",
            "zoo:mini_xception",
        ],
    )
    assert trained.exit_code == 0, trained.output
    zoo = tmp_path / "zoo"
    result = runner.invoke(
        app,
        [
            "models",
            "publish",
            str(run),
            "--name",
            "tiny",
            "--data",
            str(ferplus_fixture),
            "--zoo-dir",
            str(zoo),
        ],
    )
    assert result.exit_code == 0, result.output
    card = json.loads((zoo / "tiny.json").read_text())
    assert card["reports"]["test_majority"]["images"] == 24
    assert card["parameters"] == 59_576
    markdown = (zoo / "tiny.md").read_text()
    assert f"{100 * card['test_accuracy']:.2f}%" in markdown
    assert "--epochs 1" in markdown and "Known limits" in markdown
    # a distilled model's card names its teacher, pinned by checksum
    teacher = card["training"]["distillation"]["teachers"][0]
    assert "--teacher zoo:mini_xception" in markdown
    assert f"`zoo:mini_xception` (sha256 `{teacher['sha256'][:16]}" in markdown
    evaluated = runner.invoke(
        app,
        [
            "evaluate",
            str(zoo / "tiny.keras"),
            "--data",
            str(ferplus_fixture),
            "--out",
            str(tmp_path / "ev"),
        ],
    )
    assert f"accuracy {card['test_accuracy']:.4f}" in evaluated.stdout
    # publishing again from data that is not FER+ fails before anything in the zoo moves
    before = {path.name: path.read_bytes() for path in zoo.iterdir()}
    empty = tmp_path / "not-ferplus"
    empty.mkdir()
    failed = runner.invoke(
        app,
        [
            "models",
            "publish",
            str(run),
            "--name",
            "tiny",
            "--data",
            str(empty),
            "--zoo-dir",
            str(zoo),
        ],
    )
    assert failed.exit_code != 0
    assert {path.name: path.read_bytes() for path in zoo.iterdir()} == before


def test_the_cards_flags_are_the_train_commands_own():
    import typer

    from emoedge.models.cards import TRAIN_FLAGS
    from emoedge.training.config import TrainConfig

    command = typer.main.get_command(app).commands["train"]
    options = {opt for param in command.params for opt in param.opts}
    assert set(TRAIN_FLAGS.values()) <= options
    assert set(TRAIN_FLAGS) <= set(TrainConfig().to_dict())


ZOO = Path(__file__).resolve().parents[1] / "models" / "zoo"


@pytest.mark.parametrize("name", ["mini_xception", "mobilenet_v2"])
def test_each_zoo_card_is_what_its_json_renders(name):
    """The .json is the card's one source; an edit made to the .md alone (or notes that
    repeat what the renderer adds) shows up here instead of in a reader's eyes."""
    card = json.loads((ZOO / f"{name}.json").read_text())
    markdown = (ZOO / f"{name}.md").read_text()
    assert markdown == render_markdown(card)
    seed_sentence = f"Seed {card['training']['seed']}; "
    assert markdown.count(seed_sentence) == 1
