"""How far from the compute floor an int8 MobileNetV2 runs as it gets wider and its
input larger (the latency goal: int8 within 2x of MACs over the measured peak).

The zoo's classifiers are small (7.5-10 M MACs on 64x64 faces) and their narrow early
layers run at 4-9% of the peak (`results/int8_stage_rates_2026-11-27.md`). This builds
MobileNetV2 at other widths and input sizes, untrained (speed does not depend on
the weights' values), quantizes each as `emoedge export --target rpi` does (full int8,
per-channel, calibrated on FER+ train faces at that size) and times LiteRT's
`invoke()` at 1 thread, every model in turns.

    python benchmarks/floor_vs_width.py --data ../shared/datasets/ferplus

Prints a Markdown table; the peak comes from the bench cache (`emoedge bench`).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from timing import (  # the benchmarks' shared helpers, same folder
    cached_int8_peak,
    invoke_us_in_turns,
    one_thread_interpreter,
)

#: (width multiplier, input side); the first is the zoo's mobilenet_v2
CONFIGS = ((0.5, 64), (1.0, 64), (1.0, 96), (1.0, 128), (1.4, 128))
ROUNDS = 5
CALIBRATION_IMAGES = 300


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="FER+ root (calibration faces)")
    args = parser.parse_args()

    from emoedge.data.preprocess import PreprocessSpec
    from emoedge.models import count_macs
    from emoedge.models.mobilenet_v2 import build_mobilenet_v2
    from emoedge.quantization.base import CalibrationSet, ConvertRequest
    from emoedge.quantization.tflite import TFLiteQuantizer
    from emoedge.tf_env import import_tf

    import_tf()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for alpha, side in CONFIGS:
            model = build_mobilenet_v2(input_shape=(side, side, 1), alpha=alpha)
            spec = PreprocessSpec(height=side, width=side, channels=1, scale="symmetric")
            calibration = CalibrationSet.from_ferplus(args.data, spec, size=CALIBRATION_IMAGES)
            out = Path(tmp) / f"{alpha}-{side}"
            TFLiteQuantizer().quantize(ConvertRequest(model, calibration, "int8", out))
            rows.append(
                (alpha, side, count_macs(model), one_thread_interpreter(out / "model.tflite"))
            )
    times = invoke_us_in_turns([row[3] for row in rows], ROUNDS, warmup=50, repeats=500)
    peak = cached_int8_peak() or float("nan")
    print(
        f"int8 on LiteRT/XNNPACK, 1 thread, invoke() medians of {ROUNDS} rounds; peak {peak:.0f} GMAC/s\n"
    )
    print("| MobileNetV2 | MACs | us | floor us | x floor | GMAC/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for (alpha, side, macs, _), us in zip(rows, times, strict=True):
        floor = macs / peak / 1e3
        print(
            f"| width {alpha:g}, {side}x{side} | {macs / 1e6:.1f} M | {us:.1f} | {floor:.1f} "
            f"| {us / floor:.1f}x | {macs / us / 1e3:.0f} |"
        )


if __name__ == "__main__":
    main()
