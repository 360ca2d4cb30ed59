"""Targets as data: each device is a frozen profile, not a branch in the code.

Export reads a profile to choose precision, threads and detector, and the format
table (`emoedge.targets.formats`) for the format that ships to it and the runtime
that format needs; runners read the build manifest that export wrote from both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from emoedge.errors import pick
from emoedge.targets.formats import ModelFormat, format_for_target


@dataclass(frozen=True)
class TargetProfile:
    name: str
    description: str
    precision: str  # default precision: int8 | fp16 | fp32
    precisions: tuple[str, ...]  # those of its format this target offers
    # Classifier threads (0 = all cores). The face detector runs just before the
    # classifier on every frame with its own thread pool, so what counts is the
    # pipeline's speed, not the classifier's alone. On 2 cores one thread ran the
    # jetson build (ONNX Runtime CPU) 6-22% faster than all cores and the x86 build
    # (OpenVINO) as fast or faster, and a 64x64 model gains little from more
    # (benchmarks/results/classifier_threads_2026-11-27.md). LiteRT (rpi) was even.
    threads: int
    detector: str  # default face detector
    camera: str  # picamera2 | v4l2 | gstreamer
    install: str  # what the device installs
    runtime_options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        """A profile can narrow its format's precisions, never add one the quantizer lacks."""
        self.model_format.check_precision(self.precision)
        for precision in self.precisions:
            self.model_format.check_precision(precision)

    @property
    def model_format(self) -> ModelFormat:
        """The format row that names this target (`emoedge.targets.formats.FORMATS`)."""
        return format_for_target(self.name)

    @property
    def format(self) -> str:
        return self.model_format.name


PROFILES: dict[str, TargetProfile] = {
    profile.name: profile
    for profile in (
        TargetProfile(
            name="rpi",
            description="Raspberry Pi 4/5 (Cortex-A72/A76): TFLite int8 on LiteRT with XNNPACK",
            precision="int8",
            precisions=("int8", "fp32"),
            threads=4,
            detector="blazeface",
            camera="picamera2",
            install="pip install 'emoedge[rpi]'",
        ),
        TargetProfile(
            name="x86",
            description="x86-64 CPU: OpenVINO IR int8 on the OpenVINO CPU plugin",
            precision="int8",
            precisions=("int8", "fp32"),
            threads=1,
            detector="blazeface",
            camera="v4l2",
            install="pip install 'emoedge[x86]'",
            runtime_options={"inference_precision_hint": "f32"},
        ),
        TargetProfile(
            name="jetson",
            description="NVIDIA Jetson: ONNX for TensorRT / ONNX Runtime (TensorRT, CUDA, CPU)",
            precision="int8",
            precisions=("int8", "fp16", "fp32"),
            threads=1,
            detector="blazeface",
            camera="gstreamer",
            # The extra's PyPI onnxruntime would overwrite NVIDIA's GPU wheel on a Jetson.
            install="pip install 'emoedge[jetson]'; on JetPack instead NVIDIA's "
            "onnxruntime-gpu wheel, then pip install emoedge ai-edge-litert",
            runtime_options={
                "providers": [
                    "TensorrtExecutionProvider",
                    "CUDAExecutionProvider",
                    "CPUExecutionProvider",
                ]
            },
        ),
    )
}


def get_profile(name: str) -> TargetProfile:
    return pick(PROFILES, name, "target")


def device_camera(spec: str | int, target: str | None) -> str | int:
    """What a camera spec means on this device, for `emoedge run` and the daemon alike.

    `camera` / `camera:N` is the target's own camera (picamera2 on rpi, the CSI
    pipeline on jetson, V4L2 elsewhere); a V4L2 device node (`/dev/video0`, or a
    stable `/dev/v4l/by-id/...` link to one) is that camera's index, resolved
    each time the source opens, so a camera that comes back under another number
    is found. Anything else is returned as it is.
    """
    import os
    import re

    text = str(spec).strip()
    name, _, number = text.partition(":")
    if name == "camera" and (not number or number.isdigit()):
        from emoedge.targets.sources import camera_spec

        backend = PROFILES[target].camera if target in PROFILES else "v4l2"
        return camera_spec(backend, int(number or 0))
    if text.startswith("/dev/"):
        node = re.fullmatch(r"/dev/video(\d+)", os.path.realpath(text))
        if node:
            return node.group(1)
    return spec
