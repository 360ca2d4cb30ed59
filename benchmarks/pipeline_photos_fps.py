"""The pipeline's frames per second on a folder of photos, decoded once, for
comparing two versions of the code on the same machine (the bench's FPS also
counts decoding and is not run on an old commit's tree).

    python benchmarks/pipeline_photos_fps.py BUILD [--photos DIR] [--passes 5]
    PYTHONPATH=/tmp/base/pkg python benchmarks/pipeline_photos_fps.py OLD_BUILD  # an old tree

(`benchmarks/training_throughput.py`'s `baseline_tree` lays out an old commit as the
installed package.)
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2

from emoedge.targets.pipeline import Pipeline

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("build")
parser.add_argument("--photos", default="../shared/datasets/wild-sample/images")
parser.add_argument("--passes", type=int, default=5)
args = parser.parse_args()

frames = [cv2.imread(str(path)) for path in sorted(Path(args.photos).glob("*.jpg"))]
pipeline = Pipeline.from_build(args.build)
for frame in frames[:10]:  # warm-up
    pipeline(frame)
rates = []
for _ in range(args.passes):
    started = time.perf_counter()
    for frame in frames:
        pipeline(frame)
    rates.append(len(frames) / (time.perf_counter() - started))
print(
    f"{args.build}: {len(frames)} photos, fps per pass {' '.join(f'{r:.0f}' for r in rates)}, "
    f"median {statistics.median(rates):.0f}"
)
