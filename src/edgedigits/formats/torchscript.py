"""TorchScript fp32 with the contract as an extra file, readable by plain ``torch.jit.load``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from edgedigits.formats.context import ExportContext
from edgedigits.formats.quiet import quiet_export

EXTRA_FILE = "edgedigits.json"


def save_scripted(module: torch.nn.Module, ctx: ExportContext, path: Path) -> None:
    with quiet_export():
        scripted = torch.jit.script(module)
        torch.jit.save(scripted, str(path), _extra_files={EXTRA_FILE: ctx.metadata_json()})


def torch_to_torchscript(ctx: ExportContext, path: Path) -> None:
    save_scripted(ctx.model.eval(), ctx, path)


def load_torchscript(path: Path):
    with quiet_export():
        module = torch.jit.load(str(path), map_location="cpu").eval()

    def predict(images: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return module(torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))).numpy()

    return predict


LOADERS = {"torch.jit": load_torchscript}
