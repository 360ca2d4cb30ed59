"""What this CPU's integer kernels do exactly, read from the kernel's CPU flags.

x86 int8 convolution kernels multiply uint8 activations by int8 weights. With VNNI
(AVX512-VNNI or AVX-VNNI) each product is summed into an int32. Without it they
use `vpmaddubsw`, which adds two neighbouring products into an int16 and clips the
sum at 32,767: large activations times large weights are silently cut. ONNX Runtime
and OpenVINO both document this (ORT's `reduce_range` exists for it). Measured on a
2-core AMD EPYC (Zen 2, AVX2 only, no VNNI), zoo mini_xception on FER+ valid: the
jetson (ONNX QDQ) int8 build lost 3.10 points in ONNX Runtime's fused int8 kernels
and 0.16 in its unfused (DequantizeLinear, float conv, QuantizeLinear) form; the x86
OpenVINO build lost 0.81 (benchmarks/results/int8_without_vnni_2026-12-03.md).
ARM's int8 dot products accumulate into int32 and do not clip.
"""

from __future__ import annotations

import functools
import platform
from pathlib import Path

X86_MACHINES = ("x86_64", "amd64", "i686", "x86")
#: /proc/cpuinfo flags of the x86 int8 dot-product instructions that accumulate in int32
VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})


def is_x86() -> bool:
    return platform.machine().lower() in X86_MACHINES


def cpu_flags(cpuinfo: str) -> frozenset[str]:
    """The flags of the first processor in a /proc/cpuinfo text."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


@functools.cache
def this_cpu_flags() -> frozenset[str]:
    """This machine's CPU flags (empty where /proc/cpuinfo cannot be read)."""
    try:
        return cpu_flags(Path("/proc/cpuinfo").read_text())
    except OSError:
        return frozenset()


def int8_sums_saturate() -> bool:
    """True on an x86 CPU whose flags show no VNNI (its int8 kernels clip at int16).

    False where it cannot be told (no /proc/cpuinfo, not Linux): the kernels are
    then taken to be exact, as on every ARM board the targets name.
    """
    flags = this_cpu_flags()
    return is_x86() and bool(flags) and not (flags & VNNI_FLAGS)
