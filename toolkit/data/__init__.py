"""Data: FER+ and folder-per-class loaders, and THE preprocessing function.

Kept free of TensorFlow: the device runtime imports `emoedge.data.preprocess`.
"""
