"""Remake the FER+ sample the package ships (toolkit/data/assets/ferplus_sample.npz):
128 FER+ train faces (16 per class) to calibrate int8 on and 64 FER+ valid faces
(8 per class) for the parity check, used by `emoedge export` when no --data is given.

    python benchmarks/make_ferplus_sample.py --data ../shared/datasets/ferplus

The same FER+ and seed give the same file, byte for byte; the card next to it
(ferplus_sample.md) says what it is and under which licences.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from emoedge.data.location import DEFAULT_FERPLUS
from emoedge.data.sample import SAMPLE_FILE, SAMPLE_SEED, make_sample, write_sample

log = logging.getLogger("make_ferplus_sample")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_FERPLUS, help="FER+ root")
    parser.add_argument("--seed", type=int, default=SAMPLE_SEED)
    parser.add_argument("--out", type=Path, default=SAMPLE_FILE)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = write_sample(make_sample(args.data, seed=args.seed), args.out)
    log.info("wrote %s (%d bytes)", path, path.stat().st_size)


if __name__ == "__main__":
    main()
