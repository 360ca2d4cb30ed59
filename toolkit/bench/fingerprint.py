"""Which machine a result came from: board or CPU model, GPU, core count and runtime versions.

Results go into a folder named by this fingerprint, so runs on the same machine
with the same runtimes land side by side and runs elsewhere never overwrite them.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

from emoedge.versions import installed_versions

RUNTIME_DISTRIBUTIONS = (
    "ai-edge-litert",
    "openvino",
    "onnxruntime",
    "onnxruntime-gpu",  # what a Jetson (NVIDIA's JetPack wheel) or a CUDA machine installs
    "tensorflow",
    "numpy",
    "opencv-python-headless",
    "emoedge",
    "fer",
)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown-cpu"


def board_model() -> str | None:
    """Single-board computers name themselves in the device tree ("Raspberry Pi 4
    Model B Rev 1.4", "NVIDIA Jetson Orin Nano Developer Kit"). Their 64-bit kernels'
    /proc/cpuinfo names no CPU model, so without this a Pi 4, a Pi 5 and a Jetson
    would all be "aarch64"."""
    try:
        name = Path("/proc/device-tree/model").read_bytes().rstrip(b"\0").decode(errors="replace")
    except OSError:
        return None
    return name.strip() or None


def gpu_model() -> str | None:
    """A discrete NVIDIA GPU as nvidia-smi names it; a Jetson has no nvidia-smi, its
    board model says which it is."""
    executable = shutil.which("nvidia-smi")
    if executable is None:
        return None
    try:
        answer = subprocess.run(
            [executable, "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return ", ".join(line.strip() for line in answer.stdout.splitlines() if line.strip()) or None


def device_fingerprint() -> dict:
    versions = installed_versions(RUNTIME_DISTRIBUTIONS)
    fingerprint = {
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "cores": len(os.sched_getaffinity(0)),
        "logical_cpus": os.cpu_count(),
        "python": platform.python_version(),
        "versions": versions,
    }
    # Only where there is one: the fingerprint (and so the results folder) of a
    # machine with neither stays what it was.
    for key, value in (("board", board_model()), ("gpu", gpu_model())):
        if value:
            fingerprint[key] = value
    return fingerprint


def describe_device(fp: dict) -> str:
    """One line for reports: the board (or CPU), the GPU if any, and the cores."""
    parts = [fp.get("board"), fp["cpu"], f"GPU {fp['gpu']}" if fp.get("gpu") else None]
    return ", ".join(part for part in parts if part) + f", {fp['cores']} cores usable"


def fingerprint_slug(fp: dict) -> str:
    """A folder name: readable board (or CPU) and cores, plus a hash of everything else."""
    cpu = re.sub(r"\((r|tm)\)|cpu|@.*$", "", (fp.get("board") or fp["cpu"]).lower())
    cpu = re.sub(r"[^a-z0-9]+", "-", cpu).strip("-")[:40] or "cpu"
    digest = hashlib.sha256(json.dumps(fp, sort_keys=True).encode()).hexdigest()[:8]
    return f"{cpu}-{fp['cores']}c-{digest}"
