"""Lazy name -> class registries.

Quantizers, runtimes and detectors are registered as "module:Class" strings so
that looking one up imports only its own backend: a Pi with LiteRT alone never
imports the OpenVINO or ONNX Runtime modules.
"""

from __future__ import annotations

import importlib
from typing import Any

from emoedge.errors import UserInputError


def load_registered(table: dict[str, str], name: str, kind: str) -> Any:
    """The class registered under `name`, imported on first use; a clear error otherwise."""
    try:
        module_name, class_name = table[name].split(":")
    except KeyError:
        raise UserInputError(
            f"unknown {kind} {name!r}; expected one of: {', '.join(table)}"
        ) from None
    return getattr(importlib.import_module(module_name), class_name)
