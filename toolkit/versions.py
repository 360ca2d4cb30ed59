"""Installed versions of the distributions that shape a result, for records and manifests."""

from __future__ import annotations

import platform
from collections.abc import Iterable
from importlib import metadata


def installed_versions(distributions: Iterable[str], python: bool = False) -> dict[str, str]:
    """Version of each installed distribution; the ones not installed are left out."""
    versions = {"python": platform.python_version()} if python else {}
    for name in distributions:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
