"""Real builds for the pipeline and `emoedge run` tests, made once per test process.

`emoedge.export.export_build` on the zoo model, calibrated and checked on the small
FER+ fixture in the repo (the placeholder model's accuracy is not the point here,
so the accuracy gate is relaxed).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

FIXTURES = Path(__file__).parent / "fixtures"
WILD_IMAGES = FIXTURES / "wild" / "images"
_BUILDS: dict[str, Path] = {}


def export_builds(
    root: Path, targets: tuple[str, ...] = ("rpi", "x86", "jetson")
) -> dict[str, Path]:
    from emoedge.export import export_build

    for target in targets:
        if target not in _BUILDS:
            _BUILDS[target] = export_build(
                "zoo:mini_xception",
                target,
                out=root / f"mini_xception-{target}",
                data=FIXTURES / "ferplus",
                calibration_size=48,
                validation_size=48,
                allow_drop=100.0,
            )
    return {t: _BUILDS[t] for t in targets}


def write_video(path: Path, hold: int = 3, fps: float = 10.0) -> Path:
    """The wild fixture photos as an mp4v video, each photo held for `hold` frames."""
    photos = sorted(WILD_IMAGES.glob("*.jpg"))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (350, 350))
    for photo in photos:
        image = cv2.imread(str(photo), cv2.IMREAD_COLOR)
        for _ in range(hold):
            writer.write(image)
    writer.release()
    return path


def distant_faces_frame() -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The fixture photos at 180 px on a 1280x720 gray frame (six people far from the
    camera), and where each face's centre is."""
    frame = np.full((720, 1280, 3), 110, np.uint8)
    centres = []
    for i, path in enumerate(sorted(WILD_IMAGES.glob("*.jpg"))):
        photo = cv2.resize(cv2.imread(str(path), cv2.IMREAD_COLOR), (180, 180))
        x, y = 60 + (i % 3) * 420, 110 + (i // 3) * 330
        frame[y : y + 180, x : x + 180] = photo
        centres.append((x + 90, y + 90))
    return frame, centres
