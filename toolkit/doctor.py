"""What this machine can run, and whether a build runs on it: the first thing to
look at on a freshly set-up device.

Most failures on a device are its install, not the model: a runtime missing, an
OpenCV without GStreamer for a CSI camera, TensorRT listed by onnxruntime-gpu but
its libraries absent (sessions then fall back to CUDA or the CPU without failing).
Each check here uses the real part (imports the runtime, loads the build, runs one
inference and one detection), so a pass means the thing works here, not that a
package is installed. Nothing here imports TensorFlow: it runs on a device.
"""

from __future__ import annotations

import logging
import os
import platform
import re
import tempfile
import time
from dataclasses import asdict, dataclass
from importlib import util
from pathlib import Path

import numpy as np

from emoedge.cache import cache_dir
from emoedge.errors import EmoedgeError
from emoedge.targets.formats import FORMATS, runtime_module
from emoedge.versions import installed_versions

OK, INFO, WARN, FAIL = "ok", "info", "warn", "fail"


@dataclass(frozen=True)
class Check:
    area: str
    status: str  # ok | info | warn | fail
    detail: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _version(distribution: str) -> str | None:
    return installed_versions([distribution]).get(distribution)


def video_io(build_information: str) -> dict[str, bool]:
    """FFmpeg, GStreamer and V4L2 support from cv2.getBuildInformation()'s
    "Video I/O" section (pip's opencv-python-headless has no GStreamer)."""
    section = build_information.split("Video I/O:", 1)[-1].split("\n\n", 1)[0]
    found = {}
    for key, pattern in (("FFmpeg", r"FFMPEG"), ("GStreamer", r"GStreamer"), ("V4L2", r"v4l/v4l2")):
        match = re.search(rf"^\s*{pattern}:\s*(\S+)", section, re.IGNORECASE | re.MULTILINE)
        found[key] = bool(match) and match.group(1).upper() != "NO"
    return found


def environment_checks() -> list[Check]:
    import cv2

    checks = [
        Check("python", OK, f"{platform.python_version()} ({platform.machine()})"),
        Check("emoedge", OK, _version("emoedge") or "not installed as a distribution"),
        Check("numpy", OK, np.__version__),
    ]
    io = video_io(cv2.getBuildInformation())
    checks.append(
        Check(
            "opencv",
            OK,
            f"{cv2.__version__}; video input: "
            + ", ".join(f"{name} {'yes' if present else 'no'}" for name, present in io.items()),
        )
    )
    if not io["GStreamer"]:
        checks.append(
            Check(
                "gstreamer",
                INFO,
                "this OpenCV has no GStreamer: GStreamer pipelines and the Jetson CSI camera "
                "need an OpenCV built with it (JetPack's); USB cameras, files and streams work",
            )
        )
    from emoedge.targets.detectors import detector_class

    haar_file = detector_class("haar").default_model_file()
    checks.append(
        Check(
            "haar cascade",
            OK if haar_file else INFO,
            str(haar_file)
            if haar_file
            else "none in this OpenCV (5.x ships none): the haar detector is unavailable, "
            "builds default to blazeface",
        )
    )
    checks += runtime_checks()
    devices = sorted(str(p) for p in Path("/dev").glob("video*")) if Path("/dev").is_dir() else []
    checks.append(Check("cameras", INFO, ", ".join(devices) or "no /dev/video* devices"))
    checks.append(
        Check(
            "picamera2",
            INFO,
            "installed" if util.find_spec("picamera2") else "not installed (Raspberry Pi only)",
        )
    )
    checks.append(_cache_check())
    checks.append(
        Check(
            "tensorflow",
            INFO,
            f"{_version('tensorflow')}: host tools (train, export) available"
            if _version("tensorflow")
            else "not installed: a device needs none (train and export run on a host)",
        )
    )
    return checks


#: pip distributions that all install the one `onnxruntime` module
ONNXRUNTIME_WHEELS = (
    "onnxruntime",
    "onnxruntime-gpu",
    "onnxruntime-directml",
    "onnxruntime-openvino",
    "onnxruntime-qnn",
)


def onnxruntime_wheel_clash(versions: dict[str, str]) -> Check | None:
    """Two ONNX Runtime wheels write over each other's files: with PyPI's CPU
    `onnxruntime` installed beside `onnxruntime-gpu` (what `emoedge[jetson]` did on
    top of NVIDIA's wheel), the CUDA and TensorRT providers vanish without an error
    (microsoft/onnxruntime#26996)."""
    found = [f"{name} {versions[name]}" for name in ONNXRUNTIME_WHEELS if name in versions]
    if len(found) < 2:
        return None
    keep = "onnxruntime-gpu" if "onnxruntime-gpu" in versions else "the one for this device"
    return Check(
        "onnxruntime wheels",
        WARN,
        f"{', '.join(found)} installed together; they share one module and overwrite each "
        f"other's files: uninstall all of them, then install {keep} alone",
    )


def _installed(runtime: str) -> bool:
    return util.find_spec(runtime_module(runtime)) is not None


def _absent(runtime: str, also: str = "") -> Check:
    """What a missing runtime costs: the targets whose builds it runs (the format table)."""
    targets = [t for row in FORMATS.values() if row.runtime == runtime for t in row.targets]
    return Check(runtime, INFO, f"not installed ({', '.join(targets)} builds{also})")


def runtime_checks() -> list[Check]:
    checks = []
    if _installed("litert"):
        checks.append(Check("litert", OK, f"ai-edge-litert {_version('ai-edge-litert')}"))
    else:
        checks.append(_absent("litert", " and the blazeface detector"))
    if _installed("openvino"):
        import openvino as ov

        devices = ", ".join(ov.Core().available_devices)
        checks.append(Check("openvino", OK, f"{ov.__version__}; devices: {devices}"))
    else:
        checks.append(_absent("openvino"))
    if _installed("onnxruntime"):
        import onnxruntime as ort

        providers = ort.get_available_providers()
        checks.append(
            Check("onnxruntime", OK, f"{ort.__version__}; providers: {', '.join(providers)}")
        )
        clash = onnxruntime_wheel_clash(installed_versions(list(ONNXRUNTIME_WHEELS)))
        if clash is not None:
            checks.append(clash)
        if {"TensorrtExecutionProvider", "CUDAExecutionProvider"} & set(providers):
            checks.append(
                Check(
                    "gpu providers",
                    INFO,
                    "listed by the wheel, not yet started: `emoedge doctor BUILD` with a "
                    "jetson build shows which one really runs",
                )
            )
    else:
        checks.append(_absent("onnxruntime"))
    return checks


def _cache_check() -> Check:
    root = cache_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root):
            pass
    except OSError as exc:
        return Check(
            "cache", WARN, f"{root} is not writable ({exc}): set EMOEDGE_CACHE to a folder that is"
        )
    return Check("cache", OK, f"{root} (EMOEDGE_CACHE)")


def _threads(count: object) -> str:
    return "1 thread" if count == 1 else f"{count} threads"


class _Collect(logging.Handler):
    """Warnings logged while a build loads, e.g. a provider that could not start."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def build_checks(path: str | os.PathLike) -> list[Check]:
    """Load the build as `emoedge run` does and run its classifier and detector once."""
    from emoedge.targets.manifest import Build

    try:
        build = Build.load(path)
    except EmoedgeError as exc:
        return [Check("build", FAIL, str(exc))]
    checks = [
        Check(
            "build",
            OK,
            f"{build.target or 'no target'}: {build.manifest.format} "
            f"{build.manifest.precision}, {len(build.files)} files, checksums verified",
        )
    ]
    collect = _Collect()
    emoedge_log = logging.getLogger("emoedge")
    emoedge_log.addHandler(collect)
    try:
        checks += _load_and_run(build)
    finally:
        emoedge_log.removeHandler(collect)
    return checks + [Check("warning", WARN, message) for message in collect.messages]


def _load_and_run(build) -> list[Check]:
    """Runtime, one inference, the detector: each check only if the one before passed."""
    from emoedge.targets.pipeline import load_detector
    from emoedge.targets.runtimes import load_runtime

    try:
        threads = build.runtime.threads
        runtime = load_runtime(build, None, threads or None)
    except EmoedgeError as exc:
        return [Check("runtime", FAIL, str(exc))]
    described = runtime.describe()
    providers = described.get("providers")
    checks = [
        Check(
            "runtime",
            OK,
            f"{runtime.name}, {_threads(described.get('threads'))}"
            + (f"; running on {' > '.join(providers)}" if providers else ""),
        )
    ]
    spec = build.preprocess
    face = np.zeros((1, spec.height, spec.width, spec.channels), np.float32)
    started = time.perf_counter()
    try:
        probabilities = runtime.predict(face)
    except Exception as exc:  # a runtime's own error types
        return [*checks, Check("inference", FAIL, f"{type(exc).__name__}: {exc}")]
    elapsed = (time.perf_counter() - started) * 1000
    expected = (1, len(build.labels))
    if probabilities.shape != expected or not np.isfinite(probabilities).all():
        return [
            *checks,
            Check("inference", FAIL, f"output {probabilities.shape}, expected {expected} finite"),
        ]
    checks.append(Check("inference", OK, f"one face in {elapsed:.1f} ms (first call)"))
    try:
        detector = load_detector(build)
        started = time.perf_counter()
        detector.detect(np.full((480, 640, 3), 127, np.uint8))
    except EmoedgeError as exc:
        return [*checks, Check("detector", FAIL, str(exc))]
    elapsed = (time.perf_counter() - started) * 1000
    return [*checks, Check("detector", OK, f"{detector.name}, one frame in {elapsed:.1f} ms")]
