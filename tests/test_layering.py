"""The layering contracts (pyproject.toml, [tool.importlinter]) hold, and they bite:
a module with a wrong import, laid out beside the real ones, breaks them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "lint_imports.py"

pytest.importorskip("importlinter", reason="import-linter is in the dev extra")


def lint(*added: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *(f"--add={item}" for item in added)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_tree_keeps_every_contract():
    result = lint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("where", "line", "broken"),
    [
        # the device side reaching into the host flow (as targets/ did with emoedge.build)
        (
            "emoedge/targets/probe.py",
            "from emoedge.export import export_build\n",
            "emoedge.targets is not allowed to import emoedge.export",
        ),
        # ...or TensorFlow, even inside a function, even through another module
        (
            "emoedge/daemon/probe.py",
            "def convert():\n    from emoedge.tf_env import import_tf\n",
            "emoedge.daemon is not allowed to import tensorflow",
        ),
        (
            "emoedge/quantization/probe.py",
            "import emoedge.cli\n",
            "emoedge.quantization is not allowed to import emoedge.cli",
        ),
    ],
)
def test_a_wrong_import_breaks_a_contract(tmp_path, where, line, broken):
    probe = tmp_path / "probe.py"
    probe.write_text(line)
    result = lint(f"{where}={probe}")
    assert result.returncode != 0
    assert broken in result.stdout, result.stdout
    assert "1 kept, 1 broken" in result.stdout
