"""OpenVINO IR (.xml graph + .bin weights), converted from the fp32 ONNX with the weights kept fp32.

The contract goes in the IR's rt_info, so the runtime reads it from the .xml like any other artifact.
"""

from __future__ import annotations

from pathlib import Path

from edgedigits.export.formats.context import ExportContext
from edgedigits.runtime.backends import OPENVINO_RT_INFO, import_extra


def onnx_to_openvino(ctx: ExportContext, path: Path) -> None:
    ov = import_extra("openvino", "openvino")
    model = ov.convert_model(str(ctx.written["onnx"]))
    model.set_rt_info(ctx.metadata_json(), list(OPENVINO_RT_INFO))
    ov.save_model(model, str(path), compress_to_fp16=False)  # writes path and path.with_suffix(".bin")
