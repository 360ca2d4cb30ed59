"""The model zoo: trained float models that ship inside the package, each with a card.

`<name>.keras` is the model, `<name>.json` the card's figures (read by
`emoedge models list`, and the preprocessing the model was trained with:
`model_preprocess_spec`), `<name>.md` the card itself. Every command that takes a
model accepts `zoo:<name>`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from emoedge.data.preprocess import PreprocessSpec
from emoedge.errors import ModelFileError, UserInputError

ZOO_DIR = Path(__file__).resolve().parent
PREFIX = "zoo:"
#: The model `emoedge export` builds when none is named. MobileNetV2 (width 0.5, 80x80)
#: over the 60k-parameter mini-Xception: better on FER+ valid (85.40% vs 83.17%; the zoo
#: is chosen on validation) and test (83.68% vs 80.52%), and its rpi int8 build is about
#: as fast: 8.4x vs 8.6x the `fer` peer's FPS in bench-2026-12-04's race. On wild-sample's
#: 134 photos it reads 51.5% of the largest faces right (mini_xception's build 50.7%,
#: within noise: benchmarks/results/wild_accuracy_2026-12-04.md, -03c.md).
DEFAULT_MODEL = "zoo:mobilenet_v2"


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


#: where the preprocessing of a model file is read from, beside it, in this order:
#: its own card or sidecar (`<name>.json`, what the zoo ships), then what
#: `emoedge train` writes into its run folder
PREPROCESS_SIDECARS = ("{stem}.json", "preprocess.json", "run.json")
#: what the model learned, so what its sidecar must state; how a detected face is
#: framed (margin, shift) is the training set's, FER+'s for every model here, and
#: stays `emoedge.data.preprocess`'s one measured value
MODEL_INPUT_KEYS = ("height", "width", "channels", "scale")


def model_preprocess_spec(ref: str | Path, keras_model=None) -> PreprocessSpec:
    """The preprocessing a model was trained with, read from the JSON that travels
    with it (`PREPROCESS_SIDECARS`), never guessed from its input shape: a model
    trained on 0..1 inputs and fed -1..1 would be calibrated and scored wrongly
    without an error. Refused, saying how to give it, when no sidecar states it,
    or when it disagrees with the input shape of `keras_model` (if given; pass it
    once loaded, the spec alone is read without TensorFlow)."""
    from emoedge.keras_files import check_keras_archive

    path = resolve_model_path(ref)
    check_keras_archive(path)  # a broken model file is named as such, not as unlabelled
    stated, source = None, None
    for pattern in PREPROCESS_SIDECARS:
        sidecar = path.parent / pattern.format(stem=path.stem)
        if sidecar.is_file():
            try:
                stated = json.loads(sidecar.read_text()).get("preprocess")
            except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
                raise ModelFileError(f"{sidecar}: not a JSON object ({exc})") from exc
            if stated is not None:
                source = sidecar
                break
    if not isinstance(stated, dict) or any(key not in stated for key in MODEL_INPUT_KEYS):
        example = '{"preprocess": {"height": 64, "width": 64, "channels": 1, "scale": "symmetric"}}'
        raise UserInputError(
            f"{path}: no preprocessing is recorded for this model, so it cannot be fed as it "
            f"was trained. Write {path.with_suffix('.json')} with what it was trained on, e.g. "
            f"{example} (scale: symmetric for -1..1 inputs, unit for 0..1); `emoedge train` "
            "writes it into the run folder beside model.keras"
        )
    spec = PreprocessSpec(**{key: stated[key] for key in MODEL_INPUT_KEYS})
    if keras_model is not None:
        shape = keras_model.input_shape
        shape = shape[0] if isinstance(shape, list) else shape
        taken = tuple(int(v) for v in shape[1:])
        if taken != spec.input_shape:
            raise UserInputError(
                f"{path}: the model takes {'x'.join(map(str, taken))} inputs but {source} "
                f"says {'x'.join(map(str, spec.input_shape))}"
            )
    return spec
