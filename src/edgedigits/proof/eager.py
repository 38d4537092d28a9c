"""The eager torch model behind a manifest, where torch is installed: verify checks the stored reference
logits against it, bench times it beside the artifacts. Imported only when torch is here."""

from __future__ import annotations

from pathlib import Path

from edgedigits.core.errors import ArtifactError
from edgedigits.core.files import sha256_file
from edgedigits.core.manifest import Manifest
from edgedigits.train.checkpoint import load_model
from edgedigits.train.model import DeployedNN, Normalization, NumpyModule


def eager_model(models: Path, manifest: Manifest) -> NumpyModule:
    ckpt = (models / manifest.checkpoint.file).resolve()
    if not ckpt.is_file():
        raise ArtifactError(
            f"the manifest's checkpoint {ckpt} is missing; the eager check needs it (or run without torch)"
        )
    if sha256_file(ckpt) != manifest.checkpoint.sha256:
        raise ArtifactError(f"{ckpt} does not match the manifest's sha256; re-export from this checkpoint")
    return NumpyModule(DeployedNN(load_model(ckpt).net, Normalization(*manifest.normalization())).eval())
