"""Re-derive and re-write a saved `emoedge bench` result without measuring again.

Drops, floor ratios, the peer ratio, the goals and the Raspberry Pi 4 estimate
are computed from the measurements in bench.json (emoedge.bench.derive); after a
change to those rules (or to the Pi 4 assumptions in emoedge.bench.floor), run:

    python benchmarks/bench_rederive.py benchmarks/results/archive/bench-2026-11-26/<fingerprint>/bench.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from emoedge.bench.derive import derive
from emoedge.bench.report import write_outputs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("result", type=Path, help="bench.json of an earlier run")
    args = parser.parse_args()
    result = json.loads(args.result.read_text())
    for row in result["rows"]:  # derived keys are recomputed
        for key in [
            k
            for k in row
            if k.startswith(("floor_", "fps_ratio", "drop")) or k == "float_reference"
        ]:
            del row[key]
    written = write_outputs(derive(result), args.result.parent.parent, result.get("command"))
    print("\n".join(str(p) for p in written.values()))


if __name__ == "__main__":
    main()
