"""ONNX fp32: one self-contained file with a dynamic batch dimension and the contract in metadata_props."""

from __future__ import annotations

from pathlib import Path

import onnx
import torch

from edgedigits.core.contract import INPUT_NAME, OUTPUT_NAME
from edgedigits.export.formats.context import ExportContext
from edgedigits.export.formats.quiet import ONNX_OPSET_RAISED, ONNX_VERSION_FALLBACK, quiet_export


def set_metadata(model: onnx.ModelProto, metadata: dict[str, str]) -> None:
    existing = {p.key: p for p in model.metadata_props}
    for key, value in metadata.items():
        prop = existing.get(key) or model.metadata_props.add()
        prop.key, prop.value = key, value


def torch_to_onnx(ctx: ExportContext, path: Path) -> None:
    with quiet_export(ONNX_OPSET_RAISED, ONNX_VERSION_FALLBACK):
        program = torch.onnx.export(
            ctx.model.eval(),
            (ctx.example(),),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=ctx.dynamic_batch(),
            opset_version=ctx.opset,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    save_checked(program.model_proto, ctx, path)


def save_checked(model: onnx.ModelProto, ctx: ExportContext, path: Path) -> None:
    """Every ONNX file we write: our producer name, the contract in metadata_props, a full check."""
    model.producer_name = "edgedigits"
    set_metadata(model, ctx.metadata)
    onnx.checker.check_model(model, full_check=True)
    onnx.save_model(model, path)
