"""TFLite for LiteRT: full-integer post-training quantization.

int8 weights (per-channel for convolutions, the converter's default) and int8
activations, with int8 model input and output so the device feeds quantized
pixels straight in. Ranges come from the calibration set via the converter's
representative dataset. fp16 stores float16 weights; fp32 is a plain conversion.

Conversion goes through `TFLiteConverter.from_keras_model`; should Keras 3 refuse
(it has for some nested models), a traced concrete function is used instead.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from emoedge.native_stderr import with_native_stderr_captured
from emoedge.quantization.base import (
    Artifact,
    ConvertRequest,
    Quantizer,
    keras_input_shape,
    require_calibration,
    stdout_to_debug_log,
    weight_granularity,
)

log = logging.getLogger(__name__)

MODEL_FILE = "model.tflite"


def _converter(tf, keras_model):
    try:
        return tf.lite.TFLiteConverter.from_keras_model(keras_model)
    except Exception as exc:
        log.info("from_keras_model failed (%s); converting a concrete function", exc)
        height, width, channels = keras_input_shape(keras_model)
        spec = tf.TensorSpec((1, height, width, channels), tf.float32, name="image")
        func = tf.function(lambda x: keras_model(x, training=False))
        return tf.lite.TFLiteConverter.from_concrete_functions(
            [func.get_concrete_function(spec)], keras_model
        )


def tensor_quantization(model_path: Path) -> dict[str, Any]:
    """Input/output dtype, scale and zero point, and how many tensors are per-channel."""
    from ai_edge_litert.interpreter import Interpreter

    from emoedge.native_stderr import with_native_stderr_captured

    # LiteRT's XNNPACK notice goes to the debug log (--verbose)
    interpreter = with_native_stderr_captured(lambda: Interpreter(model_path=str(model_path)))
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    per_channel = per_tensor = 0
    for detail in interpreter.get_tensor_details():
        scales = detail.get("quantization_parameters", {}).get("scales", [])
        if len(scales) > 1:
            per_channel += 1
        elif len(scales) == 1:
            per_tensor += 1

    def describe(detail: dict) -> dict[str, Any]:
        scale, zero_point = detail["quantization"]
        quantized = np.dtype(detail["dtype"]).kind in "iu"
        return {
            "dtype": np.dtype(detail["dtype"]).name,
            "scale": float(scale) if quantized else None,
            "zero_point": int(zero_point) if quantized else None,
        }

    model_input = describe(inp)
    if model_input["scale"] is not None:
        # For a runner of its own: how emoedge's LiteRT runtime rounds (see quantize_input).
        model_input["rounding"] = "half up: code = floor(x / scale + 0.5) + zero_point"
    return {
        "input": model_input,
        "output": describe(out),
        "per_channel_tensors": per_channel,
        "per_tensor_quantized_tensors": per_tensor,
    }


class TFLiteQuantizer(Quantizer):
    format = "tflite"

    def convert(self, request: ConvertRequest) -> Artifact:
        from emoedge.tf_env import import_tf

        precision, per_channel = request.precision, request.per_channel
        tf = import_tf()
        converter = _converter(tf, request.keras_model)
        params: dict[str, Any] = {"converter": f"tensorflow {tf.__version__} TFLiteConverter"}
        if precision == "int8":
            calibration = require_calibration(request.calibration, self.format)

            def representative():
                for batch in calibration.batches(1):
                    yield [batch]

            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = representative
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
            if not per_channel:
                # The converter's only switch for it: a private attribute (there in TF 2.21).
                converter._experimental_disable_per_channel = True
            params.update(
                scheme="full-integer post-training quantization",
                weights=weight_granularity(per_channel)
                + (" for conv/depthwise (converter default)" if per_channel else ""),
                activations="int8 asymmetric, per-tensor",
                calibration=calibration.describe(),
            )
        elif precision == "fp16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
            params.update(scheme="float16 weights", weights="float16", activations="float32")
        else:
            params.update(scheme="none", weights="float32", activations="float32")
        # Keras' SavedModel export inside the converter print()s its whole signature.
        # The converter's C++ side prints its settings to stderr, and it warns that the
        # int8 input has no statistics: true, the calibration set gives them.
        with stdout_to_debug_log(log, "TFLite converter"), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
            flatbuffer = with_native_stderr_captured(converter.convert)
        request.out_dir.mkdir(parents=True, exist_ok=True)
        path = request.out_dir / MODEL_FILE
        path.write_bytes(flatbuffer)
        details = tensor_quantization(path)
        params["per_channel_tensors"] = details["per_channel_tensors"]
        params["per_tensor_quantized_tensors"] = details["per_tensor_quantized_tensors"]
        params["output"] = details["output"]
        return Artifact(
            format=self.format,
            precision=precision,
            files={"model": MODEL_FILE},
            params=params,
            input=details["input"],
        )
