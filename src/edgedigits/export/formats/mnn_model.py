"""MNN (.mnn), Alibaba's mobile runtime, converted from the fp32 ONNX file by MNN's own converter with
the weights kept fp32. The contract goes in the model's ``bizCode`` string, which MNN's runtime hands
back with the model's info.

The converter is called through its extension module (``_tools.mnnconvert``, what ``python -m
MNN.tools.mnnconvert`` calls), not through that command: the command's module imports MNN's usage
logger, which runs ``pip install aliyun-log-python-sdk`` into whatever ``pip`` is on PATH and reports
each conversion over the network.
"""

from __future__ import annotations

from pathlib import Path

from edgedigits.core.errors import ArtifactError
from edgedigits.export.formats.context import ExportContext
from edgedigits.runtime.backends import import_extra, quiet_native

EXTRA = "mnn"


def onnx_to_mnn(ctx: ExportContext, path: Path) -> None:
    args = [
        "mnnconvert",
        "-f",
        "ONNX",
        "--modelFile",
        str(ctx.written["onnx"]),
        "--MNNModel",
        str(path),
        "--bizCode",
        ctx.metadata_json(),
    ]
    with quiet_native(1, 2):  # importing it prints the CPU's features, converting its progress, from C++
        tools = import_extra("_tools", EXTRA)  # MNN's converter (the wheel's top-level extension module)
        ok = tools.mnnconvert(args)
    if not ok or not path.is_file():
        raise ArtifactError(f"MNN's converter did not convert {ctx.written['onnx'].name}")
