"""TorchScript fp32 with the contract as an extra file, readable by plain ``torch.jit.load``."""

from __future__ import annotations

from pathlib import Path

import torch

from edgedigits.export.formats.context import EXTRA_FILE, ExportContext
from edgedigits.export.formats.quiet import JIT_LOAD, JIT_SAVE, JIT_SCRIPT, quiet_export
from edgedigits.train.model import NumpyModule


def save_scripted(module: torch.nn.Module, ctx: ExportContext, path: Path) -> None:
    with quiet_export(JIT_SCRIPT, JIT_SAVE):
        scripted = torch.jit.script(module)
        torch.jit.save(scripted, str(path), _extra_files={EXTRA_FILE: ctx.metadata_json()})


def torch_to_torchscript(ctx: ExportContext, path: Path) -> None:
    save_scripted(ctx.model.eval(), ctx, path)


class TorchScriptModel(NumpyModule):
    """The file as libtorch runs it: plain ``torch.jit.load``, no edgedigits code."""

    def __init__(self, path: Path) -> None:
        with quiet_export(JIT_LOAD):
            super().__init__(torch.jit.load(str(path), map_location="cpu").eval())
