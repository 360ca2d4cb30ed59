"""Where emoedge keeps what it can rebuild: decoded datasets, bench builds, TensorRT engines.

One root for all of it, `EMOEDGE_CACHE` or `~/.cache/emoedge`, so a user clears
or moves the lot in one place.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """The cache root, or a folder below it (not created here)."""
    root = os.environ.get("EMOEDGE_CACHE") or Path.home() / ".cache" / "emoedge"
    return Path(root).joinpath(*parts)
