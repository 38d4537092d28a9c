"""What every exporter receives: the deployable model, its metadata, calibration images when a
selected format needs them, and the artifacts already written (the ones a format is built from)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from edgedigits.core.contract import IMAGE_SIZE
from edgedigits.core.errors import UsageError
from edgedigits.train.model import DeployedNN

CALIBRATION_BATCH = 64  # calibration images per forward pass of the formats that calibrate
MAX_BATCH = 1 << 20  # the largest batch a file with a dynamic batch dimension promises to take
EXTRA_FILE = "edgedigits.json"  # the contract, as an extra file in the TorchScript and .pt2 archives


@dataclass(frozen=True)
class ExportContext:
    model: DeployedNN
    metadata: dict[str, str]
    opset: int
    calibration: np.ndarray | None = None  # float32 [N, 1, 28, 28] training images, for static int8
    written: dict[str, Path] = field(default_factory=dict)  # format name -> staged file

    def example(self, batch: int = 2) -> torch.Tensor:
        """A batch >= 2 so exporters do not specialize the batch dimension to 1."""
        return torch.rand(batch, 1, IMAGE_SIZE, IMAGE_SIZE, generator=torch.Generator().manual_seed(0))

    def dynamic_batch(self, max_batch: int = MAX_BATCH) -> dict:
        """``dynamic_shapes`` for torch.export and the ONNX exporter: the image's batch dimension free."""
        return {"image": {0: torch.export.Dim("batch", min=1, max=max_batch)}}

    def metadata_json(self) -> str:
        return json.dumps(self.metadata, sort_keys=True)

    def calibration_images(self) -> np.ndarray:
        if self.calibration is None:  # export loads them for every row marked calibrated
            raise UsageError("this format calibrates on training images, but none were loaded")
        return self.calibration
