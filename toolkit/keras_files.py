"""What a `.keras` file has to be before Keras is handed it.

A `.keras` model is a zip archive (`config.json`, `metadata.json`,
`model.weights.h5`). Keras 3 treats a file that is not a zip as some other kind of
path and answers "File not found: filepath=..." for a file that exists, so a
corrupt or truncated download read as a mistyped path. Checking the archive first,
with the standard library and without importing TensorFlow, names the real problem.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from emoedge.errors import ModelFileError

#: the member every Keras 3 archive holds: the model's architecture
CONFIG_MEMBER = "config.json"


def check_keras_archive(path: Path) -> None:
    """Raise `ModelFileError` naming `path` when a `.keras` file is not a Keras
    archive: not a zip at all (random bytes, a cut-off download), a zip that cannot
    be read, or a zip without the model's `config.json`. Other suffixes (`.h5`) are
    left for Keras to judge."""
    path = Path(path)
    if path.suffix.lower() != ".keras":
        return
    problem = None
    if not zipfile.is_zipfile(path):
        problem = "it is not a zip file, or is a truncated one"
    else:
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError) as exc:
            problem = f"its zip cannot be read: {exc}"
        else:
            if CONFIG_MEMBER not in names:
                problem = f"the zip holds no {CONFIG_MEMBER}"
    if problem is not None:
        raise ModelFileError(
            f"{path}: not a valid .keras archive, so not a loadable Keras model "
            f"(a .keras file is a zip archive; {problem})"
        )
