"""The FER+ faces the package ships, so that `emoedge export` works where FER+ is not.

An int8 export needs calibration images and its parity check needs labelled faces,
and a user's machine has no FER+. `assets/ferplus_sample.npz` holds a small
class-balanced slice of FER+ (majority protocol) as stored: 48x48 uint8 gray, before
any model's preprocessing, so one sample serves every model and input size.

- calibration: 16 faces per class from FER2013Train, 128 in all. Calibrated on
  exactly these, zoo:mini_xception's int8 lost 0.03-0.25 point on all 3,191 FER+
  valid images, against -0.28 to 0.47 on the default 2,000 from FER+ train
  (benchmarks/results/calibration_sample_2026-12-02.md);
- parity: 8 faces per class from FER2013Valid, 64 in all: enough to see that the
  built model answers as the float one does (top-1 agreement), far too few for an
  accuracy figure, so an export on it says accuracy was not measured.

`make_sample` remakes it from a FER+ root, the same for the same seed
(`benchmarks/make_ferplus_sample.py`; the card next to the file says how).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emoedge.data.faceset import FaceSet, balanced_sample
from emoedge.data.ferplus import SPLITS, load_ferplus, vote_distribution
from emoedge.errors import UserInputError
from emoedge.labels import EMOTIONS, NUM_CLASSES

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
SAMPLE_FILE = ASSETS_DIR / "ferplus_sample.npz"
CARD_FILE = ASSETS_DIR / "ferplus_sample.md"
SAMPLE_SEED = 0
PROTOCOL = "majority"
#: part -> (FER+ split it comes from, faces per class)
PARTS: dict[str, tuple[str, int]] = {"calibration": ("train", 16), "parity": ("valid", 8)}
REMAKE_COMMAND = "python benchmarks/make_ferplus_sample.py --data ../shared/datasets/ferplus"
#: a fixed time stamp for the archive's members, so a remade file is the same bytes
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class FerplusSample:
    """The shipped faces, as the `FaceSet`s every consumer takes."""

    calibration: FaceSet
    parity: FaceSet
    meta: dict[str, Any]


def describe_part(part: str, meta: dict[str, Any]) -> str:
    """How a manifest names a part: which file, split, protocol and draw, so a build
    says it was made without FER+ and from what."""
    info = meta["parts"][part]
    return (
        f"emoedge FER+ sample ({SAMPLE_FILE.name}: {SPLITS[info['split']]}, "
        f"{meta['protocol']} protocol, {info['per_class']} per class, seed {meta['seed']})"
    )


def make_sample(root: str | Path, seed: int = SAMPLE_SEED) -> dict[str, np.ndarray]:
    """The arrays of the sample file, drawn from a FER+ root.

    The draw is `balanced_sample`'s, the one `CalibrationSet.from_ferplus` makes:
    the calibration part is what an export with `--data ROOT --calibration-size 128`
    calibrates on, so the drop measured that way is the shipped sample's.
    """
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {
        "seed": seed,
        "protocol": PROTOCOL,
        "labels": list(EMOTIONS),
        "command": REMAKE_COMMAND,
        "parts": {},
    }
    for part, (split, per_class) in PARTS.items():
        faces = load_ferplus(root, split, PROTOCOL)
        index = balanced_sample(faces.labels, per_class * NUM_CLASSES, seed=seed)
        counts = np.bincount(faces.labels[index], minlength=NUM_CLASSES)
        if counts.min() < per_class:
            raise UserInputError(
                f"{root}: FER+ {split} has too few faces of some class for {per_class} per "
                f"class (counts {counts.tolist()}); is it the full dataset?"
            )
        arrays[f"{part}_images"] = np.asarray(faces.images[index], dtype=np.uint8)
        arrays[f"{part}_labels"] = faces.labels[index].astype(np.uint8)
        arrays[f"{part}_votes"] = faces.extra["votes"][index].astype(np.uint8)
        arrays[f"{part}_names"] = np.array([f"{SPLITS[split]}/{faces.names[i]}" for i in index])
        meta["parts"][part] = {
            "split": split,
            "per_class": per_class,
            "images": len(index),
            "label_csv_fingerprint": faces.extra["fingerprint"],
        }
    arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
    return arrays


def write_sample(arrays: dict[str, np.ndarray], path: str | Path = SAMPLE_FILE) -> Path:
    """Write the arrays as a compressed .npz that `np.load` reads.

    Not `np.savez_compressed`: it stamps each member with the current time, so every
    remake would be a new binary in git; here equal arrays give equal bytes.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asanyarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())
    tmp.replace(path)
    return path


def load_sample(path: str | Path = SAMPLE_FILE) -> FerplusSample:
    """The shipped sample (or another file `write_sample` wrote)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise UserInputError(
            f"{path}: the FER+ sample emoedge ships is missing or unreadable ({exc}); "
            "reinstall emoedge, or give a FER+ root with --data"
        ) from None
    meta = json.loads(str(arrays["meta"]))
    parts = {
        part: FaceSet(
            images=arrays[f"{part}_images"],
            labels=arrays[f"{part}_labels"].astype(np.int64),
            soft_targets=vote_distribution(arrays[f"{part}_votes"].astype(np.int32)),
            names=arrays[f"{part}_names"].tolist(),
            source=describe_part(part, meta),
        )
        for part in PARTS
    }
    return FerplusSample(calibration=parts["calibration"], parity=parts["parity"], meta=meta)


__all__ = [
    "CARD_FILE",
    "PARTS",
    "REMAKE_COMMAND",
    "SAMPLE_FILE",
    "FerplusSample",
    "describe_part",
    "load_sample",
    "make_sample",
    "write_sample",
]
