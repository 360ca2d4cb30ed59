"""Every detector side by side: Haar, BlazeFace short range (one pass and tiled),
BlazeFace full range (float and int8) and MTCNN (host only), on recall and time.

- wild-sample: 134 photos, one large face each (recall = photos with a box);
- crowd: detector_recall.py's frames of 30 faces (150 px faces in 1200x1000);
- room: each wild-sample photo at 180 px on a 1280x720 gray frame (one distant
  face, as a room camera sees a person a few metres away);
- ms: median `detect` time per frame; the detectors are timed in alternating
  rounds over the same frames, so a slow minute on this shared machine hits all.

    python benchmarks/detector_full_range.py [--data ../shared/datasets/wild-sample]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time

import cv2
import numpy as np
from reports import report_head, write_report  # same folder: run as a script
from wild_sample import add_sample_arguments, crowd_frame, photo_files

from emoedge.targets.detectors import make_detector

DETECTORS: list[tuple[str, str, dict]] = [
    ("blazeface short int8 (default)", "blazeface", {}),
    ("blazeface short int8, tiles 3", "blazeface", {"tiles": 3}),
    ("blazeface-full int8", "blazeface-full", {}),
    ("blazeface-full float (wheel's file)", "blazeface-full", {"variant": "full"}),
    ("blazeface-full int8, no border", "blazeface-full", {"pad": 0.0}),
    ("haar", "haar", {}),
    ("mtcnn (host only, TensorFlow)", "mtcnn", {}),
]
ROUNDS = 3


def room_frame(photo: np.ndarray) -> np.ndarray:
    frame = np.full((720, 1280), 110, np.uint8)
    gray = photo if photo.ndim == 2 else cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    frame[270:450, 550:730] = cv2.resize(gray, (180, 180), interpolation=cv2.INTER_AREA)
    return frame


def covers(box, cx: float, cy: float) -> bool:
    x, y, w, h = box
    return x <= cx <= x + w and y <= cy <= y + h


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_sample_arguments(parser)
    args = parser.parse_args(argv)
    files = photo_files(args.data)
    images = [cv2.imread(str(f), cv2.IMREAD_UNCHANGED) for f in files]
    crowds = [crowd_frame(images, start) for start in range(0, len(images) - 29, 30)]
    rooms = [room_frame(image) for image in images]
    detectors = {}
    for label, name, options in DETECTORS:
        try:
            detectors[label] = make_detector(name, **options)
        except Exception as exc:  # a detector this machine lacks is left out, and said so
            print(f"{label}: not available ({exc})", file=sys.stderr)

    found: dict[str, dict[str, list]] = {label: {} for label in detectors}
    times: dict[str, dict[str, list[float]]] = {label: {} for label in detectors}
    for _ in range(ROUNDS):
        for label, detector in detectors.items():
            for set_name, frames in (("wild", images), ("crowd", crowds), ("room", rooms)):
                detector.detect(frames[0])
                per_frame, results = [], []
                for frame in frames:
                    start = time.perf_counter()
                    results.append(detector.detect(frame))
                    per_frame.append((time.perf_counter() - start) * 1000)
                found[label][set_name] = results
                times[label].setdefault(set_name, []).extend(per_frame)

    today = dt.date.today().isoformat()
    lines = [
        *report_head("Face detectors side by side", today, __file__, "--data", args.data),
        f"wild: {len(images)} wild-sample photos, one face each (recall: photos with a box);",
        f"crowd: {len(crowds)} frames of 30 faces (~150 px in 1200x1000; a face is found when a",
        "box centre falls in its 200 px cell); room: each photo at 180 px in a 1280x720 frame",
        "(found: a box on the face). ms: median `detect` per frame over "
        f"{ROUNDS} alternating rounds.",
        "A training run shared the machine's 2 cores: the ms are relative, compare rows",
        "within this table. LiteRT 2 threads; Haar and MTCNN as their libraries run.",
        "",
        "| detector | wild | crowd | room | ms wild | ms crowd | ms room |",
        "|---|---|---|---|---|---|---|",
    ]
    for label in detectors:
        wild = sum(bool(r) for r in found[label]["wild"])
        crowd = sum(
            len({((x + w / 2) // 200, (y + h / 2) // 200) for x, y, w, h in (d.box for d in r)})
            for r in found[label]["crowd"]
        )
        room = sum(any(covers(d.box, 640, 360) for d in r) for r in found[label]["room"])
        ms = {k: statistics.median(v) for k, v in times[label].items()}
        lines.append(
            f"| {label} | {wild}/{len(images)} | {crowd}/{30 * len(crowds)} | "
            f"{room}/{len(rooms)} | {ms['wild']:.2f} | {ms['crowd']:.2f} | {ms['room']:.2f} |"
        )
    write_report(lines, args.out / f"detector_full_range_{today}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
