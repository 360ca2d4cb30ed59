"""How FER+ frames a face, measured with the detector the pipeline uses.

A crop the classifier sees on a device should frame the face as the FER+ images
it was trained on do. FER2013's registration is not documented beyond "roughly
centred", so it is measured: the default detector (BlazeFace short range int8,
its default 10% border) runs on FER+ training images upscaled from 48 to 192 px,
and for every image where it finds a face we take the box's side as a share of
the image side and where the box centre sits. The crop that frames a detector box
as FER+ does is then (`emoedge.data.preprocess.FERPLUS_MARGIN`/`FERPLUS_SHIFT`):

    margin = (median(image side / box side) - 1) / 2      on each side
    shift  = median((box centre y - image centre y) / box side)   crop moved up

    python benchmarks/ferplus_framing.py [--data ../shared/datasets/ferplus] [--every 14] [--limit 2000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import cv2
import numpy as np
from reports import write_report  # same folder: run as a script

from emoedge.data.preprocess import FERPLUS_MARGIN, FERPLUS_SHIFT
from emoedge.targets.detectors import make_detector

UPSCALED = 192


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets/ferplus"))
    parser.add_argument("--every", type=int, default=14, help="every Nth training image by name")
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args(argv)
    root = args.data / "FER2013Train"
    names = sorted(p.name for p in root.glob("*.png"))[:: args.every][: args.limit]
    if not names:
        print(f"no FER+ training images under {root}", file=sys.stderr)
        return 2
    detector = make_detector("blazeface")
    rows = []
    for name in names:
        image = cv2.imread(str(root / name), cv2.IMREAD_GRAYSCALE)
        big = cv2.resize(image, (UPSCALED, UPSCALED), interpolation=cv2.INTER_LINEAR)
        found, _ = detector.candidates(big)
        if len(found):
            x0, y0, x1, y1 = found[0, :4] / UPSCALED
            side = ((x1 - x0) + (y1 - y0)) / 2
            rows.append((side, (x0 + x1) / 2, (y0 + y1) / 2))
    a = np.array(rows)
    side, cx, cy = a[:, 0], a[:, 1], a[:, 2]
    ratio = 1.0 / side
    margin = (float(np.median(ratio)) - 1.0) / 2.0
    shift = float(np.median((cy - 0.5) / side))
    shift_x = float(np.median((cx - 0.5) / side))

    def pct(values: np.ndarray) -> str:
        return " | ".join(f"{v:.3f}" for v in np.percentile(values, [10, 25, 50, 75, 90]))

    today = dt.date.today().isoformat()
    lines = [
        f"# FER+ face framing, measured with the default detector ({today})",
        "",
        f"Command: `python benchmarks/ferplus_framing.py --data {args.data} "
        f"--every {args.every} --limit {args.limit}`",
        "",
        f"{len(names)} FER+ training images (every {args.every}th by name), upscaled 48 -> "
        f"{UPSCALED} px (bilinear), detector `{detector.label}` (BlazeFace short range int8,",
        f"10% border). A face found in {len(rows)} ({len(rows) / len(names):.1%}); the first box",
        "of each, in units of the image side:",
        "",
        "| quantity | p10 | p25 | median | p75 | p90 |",
        "|---|---|---|---|---|---|",
        f"| box side / image side | {pct(side)} |",
        f"| image side / box side | {pct(ratio)} |",
        f"| box centre x (0.5 = image centre) | {pct(cx)} |",
        f"| box centre y | {pct(cy)} |",
        f"| (box centre y - 0.5) / box side | {pct((cy - 0.5) / side)} |",
        "",
        f"So a FER+ image is the box widened by {margin:.3f} of its side on each side, its",
        f"centre {shift:.3f} box sides above the box centre (horizontally {shift_x:+.3f}: centred).",
        f"The package states it once, rounded: FERPLUS_MARGIN = {FERPLUS_MARGIN},",
        f"FERPLUS_SHIFT = {FERPLUS_SHIFT} (`toolkit/data/preprocess.py`). Before this, crops",
        "were the box plus 10% on each side, centred on the box: 5% wider, and 0.09 box sides",
        "lower (less forehead and hair, more below the chin) than FER+'s faces.",
        "",
        "A training run shared the machine's 2 cores (no timings here).",
    ]
    write_report(lines, args.out / f"ferplus_framing_{today}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
