"""Which machine a result came from: CPU model, core count and runtime versions.

Results go into a folder named by this fingerprint, so runs on the same machine
with the same runtimes land side by side and runs elsewhere never overwrite them.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from pathlib import Path

from emoedge.versions import installed_versions

RUNTIME_DISTRIBUTIONS = (
    "ai-edge-litert",
    "openvino",
    "onnxruntime",
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


def device_fingerprint() -> dict:
    versions = installed_versions(RUNTIME_DISTRIBUTIONS)
    return {
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "cores": len(os.sched_getaffinity(0)),
        "logical_cpus": os.cpu_count(),
        "python": platform.python_version(),
        "versions": versions,
    }


def fingerprint_slug(fp: dict) -> str:
    """A folder name: readable CPU and cores, plus a hash of everything else."""
    cpu = re.sub(r"\((r|tm)\)|cpu|@.*$", "", fp["cpu"].lower())
    cpu = re.sub(r"[^a-z0-9]+", "-", cpu).strip("-")[:40] or "cpu"
    digest = hashlib.sha256(json.dumps(fp, sort_keys=True).encode()).hexdigest()[:8]
    return f"{cpu}-{fp['cores']}c-{digest}"
