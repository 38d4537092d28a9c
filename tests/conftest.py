"""Shared fixtures. MNIST comes from $EDGEDIGITS_DATA or the checkout's sibling ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    root = Path(os.environ.get("EDGEDIGITS_DATA") or REPO.parent / "shared" / "data")
    if not (root / "MNIST" / "raw").is_dir():
        pytest.fail(f"MNIST test data not found under {root}/MNIST/raw; set EDGEDIGITS_DATA")
    return root


@pytest.fixture(scope="session")
def trained(tmp_path_factory, data_dir):
    """One short real training run (1 epoch of the default recipe) shared by the suite."""
    from edgedigits.recipes import TrainConfig
    from edgedigits.training import train

    out = tmp_path_factory.mktemp("trained")
    result = train(TrainConfig(recipe="default", epochs=1, data_dir=data_dir, out=out, seed=0))
    return out, result


@pytest.fixture(scope="session")
def exported(tmp_path_factory, trained):
    """Every registered format (int8 included) exported from the shared training run."""
    from edgedigits.exporting import ExportConfig, export

    out, _ = trained
    models = tmp_path_factory.mktemp("exported")
    manifest = export(
        ExportConfig(checkpoint=out / "mnist_mlp.pt", out=models, quantize=True), log=lambda _: None
    )
    return models, manifest


@pytest.fixture
def models_copy(exported, tmp_path):
    """A private, writable copy of the exported models with the checkpoint beside them (to damage)."""
    import json
    import shutil

    models, manifest = exported
    dst = tmp_path / "models"
    shutil.copytree(models, dst)
    shutil.copy(models / manifest["checkpoint"]["file"], dst / "mnist_mlp.pt")
    manifest = dict(manifest, checkpoint=dict(manifest["checkpoint"], file="mnist_mlp.pt"))
    (dst / "manifest.json").write_text(json.dumps(manifest))
    return dst


@pytest.fixture(scope="session")
def recognizer():
    """The shipped release model in the torch-free runtime."""
    from edgedigits.runtime import DigitRecognizer

    return DigitRecognizer()


@pytest.fixture(scope="session")
def test_split(data_dir):
    from edgedigits import data

    return data.load_split("test", data_dir)
