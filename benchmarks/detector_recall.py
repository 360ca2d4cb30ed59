"""Face detector recall and speed on wild-sample: the numbers that chose the default.

Every wild-sample photo holds exactly one face, so:
- recall: photos where the detector returns at least one box;
- centre recall: photos with a box that covers the photo's centre (the face in
  these news photos is large and central; a box elsewhere is a false positive);
- boxes/photo: a precision proxy (1.0 is ideal; more means false positives);
- ms/frame: median wall time of `detect` on one photo, single process.

The "wide" rows put each photo in a 16:9 frame (gray bars left and right) to
show whether letterboxing (vs stretching) matters for non-square camera frames.

    python benchmarks/detector_recall.py [--data ../shared/datasets/wild-sample] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from reports import report_head, write_report  # same folder: run as a script
from wild_sample import add_sample_arguments, crowd_frame, photo_files

from emoedge.targets.detectors import make_detector

CONFIGS: list[tuple[str, str, dict]] = [
    ("haar (default)", "haar", {}),
    ("haar min_neighbors=3", "haar", {"min_neighbors": 3}),
    ("blazeface short, pad 0", "blazeface", {"variant": "short", "pad": 0.0}),
    ("blazeface short, pad 0.1", "blazeface", {"variant": "short", "pad": 0.1}),
    ("blazeface short_int8, pad 0.1 (default)", "blazeface", {"variant": "short_int8"}),
    ("blazeface short, pad 0.25", "blazeface", {"variant": "short", "pad": 0.25}),
    ("blazeface full, pad 0", "blazeface", {"variant": "full", "pad": 0.0}),
    ("blazeface full, pad 0.5", "blazeface", {"variant": "full", "pad": 0.5}),
    ("blazeface back (256 px), pad 0", "blazeface", {"variant": "back", "pad": 0.0}),
]
WIDE_CONFIGS: list[tuple[str, str, dict]] = [
    ("wide: blazeface short, pad 0.1, letterbox", "blazeface", {"variant": "short", "pad": 0.1}),
    ("wide: blazeface short_int8, pad 0.1, letterbox", "blazeface", {"variant": "short_int8"}),
    (
        "wide: blazeface short, pad 0.1, stretch",
        "blazeface",
        {"variant": "short", "pad": 0.1, "letterbox": False},
    ),
    ("wide: haar (default)", "haar", {}),
]
TILED_CONFIGS: list[tuple[str, str, dict]] = [
    (f"blazeface short_int8, pad 0.1, tiles {n}", "blazeface", {"tiles": n}) for n in (2, 3, 4)
]


def widen(image: np.ndarray) -> np.ndarray:
    """Centre a photo in a 16:9 frame with mid-gray bars."""
    height, width = image.shape[:2]
    new_w = round(height * 16 / 9)
    left = (new_w - width) // 2
    return cv2.copyMakeBorder(
        image, 0, 0, left, new_w - width - left, cv2.BORDER_CONSTANT, value=128
    )


def measure(name: str, options: dict, images: list[np.ndarray]) -> dict:
    detector = make_detector(name, **options)
    detector.detect(images[0])  # warm up
    found = central = boxes = 0
    times = []
    for image in images:
        start = time.perf_counter()
        detections = detector.detect(image)
        times.append((time.perf_counter() - start) * 1000)
        height, width = image.shape[:2]
        cx, cy = width / 2, height / 2
        found += bool(detections)
        boxes += len(detections)
        central += any(
            x <= cx <= x + w and y <= cy <= y + h for (x, y, w, h) in (d.box for d in detections)
        )
    n = len(images)
    return {
        "recall": found / n,
        "central": central / n,
        "boxes": boxes / n,
        "ms": statistics.median(times),
        "found": found,
        "n": n,
    }


def measure_crowd(name: str, options: dict, crowds: list[np.ndarray]) -> dict:
    """Faces found in crowd frames: cells of 200 px holding a box centre."""
    detector = make_detector(name, **options)
    detector.detect(crowds[0])  # warm up
    found = extra = 0
    times = []
    for crowd in crowds:
        start = time.perf_counter()
        detections = detector.detect(crowd)
        times.append((time.perf_counter() - start) * 1000)
        cells = {
            ((x + w / 2) // 200, (y + h / 2) // 200) for x, y, w, h in (d.box for d in detections)
        }
        found += len(cells)
        extra += len(detections) - len(cells)
    return {
        "found": found,
        "extra": extra,
        "faces": 30 * len(crowds),
        "ms": statistics.median(times),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_sample_arguments(parser)
    parser.add_argument(
        "--suffix", default="", help="added to the file name: a second run on the same day"
    )
    args = parser.parse_args(argv)
    files = photo_files(args.data)
    images = [cv2.imread(str(f), cv2.IMREAD_UNCHANGED) for f in files]
    wide = [widen(image) for image in images]
    rows = []
    for label, name, options in CONFIGS + TILED_CONFIGS:
        rows.append((label, measure(name, options, images)))
    for label, name, options in WIDE_CONFIGS:
        rows.append((label, measure(name, options, wide)))
    today = dt.date.today().isoformat()
    suffix = ("--suffix", args.suffix) if args.suffix else ()
    lines = [
        *report_head(
            "Face detector recall on wild-sample", today, __file__, "--data", args.data, *suffix
        ),
        f"{len(images)} photos ({sum(i.shape[:2] == (350, 350) for i in images)} at 350x350, the rest"
        " smaller tight crops), one face each, at native size. Recall = photos with at least one box;",
        "centre recall = photos with a box covering the photo centre (the face); boxes/photo is a",
        "precision proxy (1.0 ideal). ms = median `detect` time per photo on this machine",
        f"({_cpu_name()}, 2 cores shared with other jobs, LiteRT 2 threads). 'wide' rows put each",
        "photo in a 16:9 frame with gray bars.",
        "",
        "| detector | recall | centre recall | boxes/photo | ms/frame |",
        "|---|---|---|---|---|",
    ]
    for label, r in rows:
        lines.append(
            f"| {label} | {r['recall']:.1%} ({r['found']}/{r['n']}) | {r['central']:.1%} | "
            f"{r['boxes']:.2f} | {r['ms']:.1f} |"
        )
    crowds = [crowd_frame(images, start) for start in range(0, len(images) - 29, 30)]
    lines += [
        "",
        f"Crowd: {len(crowds)} frames of 1200x1000, each 30 photos resized to 200x200 and",
        f"tiled 6x5 (photos 1-30, 31-60, ...: {30 * len(crowds)} faces about 150 px wide).",
        "A face is found when a box's centre falls in its 200 px cell; extra boxes are",
        "boxes beyond one per cell (false or duplicate). ms = median per frame.",
        "",
        "| detector | faces found | extra boxes | ms/frame |",
        "|---|---|---|---|",
    ]
    for label, name, options in CONFIGS + TILED_CONFIGS:
        r = measure_crowd(name, options, crowds)
        lines.append(f"| {label} | {r['found']}/{r['faces']} | {r['extra']} | {r['ms']:.1f} |")
    lines += [
        "",
        "Choice: the default detector for every profile is BlazeFace short range with a 10% border",
        "(`blazeface`, pad 0.1), since 2026-11-27 in its int8 build (variant short_int8, shipped",
        "in targets/detectors/assets/; float vs int8: detector_int8_*.md): full recall on",
        "wild-sample at about half a millisecond per frame, about 30x faster than Haar, which",
        "misses faces that fill the frame. Letterboxing matters for non-square frames",
        "(stretching loses 7-8 points). The 128 px short range model cannot see small faces in",
        "a crowd frame in one pass; `tiles` N adds N x N overlapping tiles (1 + N^2 model",
        "calls per frame; `emoedge run --tiles N`), or the 256 px 'back' variant or Haar",
        "find them (see the crowd table).",
    ]
    write_report(lines, args.out / f"detector_recall_{today}{args.suffix}.md")
    return 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
