"""Publishing a training run into the zoo: the model copied, its card measured.

`publish` copies a run's best model into `models/zoo/` with `<name>.json` (the
figures `emoedge models list` shows, and the preprocessing the model is read with)
and `<name>.md` (the card a person reads). Every figure comes from evaluating the
copied file, not from training logs. A host step: it evaluates, so it lives
beside evaluation, not in `emoedge.models`.

The three files are written into a staging folder inside the zoo and moved into
place only once every figure is measured: a missing dataset or a failed
evaluation leaves the published model, its figures and its card as they were,
never a new model beside an old card.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from emoedge.models.cards import config_to_command, render_markdown


def publish(
    run_dir: Path,
    name: str,
    data: Path,
    zoo_dir: Path,
    description: str,
    setup: list[str] | None = None,
    notes: str = "",
    history: str = "",
) -> dict:
    """Evaluate a run's best model on FER+ valid and test and write it into the zoo with its card."""
    record = json.loads((run_dir / "run.json").read_text())
    zoo_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=zoo_dir, prefix=f".{name}-publishing-") as staging:
        staged = Path(staging)
        card = _measure_card(
            run_dir, record, name, data, staged, description, setup, notes, history
        )
        # keras first: until the card moves too, the zoo reads the new model with
        # the old card only for the instant between two renames on one filesystem
        for suffix in (".keras", ".json", ".md"):
            os.replace(staged / f"{name}{suffix}", zoo_dir / f"{name}{suffix}")
    return card


def _measure_card(
    run_dir: Path,
    record: dict,
    name: str,
    data: Path,
    staged: Path,
    description: str,
    setup: list[str] | None,
    notes: str,
    history: str,
) -> dict:
    """Write `<name>.keras`, `.json` and `.md` into `staged`, every figure measured there."""
    from emoedge.data.ferplus import load_ferplus
    from emoedge.evaluation import (
        classification_report,
        keras_predictor,
        predict_faceset,
    )
    from emoedge.models import count_macs
    from emoedge.models.zoo import MODEL_INPUT_KEYS, load_keras_model, model_preprocess_spec
    from emoedge.targets.manifest import sha256_file

    model_file = staged / f"{name}.keras"
    # Re-saved uncompiled: the checkpoint also holds the optimizer's moments,
    # two thirds of its bytes, which nobody running the model needs.
    load_keras_model(run_dir / "model.keras").save(model_file)
    model = load_keras_model(model_file)
    spec = model_preprocess_spec(run_dir / "model.keras", model)
    predictor = keras_predictor(model)
    reports = {}
    for split, protocol in (("valid", "majority"), ("test", "majority"), ("test", "all_faces")):
        faces = load_ferplus(data, split, protocol)
        probs = predict_faceset(predictor, faces, spec)
        reports[f"{split}_{protocol}"] = classification_report(faces.labels, probs.argmax(axis=1))
        if (split, protocol) == ("test", "majority"):
            # Reported beside the headline, not instead of it: the device
            # runners classify each crop once, so the headline is what they get.
            # Only the mirrors are new work; the plain pass above is reused.
            mirrored = predict_faceset(
                lambda batch: predictor(batch[:, :, ::-1, :].copy()), faces, spec
            )
            reports["test_majority_flip_tta"] = classification_report(
                faces.labels, (probs + mirrored).argmax(axis=1)
            )
    hardware = record["hardware"]
    card = {
        "name": name,
        "description": description,
        "architecture": model.name,
        "parameters": int(model.count_params()),
        "macs": count_macs(model),
        "input": "x".join(str(v) for v in spec.input_shape),
        # what the model learned; the face framing (margin, shift) is read from
        # emoedge.data.preprocess wherever the model is fed, so a copy here would be dead
        "preprocess": {key: getattr(spec, key) for key in MODEL_INPUT_KEYS},
        "file_bytes": model_file.stat().st_size,
        "sha256": sha256_file(model_file),
        "valid_accuracy": reports["valid_majority"]["accuracy"],
        "test_accuracy": reports["test_majority"]["accuracy"],
        "test_macro_f1": reports["test_majority"]["macro_f1"],
        "test_all_faces_accuracy": reports["test_all_faces"]["accuracy"],
        "per_class_recall": {
            k: v["recall"] for k, v in reports["test_majority"]["per_class"].items()
        },
        "reports": reports,
        "training": {
            "command": config_to_command(record["config"]),
            "setup": setup or [],
            "seed": record["config"]["seed"],
            "out": record["config"]["out"],
            "epochs_run": len(record["epochs"]),
            "wall_seconds": record["wall_seconds"],
            "hardware": f"{hardware['cpus']} CPU cores ({hardware['machine']}), no GPU",
            "versions": record["versions"],
            "data_fingerprint": record["data"]["fingerprint"],
            "distillation": record.get("distillation"),
            "notes": notes,
        },
        "history": history,
        "date": time.strftime("%Y-%m-%d"),
        "protocol": "FER+ majority (FERPlus reference rule), FER2013Test 3,137 images",
    }
    (staged / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
    (staged / f"{name}.md").write_text(render_markdown(card))
    return card
