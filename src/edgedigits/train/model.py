"""The networks ``train`` trains (the tutorial's ``SimpleNN``, a small CNN) and the deployable wrapper that
carries their input normalization."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from edgedigits.core.choices import Arch
from edgedigits.core.contract import IMAGE_SIZE, NUM_CLASSES
from edgedigits.core.errors import UsageError


@dataclass(frozen=True)
class Normalization:
    """``(x - mean) / std`` applied to [0, 1] pixel intensities before the first layer."""

    mean: float
    std: float

    def __post_init__(self) -> None:
        if not self.std > 0:
            raise UsageError(f"normalization std must be > 0, got {self.std}")

    @classmethod
    def parse(cls, text: str) -> Normalization:
        """Parse ``"MEAN,STD"`` as given on the command line."""
        try:
            mean, std = (float(part) for part in text.split(","))
        except ValueError as exc:
            raise UsageError(f"--normalization must be MEAN,STD (e.g. 0.5,0.5), got {text!r}") from exc
        return cls(mean, std)


TUTORIAL_NORMALIZATION = Normalization(0.5, 0.5)


class SimpleNN(nn.Module):
    """784-128-64-10 with ReLU; parameter names match the tutorial so its state_dicts load as they are."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(IMAGE_SIZE * IMAGE_SIZE, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(x, 1)  # [N, 1, 28, 28] or [N, 784] -> [N, 784]
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


class SmallCNN(nn.Module):
    """Two 5x5 convolutions with pooling (16 and 32 channels), then 128 hidden units: the distill teacher
    and ``train --arch cnn``. Kept narrow: the distill student runs it on every batch and the reader on
    every crop of every frame (32/64 channels cost 4x as much per batch for about +0.1 point).

    With ``background``, an 11th output learns "not a digit" as a class of its own. Training sees the 11
    logits (the loss needs the class); evaluation, calibration and every export see the contract's 10,
    folded by :func:`fold_background`."""

    def __init__(self, background: bool = False) -> None:
        super().__init__()
        self.background = background
        self.conv1 = nn.Conv2d(1, 16, 5, padding=2)
        self.conv2 = nn.Conv2d(16, 32, 5, padding=2)
        self.fc1 = nn.Linear(32 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, NUM_CLASSES + int(background))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [N, 1, 28, 28]
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        logits = self.fc2(F.relu(self.fc1(x.flatten(1))))
        if self.background and not self.training:
            return fold_background(logits)
        return logits


def fold_background(logits: torch.Tensor) -> torch.Tensor:
    """[N, 11] logits (digits, then "not a digit") -> [N, 10] whose softmax is ``p_digit + p_bg / 10``:
    what the net calls background reads flat, as outlier exposure's non-digits do, so the contract (10
    logits, rejection by the top softmax probability) and every runtime stay as they are. This is
    ``torch.logaddexp`` written out: not every exporter's operator set has it, and OpenCV's DNN reads
    the ``max + log(exp(a - max) + exp(b - max))`` form ln 2 too high."""
    # literals, not NUM_CLASSES: TorchScript takes no global ints, tracers no shapes turned into floats
    digits, background = logits[:, :-1], logits[:, -1:] - math.log(10.0)
    return torch.maximum(digits, background) + torch.log1p(torch.exp(-torch.abs(digits - background)))


NETS: dict[Arch, type[nn.Module]] = {Arch.MLP: SimpleNN, Arch.CNN: SmallCNN}


def build_net(arch: Arch | str, background: bool = False) -> nn.Module:
    """``background``: the 11th "not a digit" output (the CNN only; ``recipes.ARCH_OUTLIERS``)."""
    arch = Arch.of(arch, "--arch")
    if not background:
        return NETS[arch]()
    if arch is not Arch.CNN:
        raise UsageError(f"the {arch} network has no background output")
    return SmallCNN(background=True)


def arch_of(net: nn.Module) -> Arch:
    return next(arch for arch, cls in NETS.items() if type(net) is cls)


class DeployedNN(nn.Module):
    """The exported contract: ``image`` in [0, 1], shape [N, 1, 28, 28] -> ``logits`` [N, 10].

    Normalization is folded into the graph so no consumer has to know the training constants.
    """

    def __init__(self, net: nn.Module, normalization: Normalization) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(normalization.mean, dtype=torch.float32))
        self.register_buffer("inv_std", torch.tensor(1.0 / normalization.std, dtype=torch.float32))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net((image - self.mean) * self.inv_std)


class NumpyModule:
    """A torch module in the runtimes' numpy convention: ``predict(images float32 [N,1,28,28]) -> logits``
    (the eager reference, and the TorchScript and torch.export consumers)."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module

    def predict(self, images: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.module(torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))).numpy()
