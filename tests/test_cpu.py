"""Which CPUs' int8 kernels clip their sums, told from /proc/cpuinfo's flags."""

from __future__ import annotations

import pytest

from emoedge.targets import cpu

ZEN2 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse4_2 avx avx2 fma\n"
ICELAKE = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_vnni\n"


def test_flags_are_read_from_the_first_processor():
    assert cpu.cpu_flags(ZEN2) == {"fpu", "sse4_2", "avx", "avx2", "fma"}
    assert cpu.cpu_flags("no flags here") == frozenset()


@pytest.mark.parametrize(
    ("machine", "cpuinfo", "clips"),
    [
        ("x86_64", ZEN2, True),  # AVX2 only: vpmaddubsw's int16 sums
        ("x86_64", ICELAKE, False),  # VNNI sums into int32
        ("x86_64", "", False),  # nothing to read: taken as exact
        ("aarch64", "flags\t: fp asimd\n", False),  # ARM dot products do not clip
    ],
)
def test_int8_sums_saturate(monkeypatch, machine, cpuinfo, clips):
    monkeypatch.setattr(cpu.platform, "machine", lambda: machine)
    monkeypatch.setattr(cpu, "this_cpu_flags", lambda: cpu.cpu_flags(cpuinfo))
    assert cpu.int8_sums_saturate() is clips
