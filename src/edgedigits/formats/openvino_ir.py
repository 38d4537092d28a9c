"""OpenVINO IR (.xml graph + .bin weights), converted from the fp32 ONNX with the weights kept fp32.

The contract goes in the IR's rt_info, so the runtime reads it from the .xml like any other artifact.
"""

from __future__ import annotations

from pathlib import Path

from edgedigits.formats.context import ExportContext, Extra
from edgedigits.runtime.backends import OPENVINO_RT_INFO, OpenVinoModel, import_extra

EXTRA = Extra("openvino", "openvino")


def onnx_to_openvino(ctx: ExportContext, path: Path) -> None:
    ov = import_extra(EXTRA.module, EXTRA.name)
    model = ov.convert_model(str(ctx.written["onnx"]))
    model.set_rt_info(ctx.metadata_json(), list(OPENVINO_RT_INFO))
    ov.save_model(model, str(path), compress_to_fp16=False)  # writes path and path.with_suffix(".bin")


def load_openvino(path: Path):
    return OpenVinoModel(path).predict


LOADERS = {"openvino": load_openvino}
