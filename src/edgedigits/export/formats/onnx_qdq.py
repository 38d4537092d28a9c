"""ONNX static int8 in QDQ form: QuantizeLinear/DequantizeLinear pairs around every tensor, with scales
calibrated on training images. This is the form NPU toolchains (QNN, Vitis AI, TensorRT, OpenVINO's
NPU plugin) take; activations uint8, weights int8 per output channel (the usual "U8S8")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)

from edgedigits.core.contract import INPUT_NAME
from edgedigits.export.formats.context import CALIBRATION_BATCH, ExportContext
from edgedigits.export.formats.onnx_int8 import quantize_onnx


class _Batches(CalibrationDataReader):
    def __init__(self, images: np.ndarray) -> None:
        self._it = iter(
            {INPUT_NAME: images[i : i + CALIBRATION_BATCH]} for i in range(0, len(images), CALIBRATION_BATCH)
        )

    def get_next(self) -> dict | None:
        return next(self._it, None)


def onnx_to_qdq_onnx(ctx: ExportContext, path: Path) -> None:
    quantize_onnx(
        ctx,
        path,
        lambda prepared, quantized: quantize_static(
            prepared,
            quantized,
            _Batches(ctx.calibration_images()),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        ),
    )
