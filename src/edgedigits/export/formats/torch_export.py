"""torch.export program (.pt2), TorchScript's successor, with a dynamic batch dimension."""

from __future__ import annotations

from pathlib import Path

import torch

from edgedigits.export.formats.context import EXTRA_FILE, ExportContext
from edgedigits.train.model import NumpyModule


def torch_to_pt2(ctx: ExportContext, path: Path) -> None:
    program = torch.export.export(ctx.model.eval(), (ctx.example(),), dynamic_shapes=ctx.dynamic_batch())
    torch.export.save(program, str(path), extra_files={EXTRA_FILE: ctx.metadata_json()})


class ExportedProgramModel(NumpyModule):
    """The program as ``torch.export.load`` gives it back."""

    def __init__(self, path: Path) -> None:
        super().__init__(torch.export.load(str(path)).module())
