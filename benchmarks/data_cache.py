"""How long loading a FER+ split takes cold (decode PNGs) and warm (from the .npz cache).

python benchmarks/data_cache.py ../shared/datasets/ferplus > benchmarks/results/data_cache.md
"""

from __future__ import annotations

import platform
import sys
import tempfile
import time
from pathlib import Path

from emoedge.data.ferplus import load_ferplus


def main(root: str) -> None:
    with tempfile.TemporaryDirectory() as cache:
        rows = []
        for split in ("train", "valid", "test"):
            started = time.perf_counter()
            cold = load_ferplus(root, split, cache_dir=Path(cache))
            cold_s = time.perf_counter() - started
            started = time.perf_counter()
            load_ferplus(root, split, cache_dir=Path(cache))
            warm_s = time.perf_counter() - started
            rows.append((split, len(cold), cold_s, warm_s))
    print(
        f"# FER+ load times ({platform.processor() or platform.machine()}, "
        f"{time.strftime('%Y-%m-%d')})\n"
    )
    print(f"Command: `python benchmarks/data_cache.py {root}`\n")
    print("| split | images (majority) | first load, decode (s) | second load, cache (s) |")
    print("|---|---:|---:|---:|")
    for split, count, cold_s, warm_s in rows:
        print(f"| {split} | {count} | {cold_s:.2f} | {warm_s:.3f} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets/ferplus")
