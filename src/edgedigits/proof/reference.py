"""The reference every parity command compares against, loaded once per command and passed down (torch-free).

``export`` runs the eager model on the inputs below and stores its logits beside the manifest
(``reference.npz``, hashed like any artifact), so a device with no torch proves its artifacts against
the same numbers the exporting machine saw. Where torch is installed, ``verify`` also runs the eager
model again and checks the stored logits against it.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgedigits.core import data
from edgedigits.core.errors import ArtifactError, DataError
from edgedigits.core.files import sha256_file, write_bytes_atomic
from edgedigits.core.manifest import Manifest, read_manifest

SINGLE_SAMPLES = 64  # test images also run one by one (batch 1)
RANDOM_BATCH = 37  # odd on purpose


@dataclass(frozen=True)
class Inputs:
    test_images: np.ndarray  # float32 [N, 1, 28, 28] in [0, 1]
    test_labels: np.ndarray
    random_images: np.ndarray

    @property
    def test_sha256(self) -> str:
        """Which test set this is: a device must prove on the images the reference was made on."""
        return hashlib.sha256(np.ascontiguousarray(self.test_images).tobytes()).hexdigest()


@dataclass(frozen=True)
class Reference:
    models: Path
    manifest: Manifest
    inputs: Inputs
    full: np.ndarray  # eager logits on the whole test set
    other: np.ndarray  # eager logits on the batch-1 and random-image runs (see ``run_all``)

    @property
    def accuracy(self) -> float:
        return float((self.full.argmax(1) == self.inputs.test_labels).mean())


def make_inputs(data_dir: Path | None, random_images: np.ndarray | None = None) -> Inputs:
    """The MNIST test set (torch-free IDX reader) and the random batch (a fresh seeded one at export;
    the stored one when proving)."""
    test = data.load_split("test", data_dir)
    if random_images is None:
        random_images = np.random.default_rng(0).random((RANDOM_BATCH, 1, 28, 28), dtype=np.float32)
    return Inputs(
        test_images=data.as_model_input(test.images),
        test_labels=test.labels.astype(np.int64),
        random_images=random_images,
    )


def run_all(predict, inputs: Inputs) -> tuple[np.ndarray, np.ndarray]:
    """Logits on (the test set, batched) and (test images one by one, random images batched and one by
    one): batch-1 and odd batch sizes are where exporters specialize shapes wrongly."""
    full = predict(inputs.test_images)
    singles = np.concatenate([predict(inputs.test_images[i : i + 1]) for i in range(SINGLE_SAMPLES)])
    rand = predict(inputs.random_images)
    rand_singles = np.concatenate([predict(inputs.random_images[i : i + 1]) for i in range(RANDOM_BATCH)])
    return full, np.concatenate([singles, rand, rand_singles])


def write_reference(path: Path, inputs: Inputs, full: np.ndarray, other: np.ndarray) -> dict:
    """Store the eager logits (and the random batch they were run on); returns the manifest entry."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, full=full, other=other, random_images=inputs.random_images)
    write_bytes_atomic(path, buffer.getvalue())
    return {
        "file": path.name,
        "sha256": sha256_file(path),
        "bytes": path.stat().st_size,
        "test_sha256": inputs.test_sha256,
    }


def load_reference(models: Path, data_dir: Path | None) -> Reference:
    """The manifest, the stored eager logits (checked against their hash) and the inputs they were made
    on (checked against the test set's hash)."""
    manifest = read_manifest(models)
    entry = manifest.reference
    if entry is None:
        raise ArtifactError(
            f"{models / 'manifest.json'} records no reference outputs; re-run `edgedigits export` "
            "(this release stores the eager model's logits for proof without torch)"
        )
    path = models / str(entry["file"])
    if not path.is_file():
        raise ArtifactError(f"{path} is missing; verify needs the eager logits export stored there")
    if sha256_file(path) != entry["sha256"]:
        raise ArtifactError(f"sha256 of {path.name} does not match the manifest (tampered or re-exported?)")
    try:
        with np.load(path) as stored:
            full, other, random_images = stored["full"], stored["other"], stored["random_images"]
    except (OSError, KeyError, ValueError) as exc:
        raise ArtifactError(f"{path} is not an edgedigits reference file ({exc})") from exc
    inputs = make_inputs(data_dir, random_images)
    if inputs.test_sha256 != entry["test_sha256"]:
        raise DataError(
            f"the MNIST test images under {data.resolve_root(data_dir)} are not the ones {path.name} was "
            "made on; point --data-dir at the canonical files"
        )
    return Reference(models, manifest, inputs, full, other)
