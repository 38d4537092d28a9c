"""Correctness oracles: independent readings of an artifact that verify runs and bench does not time."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgedigits.core.contract import INPUT_NAME, OUTPUT_NAME


class OnnxReference:
    """onnx's own pure-Python evaluator: a reading of the ONNX file that shares no code with onnxruntime."""

    def __init__(self, path: Path) -> None:
        from onnx.reference import ReferenceEvaluator  # the train extra; the registry row says so

        self.evaluator = ReferenceEvaluator(str(path))

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self.evaluator.run([OUTPUT_NAME], {INPUT_NAME: images.astype(np.float32)})[0]
