"""Shared fixtures. MNIST comes from $EDGEDIGITS_DATA or the checkout's sibling ../shared/data."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from unittest import mock

import pytest

REPO = Path(__file__).resolve().parents[1]
# the web export takes onnxruntime-web from the checkout's node_modules (`npm ci`), never the network
ORT_WEB = REPO / "node_modules" / "onnxruntime-web"
os.environ.setdefault("EDGEDIGITS_ORT_WEB", str(ORT_WEB))


def cli(*args: str) -> subprocess.CompletedProcess:
    """``edgedigits ARGS`` through the real entry point (parsing, one-line errors, exit codes) in this
    interpreter, which has torch and the runtimes imported already (``from conftest import cli``).
    ``cli_process`` where the process itself matters: signals, native libraries writing to fd 2, the
    environment, what a fresh interpreter imports."""
    from edgedigits.cli import main

    out, err = io.StringIO(), io.StringIO()
    with mock.patch.object(sys, "argv", ["edgedigits", *args]), redirect_stdout(out), redirect_stderr(err):
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return subprocess.CompletedProcess(["edgedigits", *args], code, out.getvalue(), err.getvalue())


def cli_process(*args: str, env=None, timeout=240) -> subprocess.CompletedProcess:
    """``edgedigits ARGS`` in a fresh interpreter, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "edgedigits", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.fixture(scope="session")
def data_dir() -> Path:
    root = Path(os.environ.get("EDGEDIGITS_DATA") or REPO.parent / "shared" / "data")
    if not (root / "MNIST" / "raw").is_dir():
        pytest.fail(f"MNIST test data not found under {root}/MNIST/raw; set EDGEDIGITS_DATA")
    return root


@pytest.fixture(scope="session")
def trained(tmp_path_factory, data_dir):
    """One short real training run (1 epoch of the default recipe) shared by the suite."""
    from edgedigits.train.loop import train
    from edgedigits.train.recipes import TrainConfig

    out = tmp_path_factory.mktemp("trained")
    result = train(TrainConfig(recipe="default", epochs=1, data_dir=data_dir, out=out, seed=0))
    return out, result


@pytest.fixture(scope="session")
def release(tmp_path_factory) -> Path:
    """A folder holding a copy of the shipped release checkpoint (default recipe) and its metrics: what
    the export and proof tests start from, without paying for training."""
    import shutil

    out = tmp_path_factory.mktemp("release")
    for name in ("mnist_mlp.pt", "train_metrics.json"):
        shutil.copy(REPO / "models" / name, out / name)
    return out


@pytest.fixture(scope="session")
def web_export(tmp_path_factory, release, data_dir) -> Path:
    """The web target exported from the release checkpoint: the export folder (``web/`` inside)."""
    from edgedigits.export.exporter import ExportConfig, export

    if not ORT_WEB.is_dir():
        pytest.fail("node_modules/onnxruntime-web is missing: run `npm ci` in the checkout")
    models = tmp_path_factory.mktemp("web_export")
    export(
        ExportConfig(checkpoint=release / "mnist_mlp.pt", out=models, formats=("web",), data_dir=data_dir),
        log=lambda _: None,
    )
    return models


@pytest.fixture(scope="session")
def exported(tmp_path_factory, release, data_dir):
    """Every registered format (int8 included) exported from the release checkpoint."""
    from edgedigits.export.exporter import ExportConfig, export

    out = release
    models = tmp_path_factory.mktemp("exported")
    export(
        ExportConfig(checkpoint=out / "mnist_mlp.pt", out=models, quantize=True, data_dir=data_dir),
        log=lambda _: None,
    )
    return models, json.loads((models / "manifest.json").read_text())  # as the file holds it


@pytest.fixture(scope="session")
def reference(exported, data_dir):
    """The eager reference of the shared export, loaded once (as each command loads it once)."""
    from edgedigits.proof.reference import load_reference

    return load_reference(exported[0], data_dir)


@pytest.fixture
def models_copy(exported, tmp_path):
    """A private, writable copy of the exported models with the checkpoint beside them (to damage)."""
    import json
    import shutil

    models, manifest = exported
    dst = tmp_path / "models"
    shutil.copytree(models, dst)  # every format's files, companions (.bin) included
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
    from edgedigits.core import data

    return data.load_split("test", data_dir)
