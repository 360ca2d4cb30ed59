"""Import TensorFlow the one way that works here.

oneDNN's kernels crash (SIGSEGV / malloc assertion) in the gradient of a 1x1
stride-2 convolution on TF 2.21 (the zoo's 64x64 mini-Xceptions until 2026-12 had
one), and the switch only works if set before TensorFlow is first imported, so
`import emoedge` turns oneDNN off unless the user set TF_ENABLE_ONEDNN_OPTS. Every
host-side module that needs TensorFlow or Keras goes through `import_tf`;
`emoedge train` asks for oneDNN on (`onednn=True`): the architectures now avoid
that layer and train 1.6-2.3x faster with it.

TensorFlow 2.21 also writes its C++ start-up notices (the CUDA stub, cuInit failing
on a machine with no GPU, oneDNN) straight to the process's stderr before its
logging is set up, whatever TF_CPP_MIN_LOG_LEVEL says: half a dozen lines ahead of
every host command's own output. They are captured and sent to the debug log
(`--verbose`), or printed after all when the import fails; EMOEDGE_TF_LOGS=1
leaves stderr alone.
"""

from __future__ import annotations

import logging
import os
import sys

from emoedge.native_stderr import with_native_stderr_captured

log = logging.getLogger(__name__)


def _import_and_probe_devices():
    import tensorflow as tf

    tf.config.list_physical_devices()  # where cuInit runs and complains
    return tf


def import_tf(threads: int | None = None, onednn: bool = False):
    """TensorFlow, imported with oneDNN as asked unless the user set
    TF_ENABLE_ONEDNN_OPTS themselves (theirs wins)."""
    first_import = "tensorflow" not in sys.modules
    if first_import:
        from emoedge import ONEDNN_SET_BY_USER

        if not ONEDNN_SET_BY_USER:
            os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1" if onednn else "0"
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    try:
        if first_import:
            tf = with_native_stderr_captured(_import_and_probe_devices)
        else:
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
