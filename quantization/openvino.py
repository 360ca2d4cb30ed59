"""OpenVINO IR for x86: `openvino.convert_model` on the Keras model, NNCF for int8.

int8 is NNCF post-training quantization (preset "performance": symmetric int8
activations, per-channel int8 weights; full bias correction) on the calibration set. With
`accuracy_control=True` it is `nncf.quantize_with_accuracy_control`: NNCF measures
accuracy on a labelled validation set and reverts the most sensitive layers to
float until the drop is within `max_drop` points. IR is saved without fp16
weight compression unless the precision is fp16.

NNCF draws rich progress bars ("Statistics collection", "Applying Bias correction")
on rich's global console, stdout, and logs INFO there through its own handler, past
the CLI's logging: both are kept for `emoedge --verbose` (`_nncf_quietly`).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from emoedge.errors import UserInputError
from emoedge.quantization.base import (
    Artifact,
    ConvertRequest,
    Quantizer,
    require_calibration,
    weight_granularity,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

MODEL_FILE = "model.xml"
WEIGHTS_FILE = "model.bin"


def _accuracy(compiled_model, items) -> float:
    """NNCF validation function: top-1 accuracy over (input batch, labels) items."""
    output = compiled_model.output(0)
    correct = total = 0
    for batch, labels in items:
        probs = compiled_model(batch)[output]
        correct += int((np.argmax(probs, axis=1) == labels).sum())
        total += len(labels)
    return correct / max(total, 1)


def _nncf_quietly(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run an NNCF call without its progress bars or INFO lines unless our own debug
    log is on (`emoedge --verbose`): NNCF has no switch for the bars, which draw on
    rich's global console, so that console is made quiet for the call (the CLI's own
    consoles are separate); NNCF's level goes to WARNING (its documented
    `nncf.set_log_level`), so its warnings still show. Both are restored after."""
    if log.isEnabledFor(logging.DEBUG):
        return call(*args, **kwargs)
    import nncf
    import rich

    console = rich.get_console()
    was_quiet, level = console.quiet, logging.getLogger("nncf").level
    console.quiet = True
    nncf.set_log_level(logging.WARNING)
    try:
        return call(*args, **kwargs)
    finally:
        console.quiet = was_quiet
        nncf.set_log_level(level)


@dataclass(frozen=True)
class OpenVINOOptions:
    """OpenVINO's own quantizer options: accuracy control scores `validation`
    (inputs, labels) and keeps the drop within `max_drop` points."""

    accuracy_control: bool = False
    validation: tuple[np.ndarray, np.ndarray] | None = None
    max_drop: float = 1.0
    fast_bias_correction: bool = False


class OpenVINOQuantizer(Quantizer):
    format = "openvino"
    options_type = OpenVINOOptions

    def convert(self, request: ConvertRequest) -> Artifact:
        from emoedge.tf_env import import_tf

        import_tf()
        import openvino as ov

        precision, per_channel = request.precision, request.per_channel
        options: OpenVINOOptions = self.format_options(request)
        with warnings.catch_warnings():
            # Keras notes that the converter calls the model with a tuple, not a dict.
            warnings.filterwarnings("ignore", message="The structure of `inputs`")
            model = ov.convert_model(request.keras_model)
        params: dict[str, Any] = {"converter": f"openvino {ov.__version__} convert_model"}
        if precision == "int8":
            import nncf

            calibration = require_calibration(request.calibration, self.format)
            calibration_data = nncf.Dataset(list(calibration.batches(1)))
            common = {
                "preset": nncf.QuantizationPreset.PERFORMANCE,
                "subset_size": len(calibration),
                # Full bias correction: on FER+ valid (mini_xception) it kept int8 within
                # 0.2 point of float where the fast variant lost 0.7.
                "fast_bias_correction": options.fast_bias_correction,
            }
            if not per_channel:
                from nncf.quantization.advanced_parameters import (
                    AdvancedQuantizationParameters,
                    QuantizationParameters,
                )

                common["advanced_parameters"] = AdvancedQuantizationParameters(
                    weights_quantization_params=QuantizationParameters(per_channel=False)
                )
            if options.accuracy_control:
                if options.validation is None:
                    raise UserInputError(
                        "accuracy-controlled quantization needs a labelled validation set (--data)"
                    )
                inputs, labels = options.validation
                items = [
                    (inputs[i : i + 64], labels[i : i + 64]) for i in range(0, len(inputs), 64)
                ]
                validation_data = nncf.Dataset(items, lambda item: item[0])
                model = _nncf_quietly(
                    nncf.quantize_with_accuracy_control,
                    model,
                    calibration_dataset=calibration_data,
                    validation_dataset=validation_data,
                    validation_fn=_accuracy,
                    max_drop=options.max_drop / 100.0,
                    drop_type=nncf.DropType.ABSOLUTE,
                    **common,
                )
            else:
                model = _nncf_quietly(nncf.quantize, model, calibration_data, **common)
            params.update(
                scheme="NNCF post-training quantization"
                + (" with accuracy control" if options.accuracy_control else ""),
                tool=f"nncf {nncf.__version__}",
                preset="performance",
                bias_correction="fast" if options.fast_bias_correction else "full",
                weights=weight_granularity(per_channel),
                activations="int8 symmetric, per-tensor",
                calibration=calibration.describe(),
                accuracy_control=(
                    {
                        "max_drop_points": options.max_drop,
                        "validation_images": len(options.validation[1]),
                    }
                    if options.accuracy_control and options.validation is not None
                    else None
                ),
            )
        elif precision == "fp16":
            params.update(
                scheme="fp16 weight compression", weights="float16", activations="float32"
            )
        else:
            params.update(scheme="none", weights="float32", activations="float32")
        request.out_dir.mkdir(parents=True, exist_ok=True)
        ov.save_model(
            model, str(request.out_dir / MODEL_FILE), compress_to_fp16=precision == "fp16"
        )
        return Artifact(
            format=self.format,
            precision=precision,
            files={"model": MODEL_FILE, "weights": WEIGHTS_FILE},
            params=params,
            input={"dtype": "float32", "scale": None, "zero_point": None},
        )
