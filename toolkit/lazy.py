"""Lazy name -> class registries.

Quantizers, runtimes and detectors are registered as "module:Class" strings so
that looking one up imports only its own backend: a Pi with LiteRT alone never
imports the OpenVINO or ONNX Runtime modules.
"""

from __future__ import annotations

import importlib
from typing import Any

from emoedge.errors import pick


def load_registered(table: dict[str, str], name: str, kind: str) -> Any:
    """The class registered under `name`, imported on first use; a clear error otherwise."""
    module_name, class_name = pick(table, name, kind).split(":")
    return getattr(importlib.import_module(module_name), class_name)
