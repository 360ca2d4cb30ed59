"""`emoedge export`: quantize a float model and write a build folder for one target."""

from __future__ import annotations

from pathlib import Path

import typer

from emoedge.cli import app
from emoedge.cli.common import check_output, console, out, user_errors
from emoedge.data.location import DATA_ENV
from emoedge.export import DEFAULT_MAX_DROP, DEFAULT_VALIDATION_SIZE
from emoedge.models.zoo import DEFAULT_MODEL
from emoedge.quantization.base import DEFAULT_CALIBRATION_SIZE
from emoedge.targets.profiles import PROFILES

#: one line per target, from the profiles themselves
TARGET_TABLE = "\n".join(
    f"{name:<7} {profile.description} (precisions: {', '.join(profile.precisions)})"
    for name, profile in PROFILES.items()
)


@app.command(
    "export",
    help=f"""Quantize a float model and write a build folder for a device.

\b
{TARGET_TABLE}

The build holds the model file(s), the face detector's model, manifest.json
(labels, preprocessing, quantization, runtime settings, sha256 of every file,
float and quantized accuracy) and a README for the device. With --data,
calibration uses a class-balanced sample of FER+ train and the parity gate runs
the built model in its real runtime on FER+ valid, failing when accuracy drops
more than --max-drop points. Without it, the FER+ sample the package ships (a few
train and valid faces per class) calibrates and checks that the built model agrees with the
float one; accuracy is then not measured, and the build says so. Examples:

\b
  emoedge export --target rpi
  emoedge export --target rpi --model zoo:mini_xception --data ../shared/datasets/ferplus
  (without --model: {DEFAULT_MODEL})
""",
)
@user_errors
def export_command(
    target: str = typer.Option(
        ..., "--target", "-t", help=f"Device profile: {', '.join(PROFILES)}."
    ),
    model: str = typer.Option(
        DEFAULT_MODEL, "--model", "-m", help="Float model: a .keras file or zoo:<name>."
    ),
    precision: str = typer.Option(
        None, "--precision", "-p", help="int8, fp16 or fp32 (default: the target's, int8)."
    ),
    out_dir: Path = typer.Option(
        None,
        "--out",
        "-o",
        help="Build folder to create (default builds/<model>-<target>-<precision>).",
    ),
    data: Path = typer.Option(
        None,
        "--data",
        envvar=DATA_ENV,
        help="FER+ root: calibration from train, accuracy gate on valid "
        "(default: the package's FER+ sample, accuracy not measured).",
    ),
    calibration: Path = typer.Option(
        None, "--calibration", help="A folder of face crops to calibrate on instead of FER+ train."
    ),
    calibration_photos: bool = typer.Option(
        False,
        "--calibration-photos",
        help="--calibration holds photos, not crops: the largest face of each is found and "
        "cropped as `emoedge run` crops it (photos without a face are left out).",
    ),
    calibration_size: int = typer.Option(
        DEFAULT_CALIBRATION_SIZE,
        "--calibration-size",
        min=1,
        help="Calibration images (class-balanced).",
    ),
    validation_size: int = typer.Option(
        DEFAULT_VALIDATION_SIZE,
        "--validation-size",
        min=0,
        help="FER+ valid images for the parity check (0: all 3,191).",
    ),
    max_drop: float = typer.Option(
        DEFAULT_MAX_DROP, "--max-drop", help="Fail when accuracy drops more than this many points."
    ),
    allow_drop: float = typer.Option(
        None, "--allow-drop", help="Accept a drop up to this many points (recorded as an override)."
    ),
    detector: str = typer.Option(None, "--detector", help="Face detector (default: the target's)."),
    accuracy_control: bool = typer.Option(
        False,
        "--accuracy-control",
        help="x86: NNCF accuracy-controlled quantization within --max-drop.",
    ),
    per_tensor: bool = typer.Option(
        False,
        "--per-tensor",
        help="int8 weights with one scale per tensor, not per output channel: smaller "
        "files (mobilenet_v2 TFLite 0.28 of fp32 instead of 0.36), less accuracy where "
        "channels differ (benchmarks/results/quantization_granularity_*.md).",
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing build folder."),
) -> None:
    from emoedge.export import export_build

    if out_dir is not None:
        check_output(out_dir.parent, "--out")  # the build is made there, then renamed
    with console.status("exporting") as status:
        path = export_build(
            model,
            target,
            precision=precision,
            out=out_dir,
            data=data,
            calibration=calibration,
            calibration_size=calibration_size,
            calibration_photos=calibration_photos,
            validation_size=validation_size,
            allow_drop=allow_drop,
            max_drop=max_drop,
            detector=detector,
            accuracy_control=accuracy_control,
            per_channel=not per_tensor,
            force=force,
            on_step=lambda message: status.update(message),
        )
    from emoedge.targets.manifest import Build

    manifest = Build.load(path).manifest
    acc, sizes = manifest.accuracy, manifest.sizes
    out.print(f"build: {path}")
    out.print(f"format: {manifest.format} {manifest.precision}, runtime {manifest.runtime.name}")
    out.print(
        f"model size: {sizes.model_bytes:,} bytes (float .keras {sizes.float_keras_bytes:,} bytes)"
    )
    calibration = manifest.calibration
    if calibration:  # as text: rich would turn "ferplus:train:majority" into an emoji
        out.print(
            f"calibration: {calibration['images']} images, {calibration['source']}",
            markup=False,
            emoji=False,
        )
    if acc.quantized_accuracy is None:
        out.print(f"accuracy: {acc.skipped}", markup=False)
        if acc.parity:
            out.print(
                f"parity: float and {manifest.precision} agree on {acc.parity.agreement:.2%} "
                f"of {acc.parity.images} faces, {acc.parity.sample}",
                markup=False,
            )
    else:
        out.print(
            f"accuracy on {acc.images} FER+ valid images: float {acc.float_accuracy:.2%}, "
            f"{manifest.precision} {acc.quantized_accuracy:.2%}, drop {acc.drop_points:.2f} "
            f"points, agreement {acc.agreement:.2%}"
        )
