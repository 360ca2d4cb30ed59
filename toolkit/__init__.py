"""emoedge: facial emotion recognition from FER+ training to int8 builds on edge devices.

Importing this package stays cheap and TensorFlow-free on purpose: a Raspberry Pi
imports it with only LiteRT installed. Heavy modules are imported inside the
functions that need them.
"""

from emoedge.errors import EmoedgeError, UserInputError
from emoedge.labels import EMOTIONS

__version__ = "0.1.0"
__all__ = ["EMOTIONS", "EmoedgeError", "UserInputError", "__version__"]
