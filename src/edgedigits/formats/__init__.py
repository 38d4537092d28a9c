"""The export-format registry: one module per format, one row per artifact.

A row names the format, its file suffix, the function that writes it, the consumers that load it
(each ``loader(path) -> predict``, ``predict(images float32 [N,1,28,28]) -> logits [N,10]``), the
parity tolerance on logits, and whether it is int8. Adding a format is one module and one row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgedigits.formats import onnx_fp32, onnx_int8, torch_export, torchscript, torchscript_int8
from edgedigits.formats.context import ExportContext

__all__ = ["BY_NAME", "FORMATS", "ExportContext", "Format", "selected"]

Predict = Callable[[np.ndarray], np.ndarray]
Loader = Callable[[Path], Predict]

FP32_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Format:
    name: str
    suffix: str
    export: Callable[[ExportContext, Path], None]
    loaders: Mapping[str, Loader]
    tolerance: float | None  # max |Δlogit| vs eager; None: int8, judged on top-1 agreement and accuracy
    int8: bool

    @property
    def filename(self) -> str:
        return f"mnist_mlp{self.suffix}"


FORMATS: tuple[Format, ...] = (
    Format("onnx", ".onnx", onnx_fp32.torch_to_onnx, onnx_fp32.LOADERS, FP32_TOLERANCE, int8=False),
    Format(
        "torchscript",
        ".ts",
        torchscript.torch_to_torchscript,
        torchscript.LOADERS,
        FP32_TOLERANCE,
        int8=False,
    ),
    Format(
        "torch_export", ".pt2", torch_export.torch_to_pt2, torch_export.LOADERS, FP32_TOLERANCE, int8=False
    ),
    Format("onnx_int8", ".int8.onnx", onnx_int8.onnx_to_int8_onnx, onnx_int8.LOADERS, None, int8=True),
    Format(
        "torchscript_int8",
        ".int8.ts",
        torchscript_int8.torch_to_int8_torchscript,
        torchscript_int8.LOADERS,
        None,
        int8=True,
    ),
)
BY_NAME = {f.name: f for f in FORMATS}


def selected(quantize: bool) -> tuple[Format, ...]:
    return tuple(f for f in FORMATS if quantize or not f.int8)
