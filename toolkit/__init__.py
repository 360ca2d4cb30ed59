"""emoedge: facial emotion recognition from FER+ training to int8 builds on edge devices.

Importing this package stays cheap and TensorFlow-free on purpose: a Raspberry Pi
imports it with only LiteRT installed. Heavy modules are imported inside the
functions that need them.
"""

import os as _os

# TF 2.21's oneDNN kernels crash in the gradient of mini-Xception's strided 1x1
# shortcut; the switch only works if set before TensorFlow's first import, which
# may happen anywhere after `import emoedge` (see emoedge.tf_env).
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from emoedge.errors import EmoedgeError, UserInputError
from emoedge.labels import EMOTIONS

__version__ = "0.1.0"
__all__ = ["EMOTIONS", "EmoedgeError", "UserInputError", "__version__"]
