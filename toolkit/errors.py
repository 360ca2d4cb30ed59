"""Exceptions that library code raises instead of exiting or printing.

The CLI turns a `UserInputError` into one clear line and a non-zero exit with no
traceback; anything else is a bug and keeps its traceback.
"""

from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")


class EmoedgeError(Exception):
    """Base class of every error emoedge raises on purpose."""


class UserInputError(EmoedgeError):
    """Bad input from the user: a missing file, a malformed CSV, an unknown name."""


class ModelFileError(UserInputError):
    """A model file that is missing, truncated or not what its name says."""


class ManifestError(UserInputError):
    """A build whose manifest is missing, malformed or disagrees with its files."""


class AccuracyGateError(EmoedgeError):
    """A quantized model lost more accuracy than the export allows."""


def pick(table: Mapping[str, T], name: str, kind: str) -> T:
    """`table[name]`, or the one "unknown <kind>" error, naming what there is to pick
    (targets, formats, registries alike)."""
    try:
        return table[name]
    except KeyError:
        raise UserInputError(
            f"unknown {kind} {name!r}; expected one of: {', '.join(table)}"
        ) from None
