"""Model cards for the zoo: the text around the figures, and the command that made the model.

What a card says is here; measuring its figures is the host flow's
(`emoedge.publish`, which evaluates the copied file on FER+), so this module
imports neither evaluation nor the build contract.
"""

from __future__ import annotations

from emoedge.data.preprocess import SCALE_RANGES
from emoedge.labels import EMOTIONS

INTENDED_USE = (
    "Classifying the expression of a single, roughly frontal face crop into the 8 FER+ "
    "classes on low-power devices (Raspberry Pi, Jetson, x86 boxes), e.g. for aggregate, "
    "anonymous audience or HCI statistics. Not for decisions about individuals (hiring, "
    "policing, health, education assessment), not for inferring inner emotional states: "
    "it recognises facial configurations that annotators labelled, nothing more."
)
LIMITS = (
    "FER2013 faces are 48x48 grayscale web images found by keyword search; skin tone, age, "
    "gender and culture are not balanced and were not audited, so accuracy differs between "
    "groups in ways we have not measured. Posed and exaggerated expressions dominate; subtle "
    "spontaneous expressions, profile views, occlusions (masks, hands) and low light are "
    "classified worse. Contempt (120 training images) and disgust (116) are rare and their "
    "recall is low. Labels are the majority of 10 crowd annotators (FER+), which themselves "
    "disagree on about a quarter of the images."
)


#: TrainConfig field -> `emoedge train` flag (tests/test_cards.py checks each flag
#: against the command's own options)
TRAIN_FLAGS = {
    "model": "--model",
    "data": "--data",
    "data_format": "--format",
    "out": "--out",
    "epochs": "--epochs",
    "batch_size": "--batch-size",
    "learning_rate": "--lr",
    "warmup_epochs": "--warmup-epochs",
    "weight_decay": "--weight-decay",
    "input_size": "--input-size",
    "loss": "--loss",
    "class_weighting": "--class-weighting",
    "label_smoothing": "--label-smoothing",
    "mixup": "--mixup",
    "patience": "--patience",
    "seed": "--seed",
    "limit": "--limit",
    "valid_limit": "--valid-limit",
    "init_from": "--init-from",
    "threads": "--threads",
    "precision": "--precision",
}


def config_to_command(config: dict) -> str:
    """The `emoedge train` command line that reproduces a run record's config."""
    from emoedge.training.config import TrainConfig

    default = TrainConfig().to_dict()
    parts = ["emoedge train"]
    for key, flag in TRAIN_FLAGS.items():
        value = config.get(key)
        if key in ("model", "data", "epochs", "seed", "out") or (
            value != default.get(key) and value is not None
        ):
            parts.append(f"{flag} {value}")
    augment = config.get("augment", True)
    augment = {True: "mild", False: "none"}.get(augment, augment)  # records before 2026-12
    if augment != default["augment"]:
        parts.append(f"--augment {augment}")
    if config.get("onednn") is False:  # records before 2026-12 trained with oneDNN off too
        parts.append("--no-onednn")
    if config.get("jit_compile"):
        parts.append("--jit-compile")
    alpha = config.get("model_options", {}).get("alpha")
    if alpha is not None:
        parts.append(f"--alpha {alpha}")
    for teacher in config.get("teachers") or []:
        parts.append(f"--teacher {teacher}")
    if config.get("teachers") and config.get("teacher_weight") != default["teacher_weight"]:
        parts.append(f"--teacher-weight {config['teacher_weight']}")
    return " ".join(parts)


def _pct(value: float) -> str:
    return f"{100 * value:.2f}%"


def _distillation_lines(distillation: dict | None) -> list[str]:
    if not distillation:
        return []
    names = []
    for teacher in distillation["teachers"]:
        if isinstance(teacher, dict):
            names.append(f"`{teacher['ref']}` (sha256 `{teacher['sha256'][:16]}...`)")
        else:  # records written before teachers were pinned by checksum
            names.append(f"`{teacher}`")
    weight = distillation["weight"]
    return [
        "",
        f"Distilled (`emoedge train --teacher`) from {' and '.join(names)}: each training "
        f"target is {1 - weight:g} x the vote distribution + {weight:g} x the teachers' mean "
        "probabilities on the image and its mirror, scored once before training. The "
        f"teachers agree with {_pct(distillation['teacher_train_accuracy'])} of the training "
        "images' majority labels. They were trained here on the same split and are not shipped."
        + (
            " A `zoo:` teacher in the command below means the zoo model with that checksum, "
            "the one this card's model may have replaced."
            if any(
                isinstance(t, dict) and t["ref"].startswith("zoo:")
                for t in distillation["teachers"]
            )
            else ""
        ),
    ]


def _input_row(card: dict) -> str:
    """What the card's own preprocessing says the model takes, not a fixed phrase."""
    stated = card["preprocess"]
    low, high = SCALE_RANGES[stated["scale"]]
    pixels = "grayscale" if stated["channels"] == 1 else "RGB"
    return f"{card['input']} {pixels}, scaled to [{low:g}, {high:g}]"


def render_markdown(card: dict) -> str:
    test, valid = card["reports"]["test_majority"], card["reports"]["valid_majority"]
    lines = [
        f"# Model card: zoo:{card['name']}",
        "",
        f"{card['description']}",
        "",
        "| | |",
        "|---|---|",
        f"| Architecture | {card['architecture']} |",
        f"| Parameters | {card['parameters']:,} |",
        f"| MACs per face | {card['macs']:,} |",
        f"| Input | {_input_row(card)} (`emoedge.data.preprocess`) |",
        f"| Classes | {', '.join(EMOTIONS)} |",
        f"| File | `{card['name']}.keras` ({card['file_bytes']:,} bytes, sha256 `{card['sha256'][:16]}...`) |",
        f"| **FER+ test accuracy (majority, {test['images']:,} images)** | **{_pct(test['accuracy'])}** |",
        f"| FER+ test macro-F1 | {test['macro_f1']:.4f} |",
        f"| FER+ valid accuracy (majority, {valid['images']:,} images) | {_pct(valid['accuracy'])} |",
        f"| FER+ test accuracy, all faces ({card['reports']['test_all_faces']['images']:,} images) "
        f"| {_pct(card['reports']['test_all_faces']['accuracy'])} |",
        *(
            [
                "| FER+ test accuracy with test-time flip (`--flip-tta`, majority) "
                f"| {_pct(card['reports']['test_majority_flip_tta']['accuracy'])} |"
            ]
            if "test_majority_flip_tta" in card["reports"]
            else []
        ),
        f"| Training time | {card['training']['wall_seconds'] / 60:.0f} min on {card['training']['hardware']} |",
        f"| Date | {card['date']} |",
        "",
        "## Data and protocol",
        "",
        "Trained on FER+ (FERPlus labels over FER2013 images) `FER2013Train`, images kept by the "
        "FERPlus majority rule (25,045), with the annotators' vote distribution as soft targets "
        "(single votes dropped as outliers). Tuned and checkpointed on `FER2013Valid` only. "
        '`FER2013Test` was scored once, for this card. Headline protocol "FER+ majority": '
        "single-vote emotions zeroed, an image kept only when its top emotion holds more than "
        "half of the remaining votes and is neither unknown nor not-a-face (3,137 test images); "
        '"all faces" keeps every image whose top vote is an emotion (3,545).',
        *_distillation_lines(card["training"].get("distillation")),
        "",
        "## Reproduce",
        "",
        "```bash",
        *card["training"]["setup"],
        card["training"]["command"],
        f"emoedge evaluate {card['training']['out']}/model.keras --data ../shared/datasets/ferplus --split test",
        f"emoedge evaluate zoo:{card['name']} --data ../shared/datasets/ferplus --split test  # this card's figure",
        "```",
        "",
        f"Seed {card['training']['seed']}; {card['training']['epochs_run']} epochs run, best "
        f"validation epoch kept. {card['training'].get('notes', '')}",
        "",
        "## Per class on FER+ test (majority)",
        "",
        "| class | precision | recall | F1 | images |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in test["per_class"].items():
        lines.append(
            f"| {name} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} | {row['support']} |"
        )
    lines += [
        "",
        "## Confusion matrix on FER+ test (rows: true, columns: predicted)",
        "",
        "| | " + " | ".join(name[:4] for name in EMOTIONS) + " |",
        "|---|" + "---:|" * len(EMOTIONS),
    ]
    for name, row in zip(EMOTIONS, test["confusion"], strict=True):
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    lines += ["", "## Intended use", "", INTENDED_USE, "", "## Known limits", "", LIMITS, ""]
    if card.get("history"):
        lines += ["## What was tried", "", card["history"], ""]
    return "\n".join(lines)
