"""The build contract's old address, kept so that code written against it (the
daemon's modules, scripts) still imports; it is `emoedge.targets.manifest`, the
device side's, which new code imports directly."""

from emoedge.targets.manifest import (
    MANIFEST_NAME,
    SCHEMA,
    Build,
    file_entry,
    sha256_file,
    write_manifest,
)

__all__ = ["MANIFEST_NAME", "SCHEMA", "Build", "file_entry", "sha256_file", "write_manifest"]
