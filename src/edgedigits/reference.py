"""The eager reference every parity command compares against, loaded once per command and passed down:
the manifest, the checkpoint's model, the test inputs and the eager logits on them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from edgedigits import contract, data
from edgedigits.checkpoint import load_model
from edgedigits.errors import ArtifactError
from edgedigits.files import sha256_file
from edgedigits.manifest import read_manifest
from edgedigits.model import DeployedNN, Normalization

SINGLE_SAMPLES = 64  # test images also run one by one (batch 1)
RANDOM_BATCH = 37  # odd on purpose


@dataclass(frozen=True)
class Inputs:
    test_images: np.ndarray  # float32 [N, 1, 28, 28] in [0, 1]
    test_labels: np.ndarray
    random_images: np.ndarray


@dataclass(frozen=True)
class Reference:
    models: Path
    manifest: dict
    model: DeployedNN
    inputs: Inputs
    full: np.ndarray  # eager logits on the whole test set
    other: np.ndarray  # eager logits on the batch-1 and random-image runs (see ``run_all``)

    @property
    def accuracy(self) -> float:
        return float((self.full.argmax(1) == self.inputs.test_labels).mean())


def reference_model(models: Path, manifest: dict) -> DeployedNN:
    ckpt = (models / manifest["checkpoint"]["file"]).resolve()
    if not ckpt.is_file():
        raise ArtifactError(
            f"the manifest's checkpoint {ckpt} is missing; verify needs it as the eager reference"
        )
    if sha256_file(ckpt) != manifest["checkpoint"]["sha256"]:
        raise ArtifactError(f"{ckpt} does not match the manifest's sha256; re-export from this checkpoint")
    norm = json.loads(manifest["metadata"][contract.META_NORMALIZATION])
    return DeployedNN(load_model(ckpt).net, Normalization(norm["mean"], norm["std"])).eval()


def make_inputs(data_dir: Path | None) -> Inputs:
    test = data.load_split("test", data_dir)
    rng = np.random.default_rng(0)
    return Inputs(
        test_images=data.as_model_input(test.images),
        test_labels=test.labels.astype(np.int64),
        random_images=rng.random((RANDOM_BATCH, 1, 28, 28), dtype=np.float32),
    )


def eager_predict(model: DeployedNN):
    """``predict(images) -> logits`` of the eager reference, in the loaders' numpy convention."""

    def predict(images: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(images)).numpy()

    return predict


def run_all(predict, inputs: Inputs) -> tuple[np.ndarray, np.ndarray]:
    """Logits on (the test set, batched) and (test images one by one, random images batched and one by
    one): batch-1 and odd batch sizes are where exporters specialize shapes wrongly."""
    full = predict(inputs.test_images)
    singles = np.concatenate([predict(inputs.test_images[i : i + 1]) for i in range(SINGLE_SAMPLES)])
    rand = predict(inputs.random_images)
    rand_singles = np.concatenate([predict(inputs.random_images[i : i + 1]) for i in range(RANDOM_BATCH)])
    return full, np.concatenate([singles, rand, rand_singles])


def load_reference(models: Path, data_dir: Path | None) -> Reference:
    manifest = read_manifest(models)
    model = reference_model(models, manifest)
    inputs = make_inputs(data_dir)
    full, other = run_all(eager_predict(model), inputs)
    return Reference(models, manifest, model, inputs, full, other)
