"""The edge runtime: numpy, OpenCV and onnxruntime only. Importing this package never imports torch."""

from edgedigits.runtime.session import ModelInfo, OnnxModel

__all__ = ["ModelInfo", "OnnxModel"]
