"""TorchScript int8: torch's dynamic quantization of the Linear layers, then scripted."""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from edgedigits.export.formats.context import ExportContext
from edgedigits.export.formats.quiet import AO_QUANTIZATION, QUANTIZED_TENSORS, quiet_export
from edgedigits.export.formats.torchscript import save_scripted


def torch_to_int8_torchscript(ctx: ExportContext, path: Path) -> None:
    with quiet_export(AO_QUANTIZATION, QUANTIZED_TENSORS):
        quantized = torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(ctx.model).eval(), {torch.nn.Linear}, dtype=torch.qint8
        )
    save_scripted(quantized, ctx, path)
