"""The model zoo: trained float models that ship inside the package, each with a card.

`<name>.keras` is the model, `<name>.json` the card's figures (read by
`emoedge models list`), `<name>.md` the card itself. Every command that takes a
model accepts `zoo:<name>`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from emoedge.errors import ModelFileError, UserInputError

ZOO_DIR = Path(__file__).resolve().parent
PREFIX = "zoo:"


@dataclass(frozen=True)
class ZooEntry:
    name: str
    model_path: Path
    card_path: Path
    card: dict


def zoo_entries() -> list[ZooEntry]:
    entries = []
    for model_path in sorted(ZOO_DIR.glob("*.keras")):
        card_json = model_path.with_suffix(".json")
        card = json.loads(card_json.read_text()) if card_json.is_file() else {}
        entries.append(ZooEntry(model_path.stem, model_path, model_path.with_suffix(".md"), card))
    return entries


def zoo_entry(name: str) -> ZooEntry:
    for entry in zoo_entries():
        if entry.name == name:
            return entry
    known = ", ".join(e.name for e in zoo_entries()) or "none shipped"
    raise UserInputError(f"no zoo model {name!r}; the zoo has: {known}")


def resolve_model_path(ref: str | Path) -> Path:
    """A `zoo:<name>` reference or a file path, checked to exist."""
    text = str(ref)
    if text.startswith(PREFIX):
        return zoo_entry(text[len(PREFIX) :]).model_path
    path = Path(text)
    if not path.is_file():
        raise ModelFileError(f"{path}: model file not found (give a path or zoo:<name>)")
    return path


def load_keras_model(ref: str | Path):
    """Load a float Keras model from a path or zoo reference, with a clear error if corrupt."""
    from emoedge.keras_files import check_keras_archive
    from emoedge.tf_env import import_tf

    path = resolve_model_path(ref)
    check_keras_archive(path)  # Keras calls a corrupt .keras "File not found: ..."
    import_tf()
    import keras

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises zipfile, OSError, ValueError... for bad files
        raise ModelFileError(
            f"{path}: not a loadable Keras model ({type(exc).__name__}: {exc})"
        ) from exc
