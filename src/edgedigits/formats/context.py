"""What every exporter receives: the deployable model, its metadata, and the artifacts already written."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from edgedigits.contract import IMAGE_SIZE
from edgedigits.model import DeployedNN


@dataclass(frozen=True)
class ExportContext:
    model: DeployedNN
    metadata: dict[str, str]
    opset: int
    written: dict[str, Path] = field(default_factory=dict)  # format name -> staged file, in registry order

    def example(self, batch: int = 2) -> torch.Tensor:
        """A batch >= 2 so exporters do not specialize the batch dimension to 1."""
        return torch.rand(batch, 1, IMAGE_SIZE, IMAGE_SIZE, generator=torch.Generator().manual_seed(0))

    def metadata_json(self) -> str:
        return json.dumps(self.metadata, sort_keys=True)
