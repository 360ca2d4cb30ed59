"""The fit loop: data in, best checkpoint and a run record out.

A run folder holds `model.keras` (best on validation), `last.keras`,
`preprocess.json` (how its models are fed, read wherever they are loaded),
`backup/` (Keras BackupAndRestore state, so `--resume` continues an interrupted
run where it stopped), `history.csv` and `run.json`. Nothing is lost when a run dies: the
best checkpoint is written every time validation improves.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emoedge.data.faceset import FaceSet
from emoedge.data.preprocess import PreprocessSpec
from emoedge.labels import EMOTIONS, NUM_CLASSES
from emoedge.tf_env import import_tf
from emoedge.training.augment import augment_policy
from emoedge.training.config import TrainConfig
from emoedge.training.losses import class_weights, make_loss
from emoedge.versions import installed_versions

log = logging.getLogger(__name__)


# What a run leaves that a new run in the same folder would mix with its own: an
# interrupted second run would pair its one-epoch model.keras with the first
# run's run.json, and `models publish` would take the pair.
RUN_OUTPUTS = ("run.json", "model.keras", "last.keras", "history.csv", "backup")


def claim_run_folder(out: Path, resume: bool, force: bool) -> None:
    """Refuse to start a new run over a previous one unless told to (`--force`).

    Checked before any data is read. With `force`, the previous run's outputs are
    removed first, so nothing of it survives beside the new run's; the teacher
    cache stays (its key names the teachers and the images).
    """
    from emoedge.errors import UserInputError

    if resume:
        return
    previous = [name for name in RUN_OUTPUTS if (out / name).exists()]
    if not previous:
        return
    if not force:
        raise UserInputError(
            f"{out} already holds a training run ({', '.join(previous)}): --resume "
            "continues it, --force starts over in it, or give another --out"
        )
    import shutil

    for name in previous:
        path = out / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    log.info("--force: removed the previous run's %s from %s", ", ".join(previous), out)


@dataclass
class TrainResult:
    model_path: Path
    record_path: Path
    best_val_accuracy: float
    epochs_run: int
    wall_seconds: float


def load_training_data(config: TrainConfig) -> tuple[FaceSet, FaceSet]:
    """Train and validation sets for the config's data format."""
    from emoedge.data.location import check_data_format

    if check_data_format(config.data_format) == "ferplus":
        from emoedge.data.ferplus import load_ferplus

        train = load_ferplus(config.data, "train", "majority")
        valid = load_ferplus(config.data, "valid", "majority")
    else:  # the two folder layouts: face crops, or photos whose largest face is cut out
        from emoedge.data.folders import load_folder_split

        photos = config.data_format == "photos"
        train, valid = load_folder_split(config.data, seed=config.seed, photos=photos)
    return train.limit(config.limit, config.seed), valid.limit(config.valid_limit, config.seed)


def _fine_tunes_a_model(config: TrainConfig) -> bool:
    return bool(config.init_from) and (
        config.init_from.endswith(".keras") or config.init_from.startswith("zoo:")
    )


def _preprocess_spec(config: TrainConfig) -> PreprocessSpec:
    """A fine-tuned model keeps how it was fed (read from the JSON beside it, as
    everywhere else): feeding zoo:mini_xception's 48x48 with the registry's default
    64x64 would fail deep inside Keras. `--input-size` on a fine-tuned model resizes
    it (progressive resizing) and keeps the rest of its preprocessing. A new model
    takes the registry's default, or `--input-size`."""
    from emoedge.models import get_spec

    if _fine_tunes_a_model(config):
        from emoedge.models.zoo import model_preprocess_spec

        stated = model_preprocess_spec(config.init_from)
        if config.input_size in (None, stated.height):
            return stated
        return dataclasses.replace(stated, height=config.input_size, width=config.input_size)
    base = get_spec(config.model).default_input
    if config.input_size is None:
        return base
    return PreprocessSpec(
        config.input_size, config.input_size, base.channels, base.scale, base.margin
    )


def _build_or_init(config: TrainConfig, spec: PreprocessSpec):

    from emoedge.models import build_model

    if _fine_tunes_a_model(config):
        from emoedge.models import with_input_size
        from emoedge.models.zoo import load_keras_model

        log.info("fine-tuning %s", config.init_from)
        model = load_keras_model(config.init_from)
        if tuple(model.input_shape[1:3]) != (spec.height, spec.width):
            log.info(
                "resizing its input from %dx%d to %dx%d",
                *model.input_shape[1:3],
                spec.height,
                spec.width,
            )
            model = with_input_size(model, spec.height, spec.width)
        return model
    model = build_model(config.model, input_size=spec.height, **config.model_options)
    if config.init_from:
        from emoedge.models.mini_xception import load_fer2013_weights

        count = load_fer2013_weights(model, config.init_from)
        log.info("initialised %d layers from %s", count, config.init_from)
    return model


def _dataset(tf, x, y, w, config: TrainConfig, training: bool, value_range):
    ds = tf.data.Dataset.from_tensor_slices((x, y, w))
    if training:
        ds = ds.shuffle(min(len(x), 30000), seed=config.seed, reshuffle_each_iteration=True)
    ds = ds.batch(config.batch_size)
    policy = augment_policy(config.augment) if training else None
    if policy is not None:
        from emoedge.training.augment import make_augmenter

        augmenter = make_augmenter(policy, config.seed, value_range)
        ds = ds.map(lambda a, b, c: (augmenter(a), b, c), num_parallel_calls=tf.data.AUTOTUNE)
    if training and config.mixup > 0:
        alpha = config.mixup

        def mix(a, b, c):
            gamma1 = tf.random.gamma([tf.shape(a)[0]], alpha)
            gamma2 = tf.random.gamma([tf.shape(a)[0]], alpha)
            lam = gamma1 / (gamma1 + gamma2)
            perm = tf.random.shuffle(tf.range(tf.shape(a)[0]))
            lam_x = tf.reshape(lam, [-1, 1, 1, 1])
            lam_y = tf.reshape(lam, [-1, 1])
            return (
                lam_x * a + (1 - lam_x) * tf.gather(a, perm),
                lam_y * b + (1 - lam_y) * tf.gather(b, perm),
                c,
            )

        ds = ds.map(mix, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _epoch_timer(keras, train_images: int):
    """Adds each epoch's wall time (training and validation) and training images per
    second to the logs, so history.csv and run.json carry the throughput."""

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:
                seconds = time.perf_counter() - self._started
                logs["epoch_seconds"] = round(seconds, 2)
                logs["images_per_second"] = round(train_images / seconds, 1)

    return EpochTimer()


def fit(
    config: TrainConfig,
    callbacks: list | None = None,
    on_data: Callable[[FaceSet, FaceSet], None] | None = None,
    on_teacher_progress: Callable[[int, int], None] | None = None,
) -> TrainResult:
    """Train one model as `config` says; extra Keras callbacks (progress display) go in
    `callbacks`; `on_teacher_progress(done, total)` follows the teachers' scoring pass."""
    config.validate()
    tf = import_tf(config.threads, onednn=config.onednn)
    import keras

    if config.precision != "float32":
        keras.mixed_precision.set_global_policy(config.precision)

    keras.utils.set_random_seed(config.seed)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)

    spec = _preprocess_spec(config)  # a wrong --input-size fails before data is read
    train, valid = load_training_data(config)
    if on_data:
        on_data(train, valid)
    # Beside the checkpoints from the start, so that every model this run writes, an
    # interrupted run's included, says how it is fed (`model_preprocess_spec`).
    (out / "preprocess.json").write_text(json.dumps({"preprocess": spec.to_dict()}, indent=2))
    x_train, x_valid = train.to_inputs(spec), valid.to_inputs(spec)
    if config.loss == "soft_ce":
        y_train = train.soft_targets
    else:
        y_train = np.eye(NUM_CLASSES, dtype=np.float32)[train.labels]
    distillation = None
    if config.teachers:
        from emoedge.training.distill import (
            blend_targets,
            describe_teachers,
            teacher_probabilities,
        )

        teachers = describe_teachers(config.teachers)
        teacher = _cached_teacher_probabilities(
            out,
            teachers,
            train,
            lambda: teacher_probabilities(config.teachers, train, progress=on_teacher_progress),
        )
        y_train = blend_targets(y_train, teacher, config.teacher_weight)
        distillation = {
            "teachers": teachers,
            "weight": config.teacher_weight,
            "teacher_train_accuracy": float((teacher.argmax(1) == train.labels).mean()),
        }
    y_valid = np.eye(NUM_CLASSES, dtype=np.float32)[valid.labels]
    weights = class_weights(train.labels, config.class_weighting)
    w_train = weights[train.labels]
    w_valid = np.ones(len(valid), dtype=np.float32)
    value_range = (-1.0, 1.0) if spec.scale == "symmetric" else (0.0, 1.0)
    train_ds = _dataset(tf, x_train, y_train, w_train, config, True, value_range)
    valid_ds = _dataset(tf, x_valid, y_valid, w_valid, config, False, value_range)

    model = _build_or_init(config, spec)
    optimizer = (
        keras.optimizers.AdamW(config.learning_rate, weight_decay=config.weight_decay)
        if config.weight_decay
        else keras.optimizers.Adam(config.learning_rate)
    )
    model.compile(
        optimizer=optimizer,
        loss=make_loss(config.loss, config.label_smoothing),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        jit_compile=config.jit_compile,
    )

    def schedule(epoch: int, _lr: float) -> float:
        if epoch < config.warmup_epochs:
            return config.learning_rate * (epoch + 1) / (config.warmup_epochs + 1)
        progress = (epoch - config.warmup_epochs) / max(1, config.epochs - config.warmup_epochs)
        return config.learning_rate * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress)))

    best_path = out / "model.keras"
    backup_dir = out / "backup"
    if not config.resume and backup_dir.exists():
        # callers of fit() other than the CLI (which claims the folder first):
        # a stale backup would be restored into a run meant to start afresh
        import shutil

        shutil.rmtree(backup_dir)
    if config.resume and not backup_dir.exists():
        # a mistyped --out would otherwise restart a long run from epoch 1 unnoticed
        log.warning("--resume: no backup in %s (nothing to resume); starting at epoch 1", out)
    all_callbacks = [
        # first, so every later callback (CSVLogger) sees its figures in the logs
        _epoch_timer(keras, len(x_train)),
        # kept after the run ends, so `--resume --epochs N` can also extend a finished run
        keras.callbacks.BackupAndRestore(str(backup_dir), delete_checkpoint=False),
        keras.callbacks.LearningRateScheduler(schedule),
        keras.callbacks.ModelCheckpoint(
            str(best_path),
            monitor="val_accuracy",
            mode="max",
            save_best_only=True,
            # a resumed run must beat the best epoch before the interruption, or its
            # first epoch would overwrite model.keras with a worse one
            initial_value_threshold=_best_so_far(out / "history.csv") if config.resume else None,
        ),
        keras.callbacks.ModelCheckpoint(str(out / "last.keras")),
        keras.callbacks.EarlyStopping(
            monitor="val_accuracy", mode="max", patience=config.patience, restore_best_weights=False
        ),
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=config.resume),
        *(callbacks or []),
    ]
    started = time.time()
    # shuffle=False: the dataset reshuffles itself each epoch (seeded); Keras
    # only warns that it cannot shuffle a tf.data pipeline.
    history = model.fit(
        train_ds,
        validation_data=valid_ds,
        epochs=config.epochs,
        callbacks=all_callbacks,
        verbose=0,
        shuffle=False,
    )
    wall = time.time() - started

    epochs = _read_history(out / "history.csv")
    best = max((e.get("val_accuracy", 0.0) for e in epochs), default=0.0)
    from emoedge.models import count_macs

    best_model = keras.models.load_model(best_path, compile=False)
    record = {
        "kind": "emoedge.train_run",
        "config": config.to_dict(),
        "preprocess": spec.to_dict(),
        "labels": list(EMOTIONS),
        "data": {
            "source": train.source,
            "fingerprint": train.extra.get("fingerprint"),
            "train_images": len(train),
            "valid_images": len(valid),
            "train_class_counts": train.class_counts(),
        },
        "model": {"parameters": int(best_model.count_params()), "macs": count_macs(best_model)},
        "distillation": distillation,
        "epochs": epochs,
        "best_val_accuracy": best,
        "wall_seconds": round(wall, 1),
        "hardware": {
            "machine": platform.machine(),
            "processor": platform.processor(),
            "cpus": _cpu_count(),
        },
        "versions": installed_versions(
            ("emoedge", "tensorflow", "keras", "numpy", "opencv-python-headless"), python=True
        ),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    record_path = out / "run.json"
    record_path.write_text(json.dumps(record, indent=2))
    del history
    return TrainResult(best_path, record_path, best, len(epochs), wall)


def _cached_teacher_probabilities(out: Path, teachers: list[dict], train: FaceSet, compute):
    """The teachers' probabilities, kept in the run folder: scoring 25k faces twice
    (with flips) costs minutes, and `--resume` would otherwise pay it again. The
    cache is keyed by the teachers' checksums, the data's fingerprint and the
    training images themselves, in order: the fingerprint is the whole split's
    (a `--limit` subset with another seed shares it) and folder data has none."""
    import hashlib

    names = hashlib.sha256("\n".join(map(str, train.names)).encode()).hexdigest()
    key = json.dumps(
        {
            "teachers": [t["sha256"] for t in teachers],
            "data": train.extra.get("fingerprint"),
            "images": len(train),
            "names": names,
        },
        sort_keys=True,
    )
    path = out / "teacher_probabilities.npz"
    if path.is_file():
        with np.load(path) as cached:
            if str(cached["key"]) == key:
                log.info("teachers' probabilities from %s", path)
                return cached["probabilities"]
    probabilities = compute()
    np.savez(path, key=key, probabilities=probabilities)
    return probabilities


def _best_so_far(history: Path) -> float | None:
    scores = [e["val_accuracy"] for e in _read_history(history) if "val_accuracy" in e]
    return max(scores) if scores else None


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _read_history(path: Path) -> list[dict]:
    import csv

    if not path.is_file():
        return []
    with path.open() as handle:
        return [
            {k: float(v) for k, v in row.items() if v not in ("", None)}
            for row in csv.DictReader(handle)
        ]
