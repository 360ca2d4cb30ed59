"""Each build's predictions on all of FER+ valid (majority protocol), hashed, to show
two builds are the same where the converter does not write the same bytes twice.

    python benchmarks/build_predictions.py BUILD [BUILD ...] [--data FER+ root]

Prints, per build, accuracy, a sha256 of the argmax labels and of the float32
probabilities, and the first 16 hex digits of each file's sha256.
"""

import argparse
import hashlib
import json
import os

import numpy as np

from emoedge.data.ferplus import load_ferplus
from emoedge.data.location import DATA_ENV, DEFAULT_FERPLUS
from emoedge.targets.manifest import Build
from emoedge.targets.runtimes import load_runtime

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("builds", nargs="+")
parser.add_argument(
    "--data", default=os.environ.get(DATA_ENV, str(DEFAULT_FERPLUS)), help="FER+ root"
)
args = parser.parse_args()
faces = load_ferplus(args.data, "valid", "majority")
out = {}
for path in args.builds:
    build = Build.load(path)
    runtime = load_runtime(build, threads=1)
    inputs = faces.to_inputs(build.preprocess)
    probs = np.concatenate(
        [runtime.predict(inputs[i : i + 256]) for i in range(0, len(inputs), 256)]
    )
    pred = probs.argmax(1)
    out[path] = {
        "images": len(pred),
        "accuracy": float((pred == faces.labels).mean()),
        "argmax_sha256": hashlib.sha256(pred.astype(np.int8).tobytes()).hexdigest()[:16],
        "probs_sha256": hashlib.sha256(probs.astype(np.float32).tobytes()).hexdigest()[:16],
        "files": {r: e.sha256[:16] for r, e in build.files.items()},
    }
print(json.dumps(out, indent=1))
