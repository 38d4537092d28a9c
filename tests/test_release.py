"""The release model committed in models/ is what the runtime ships and what the manifest says."""

import json
from pathlib import Path

from edgedigits.core import data
from edgedigits.core.files import sha256_file
from edgedigits.core.registry import default_formats
from edgedigits.runtime import OnnxModel, default_model_path

EXPORTED = default_formats()  # what export builds by default (web is asked for by name)

MODELS = Path(__file__).resolve().parents[1] / "models"


def test_manifest_hashes_match_the_shipped_files():
    manifest = json.loads((MODELS / "manifest.json").read_text())
    assert [a["format"] for a in manifest["artifacts"]] == [f.name for f in EXPORTED]  # every target
    for entry in manifest["artifacts"]:
        for file in (entry, *entry.get("companions", [])):
            path = MODELS / file["file"]
            assert sha256_file(path) == file["sha256"], file["file"]
            assert path.stat().st_size == file["bytes"]
    assert sha256_file(MODELS / manifest["checkpoint"]["file"]) == manifest["checkpoint"]["sha256"]


def test_runtime_default_model_is_the_release_onnx():
    assert sha256_file(default_model_path()) == sha256_file(MODELS / "mnist_mlp.onnx")


def test_shipped_onnx_accuracy(data_dir):
    test = data.load_split("test", data_dir)
    logits = OnnxModel(MODELS / "mnist_mlp.onnx").predict(data.as_model_input(test.images))
    accuracy = float((logits.argmax(1) == test.labels).mean())
    assert accuracy >= 0.985
    metrics = json.loads((MODELS / "train_metrics.json").read_text())
    assert metrics["recipe"] == "default" and abs(metrics["test_accuracy"] - accuracy) < 1e-3
