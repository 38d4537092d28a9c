"""The edge runtime: numpy, OpenCV and onnxruntime only. Importing this package never imports torch."""

from edgedigits.runtime.recognizer import Detection, DigitRecognizer, Line, Recognition, default_model_path
from edgedigits.runtime.session import ModelInfo, OnnxModel

__all__ = [
    "Detection",
    "DigitRecognizer",
    "Line",
    "ModelInfo",
    "OnnxModel",
    "Recognition",
    "default_model_path",
]
