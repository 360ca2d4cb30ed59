"""emoedge: facial emotion recognition from FER+ training to int8 builds on edge devices.

Importing this package stays cheap and TensorFlow-free on purpose: a Raspberry Pi
imports it with only LiteRT installed. Heavy modules are imported inside the
functions that need them.
"""

import os as _os

# TF 2.21's oneDNN kernels crash in the gradient of a strided 1x1 convolution; the
# switch only works if set before TensorFlow's first import, which may happen
# anywhere after `import emoedge`. Off by default; `emoedge.tf_env.import_tf`
# turns it on for training unless the user chose (see emoedge.tf_env).
ONEDNN_SET_BY_USER = "TF_ENABLE_ONEDNN_OPTS" in _os.environ
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from emoedge.errors import EmoedgeError, UserInputError  # noqa: E402
from emoedge.labels import EMOTIONS  # noqa: E402

__version__ = "0.1.0"
__all__ = ["EMOTIONS", "EmoedgeError", "UserInputError", "__version__"]
