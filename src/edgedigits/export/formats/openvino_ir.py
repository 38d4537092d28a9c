"""OpenVINO IR (.xml graph + .bin weights), converted from the fp32 ONNX with the weights kept fp32.

The contract goes in the IR's rt_info, so the runtime reads it from the .xml like any other artifact.
The ONNX is read by OpenVINO's own frontend (``Core.read_model``) rather than ``convert_model``, whose
telemetry forks a process to report each conversion (a fork that deadlocks a process where JAX, which
the LiteRT exporter imports, is running threads).
"""

from __future__ import annotations

from pathlib import Path

from edgedigits.export.formats.context import ExportContext
from edgedigits.runtime.backends import OPENVINO_RT_INFO, import_extra


def onnx_to_openvino(ctx: ExportContext, path: Path) -> None:
    ov = import_extra("openvino", "openvino")
    model = ov.Core().read_model(str(ctx.written["onnx"]))
    model.set_rt_info(ctx.metadata_json(), list(OPENVINO_RT_INFO))
    ov.save_model(model, str(path), compress_to_fp16=False)  # writes path and path.with_suffix(".bin")
