"""Where the commands look for FER+ when no `--data` is given.

One default and one environment variable for every command that reads FER+
(evaluate, train, compare, bench, export, models publish), so that pointing them
all at a dataset is one setting, and a missing dataset is explained the same way
everywhere. Light on purpose (no OpenCV, no numpy): the CLI reads it at start-up.
"""

from __future__ import annotations

from pathlib import Path

from emoedge.errors import UserInputError

#: the variable that points every command at a FER+ root
DATA_ENV = "EMOEDGE_DATA"
#: the project's shared datasets as seen from a checkout's root (`../shared/datasets/`)
DEFAULT_FERPLUS = Path("../shared/datasets/ferplus")
#: the layouts `--format` names, read by train and evaluate (help and checks)
DATA_FORMATS = {
    "ferplus": "the FERPlus layout",
    "folders": "root/<emotion>/*.png, face crops",
    "photos": "root/<emotion>/ photos: the largest face of each is found and cropped "
    "as `emoedge run` crops it",
}
#: what a FER+ root holds, for the messages that say how to point at one
FERPLUS_LAYOUT = "FER2013Train, FER2013Valid, FER2013Test, each with label.csv and its PNGs"


def data_format_help() -> str:
    return " | ".join(f"{name} ({what})" for name, what in DATA_FORMATS.items())


def check_data_format(name: str) -> str:
    if name not in DATA_FORMATS:
        raise UserInputError(f"unknown data format {name!r}: use one of {', '.join(DATA_FORMATS)}")
    return name


def missing_dataset(root: str | Path) -> UserInputError:
    """The one line for a FER+ root that is not there: a user who never passed
    `--data` learns where the default points and how to change it, instead of a
    bare "not found" for a path they never typed."""
    root = Path(root)
    where = " (the default location)" if root == DEFAULT_FERPLUS else ""
    return UserInputError(
        f"{root}: dataset folder not found{where}; point --data or {DATA_ENV} "
        f"at a FER+ root ({FERPLUS_LAYOUT})"
    )
