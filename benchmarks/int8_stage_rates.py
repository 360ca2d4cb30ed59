"""Where an int8 classifier call spends its time, stage by stage, and how many MACs per
second each stage reaches against the machine's peak (the latency goal: int8 within 2x of the compute floor).

The model is cut after each stage (stem convolutions, each residual block, the head);
each prefix is quantized like `emoedge export --target rpi` quantizes the whole model
(TFLite full int8, per-channel weights, the same calibration faces), and timed with
LiteRT's `invoke()` at 1 thread, all prefixes in turns. A stage's time is its prefix's
time minus the previous one's; its MACs are counted from the layer shapes.

    python benchmarks/int8_stage_rates.py --data ../shared/datasets/ferplus [--model zoo:mini_xception]

Prints a Markdown table. The peak is read from the bench cache (`emoedge bench` measures
it: a 3x3 convolution, 256 -> 256 channels on 28x28, LiteRT/XNNPACK int8).
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

#: mini-Xception's stages: the last layer of each
MINI_XCEPTION_STAGES = (
    ("stem conv 1 (3x3, 1 -> 8, 62x62)", "stem_relu1"),
    ("stem conv 2 (3x3, 8 -> 8, 60x60)", "stem_relu2"),
    ("block 1 (16 ch, 60x60 -> 30x30)", "b1_add"),
    ("block 2 (32 ch, 30x30 -> 15x15)", "b2_add"),
    ("block 3 (64 ch, 15x15 -> 8x8)", "b3_add"),
    ("block 4 (128 ch, 8x8 -> 4x4)", "b4_add"),
    ("head (1x1 conv to 8, mean, softmax)", "probabilities"),
)
ROUNDS = 7


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="FER+ root (calibration faces)")
    parser.add_argument("--model", default="zoo:mini_xception", help="a mini_xception model")
    args = parser.parse_args()

    from emoedge.models.registry import layer_macs
    from emoedge.models.zoo import load_keras_model, model_preprocess_spec
    from emoedge.quantization.base import CalibrationSet, ConvertRequest
    from emoedge.quantization.tflite import TFLiteQuantizer
    from emoedge.tf_env import import_tf

    keras = import_tf().keras
    model = load_keras_model(args.model)
    calibration = CalibrationSet.from_ferplus(args.data, model_preprocess_spec(args.model, model))
    names = [layer.name for layer in model.layers]
    missing = [last for _, last in MINI_XCEPTION_STAGES if last not in names]
    if missing:
        parser.error(f"{args.model}: not a mini_xception (no layer {', '.join(missing)})")
    interpreters = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, (_, last) in enumerate(MINI_XCEPTION_STAGES):
            prefix = keras.Model(model.input, model.get_layer(last).output)
            out = Path(tmp) / str(index)
            TFLiteQuantizer().quantize(ConvertRequest(prefix, calibration, "int8", out))
            interpreters.append(one_thread_interpreter(out / "model.tflite"))
    prefix_us = invoke_us_in_turns(interpreters, ROUNDS, warmup=100, repeats=1000)
    peak_gmacs = cached_int8_peak()
    print(
        f"{args.model}, TFLite int8 on LiteRT/XNNPACK, 1 thread, invoke() medians of {ROUNDS} "
        f"rounds; peak int8 {peak_gmacs or float('nan'):.0f} GMAC/s at 1 thread\n"
    )
    print("| stage | MACs | us | share of the call | GMAC/s | of peak |")
    print("|---|---:|---:|---:|---:|---:|")
    start, before = 0, 0.0
    for (label, last), total in zip(MINI_XCEPTION_STAGES, prefix_us, strict=True):
        end = names.index(last) + 1
        macs = sum(layer_macs(layer) for layer in model.layers[start:end])
        us = total - before
        rate = macs / us / 1e3 if us > 0 else float("nan")
        of_peak = f"{100 * rate / peak_gmacs:.0f}%" if peak_gmacs else ""
        print(
            f"| {label} | {macs:,} | {us:.1f} | {100 * us / prefix_us[-1]:.0f}% | {rate:.1f} | {of_peak} |"
        )
        start, before = end, total
    macs_all = sum(layer_macs(layer) for layer in model.layers)
    print(
        f"| whole model | {macs_all:,} | {prefix_us[-1]:.1f} | 100% | {macs_all / prefix_us[-1] / 1e3:.1f} | |"
    )


if __name__ == "__main__":
    main()
