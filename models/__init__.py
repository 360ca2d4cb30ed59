"""Model architectures and the zoo of trained models that ship with emoedge.

`build_model("mini_xception")` builds by name from the registry; `resolve_model`
turns "zoo:<name>" or a path into a loadable file. TensorFlow is imported only
when a model is actually built or loaded.
"""

from emoedge.models.registry import (
    ModelSpec,
    build_model,
    count_macs,
    get_spec,
    list_models,
    register_model,
    with_input_size,
)

__all__ = [
    "ModelSpec",
    "build_model",
    "count_macs",
    "get_spec",
    "list_models",
    "register_model",
    "with_input_size",
]
