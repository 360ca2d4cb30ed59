"""The device side: target profiles, runtimes, face detectors, sources, tracking, pipeline.

Nothing here imports TensorFlow, NNCF or a converter: a Raspberry Pi installs
only the runtime its profile names.
"""
