"""Import TensorFlow the one way that works here.

oneDNN's kernels crash (SIGSEGV / malloc assertion) in the gradient of
mini-Xception's 1x1 stride-2 shortcut convolution on TF 2.21, so
TF_ENABLE_ONEDNN_OPTS=0 must be set before TensorFlow is first imported. Every
host-side module that needs TensorFlow or Keras goes through `import_tf`.
"""

from __future__ import annotations

import os
import sys


def import_tf(threads: int | None = None):
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    elif os.environ.get("TF_ENABLE_ONEDNN_OPTS") != "0":
        import logging

        logging.getLogger(__name__).warning(
            "TensorFlow was imported before TF_ENABLE_ONEDNN_OPTS=0; training may crash"
        )
    try:
        import tensorflow as tf
    except ImportError as exc:
        from emoedge.errors import EmoedgeError

        raise EmoedgeError(
            "TensorFlow is not installed: this is a host-side command; "
            "install it with `pip install emoedge[train]`"
        ) from exc
    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            pass  # already initialised; the first setting stands
    return tf
