"""torch.export program (.pt2), TorchScript's successor, with a dynamic batch dimension."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from edgedigits.formats.context import ExportContext
from edgedigits.formats.quiet import quiet_export

EXTRA_FILE = "edgedigits.json"


def torch_to_pt2(ctx: ExportContext, path: Path) -> None:
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    with quiet_export():
        program = torch.export.export(
            ctx.model.eval(), (ctx.example(),), dynamic_shapes={"image": {0: batch}}
        )
        torch.export.save(program, str(path), extra_files={EXTRA_FILE: ctx.metadata_json()})


def load_pt2(path: Path):
    with quiet_export():
        module = torch.export.load(str(path)).module()

    def predict(images: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return module(torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))).numpy()

    return predict


LOADERS = {"torch.export": load_pt2}
