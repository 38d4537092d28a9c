"""onnxruntime's ORT format (.ort): what onnxruntime's mobile and minimal builds load.

Converted from the fp32 ONNX with only the basic (semantics-preserving, hardware-independent) graph
optimizations baked in, so the file runs alike on ARM and x86; the metadata table comes along.
"""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

from edgedigits.export.formats.context import ExportContext
from edgedigits.runtime.session import session_options


def onnx_to_ort(ctx: ExportContext, path: Path) -> None:
    opts = session_options()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    opts.optimized_model_filepath = str(path)
    opts.add_session_config_entry("session.save_model_format", "ORT")
    ort.InferenceSession(str(ctx.written["onnx"]), sess_options=opts, providers=["CPUExecutionProvider"])
