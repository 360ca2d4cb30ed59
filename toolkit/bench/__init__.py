"""`emoedge bench`: one table to pick a format and a device by.

Host-side only (it exports builds, so it imports TensorFlow inside functions).
One module per concern: `formats` (which variants exist, how to make and load
each), `accuracy`, `latency`, `pipeline_fps`, `memory` (each variant measured
in its own spawned process), `floor` (compute floor and the Raspberry Pi 4
estimate), `peer` (the `fer` package), `fingerprint`, `report`, and `runner`
which ties them together.
"""

from emoedge.bench.runner import BenchConfig, run_bench

__all__ = ["BenchConfig", "run_bench"]
