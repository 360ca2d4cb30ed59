"""The FER+ emotion classes, in the column order of FERPlus `label.csv`.

Every model, manifest and report uses this order; index i of a probability vector
is `EMOTIONS[i]`.
"""

EMOTIONS: tuple[str, ...] = (
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
)
NUM_CLASSES = len(EMOTIONS)

# The 7 FER2013 classes that FER+ shares with the peer `fer` package (no contempt),
# mapped to their FER+ index; `fer` orders them angry, disgust, fear, happy, sad,
# surprise, neutral.
FER2013_TO_FERPLUS: dict[str, str] = {
    "angry": "anger",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "happiness",
    "sad": "sadness",
    "surprise": "surprise",
    "neutral": "neutral",
}


def label_index(name: str) -> int:
    """Index of an emotion name; raises a clear error for an unknown one."""
    from emoedge.errors import UserInputError

    try:
        return EMOTIONS.index(name.strip().lower())
    except ValueError:
        raise UserInputError(
            f"unknown emotion {name!r}; expected one of: {', '.join(EMOTIONS)}"
        ) from None
