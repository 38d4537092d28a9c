"""Checkpoints: a dict of tensors and plain values, only ever read with ``torch.load(weights_only=True)``."""

from __future__ import annotations

import os
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from edgedigits.core.choices import Arch
from edgedigits.core.errors import CheckpointError, UsageError, first_line
from edgedigits.core.files import write_with_atomic
from edgedigits.train.model import Normalization, arch_of, build_net

FORMAT = "edgedigits-checkpoint"
FORMAT_VERSION = 1
MODEL_CONFIGS = {  # what a checkpoint says its network is; "arch" names the class
    Arch.MLP: {"arch": "SimpleNN", "sizes": [784, 128, 64, 10], "activation": "relu"},
    Arch.CNN: {
        "arch": "SmallCNN",
        "conv": [[1, 16, 5], [16, 32, 5]],
        "sizes": [1568, 128, 10],
        "activation": "relu",
    },
}
SHAPES = {Arch.MLP: "SimpleNN (784-128-64-10)", Arch.CNN: "SmallCNN (conv 16-32, 1568-128-10)"}


@dataclass(frozen=True)
class LoadedModel:
    """A checkpoint's model with what it was trained with; ``normalization`` is None for a bare state_dict."""

    net: nn.Module
    normalization: Normalization | None
    metrics: dict
    recipe: str
    raw: dict
    arch: Arch = Arch.MLP


def save_checkpoint(
    path: str | os.PathLike[str],
    net: nn.Module,
    normalization: Normalization,
    *,
    recipe: str,
    config: dict,
    metrics: dict,
    train_state: dict | None = None,
) -> None:
    """Write atomically; ``train_state`` (optimizer, scheduler, epoch, RNG) makes it resumable."""
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_config": model_config(net),
        "state_dict": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
        "normalization": {"mean": normalization.mean, "std": normalization.std},
        "recipe": recipe,
        "config": config,
        "metrics": metrics,
    }
    if train_state is not None:
        payload["train_state"] = train_state
    write_with_atomic(path, lambda tmp: torch.save(payload, tmp))


def model_config(net: nn.Module) -> dict:
    """What a checkpoint says its network is, with the 11th output of a background class."""
    config = dict(MODEL_CONFIGS[arch_of(net)])
    if getattr(net, "background", False):
        config |= {"sizes": [*config["sizes"][:-1], config["sizes"][-1] + 1], "background": True}
    return config


def read_checkpoint(path: str | os.PathLike[str]) -> dict:
    """Read a checkpoint or a bare tutorial state_dict, refusing anything that would need unpickling code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        why = next((ln.strip() for ln in str(exc).splitlines() if "Unsupported global" in ln), None)
        if why is None:  # not a pickle stream at all (a JSON or text file, say)
            raise CheckpointError(f"{path} is not a readable torch checkpoint (wrong kind of file)") from exc
        raise CheckpointError(f"{path} is not a safe checkpoint; weights_only refused it ({why})") from exc
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as exc:
        raise CheckpointError(
            f"{path} is not a readable torch checkpoint (truncated or corrupt?): {first_line(exc)}"
        ) from exc
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, not a checkpoint or state_dict")
    return obj


def load_model(path: str | os.PathLike[str]) -> LoadedModel:
    """Load an edgedigits checkpoint, or a tutorial ``SimpleNN`` state_dict (then normalization is None)."""
    obj = read_checkpoint(path)
    if obj.get("format") == FORMAT:
        if obj.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(
                f"{path}: checkpoint format_version {obj.get('format_version')} unsupported"
            )
        try:
            state_dict, norm = dict(obj["state_dict"]), obj["normalization"]
            normalization = Normalization(float(norm["mean"]), float(norm["std"]))
            metrics, recipe = dict(obj.get("metrics", {})), str(obj.get("recipe", "unknown"))
        except (KeyError, TypeError, ValueError, UsageError) as exc:
            raise CheckpointError(f"{path}: damaged checkpoint ({type(exc).__name__}: {exc})") from exc
        arch = _arch(obj.get("model_config"), path)
        background = obj["model_config"].get("background") is True
    elif obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        state_dict, normalization, metrics, recipe, arch = obj, None, {}, "external", Arch.MLP
        background = False
    else:
        raise CheckpointError(f"{path} is neither an edgedigits checkpoint nor a SimpleNN state_dict")
    try:
        net = build_net(arch, background)
        net.load_state_dict(state_dict)
    except (RuntimeError, TypeError, AttributeError, UsageError) as exc:
        cnn_background = background and arch is Arch.CNN
        shape = SHAPES[arch].replace("-10)", "-11, background)") if cnn_background else SHAPES[arch]
        raise CheckpointError(f"{path}: weights do not fit {shape}: {first_line(exc)}") from exc
    net.eval()
    return LoadedModel(
        net=net, normalization=normalization, metrics=metrics, recipe=recipe, raw=obj, arch=arch
    )


def _arch(config: object, path: str | os.PathLike[str]) -> Arch:
    """The network a checkpoint's ``model_config`` names."""
    name = config.get("arch") if isinstance(config, dict) else None
    for arch, known in MODEL_CONFIGS.items():
        if name == known["arch"]:
            return arch
    raise CheckpointError(f"{path}: unknown network {name!r} (this edgedigits trains SimpleNN and SmallCNN)")
