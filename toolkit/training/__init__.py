"""Training: config, losses, augmentation and the fit loop (host side, TensorFlow)."""
