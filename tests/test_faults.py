"""Faults and bad input: killed processes, corrupt files, wrong options. Every refusal is one line."""

import json
import re
import signal
from pathlib import Path

import pytest
import torch

from conftest import cli
from edgedigits.core.files import sha256_file
from edgedigits.core.manifest import MANIFEST_NAME
from edgedigits.proof.reference import load_reference
from edgedigits.proof.verify import verify
from held import Held

SRC = Path(__file__).resolve().parents[1] / "src"


def error_lines(proc) -> list[str]:
    assert "Traceback" not in proc.stderr, proc.stderr
    return [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]


def no_partial_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp") or p.name.startswith(".export-")]


TRAIN = ["--recipe", "default", "--epochs", "3", "--batch-size", "512", "--device", "cpu", "--seed", "5"]


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(data_dir, tmp_path):
    cut, whole = tmp_path / "cut", tmp_path / "whole"
    with Held("train", *TRAIN, "--data-dir", str(data_dir), "--out", str(cut), hold="train:2:1") as run:
        run.wait_until_held()  # a step into epoch 2, epoch 1 on disk
        run.proc.send_signal(signal.SIGKILL)
        code, _, _ = run.finish()
    assert code == -signal.SIGKILL
    saved = torch.load(cut / "mnist_mlp.pt", weights_only=True)
    assert saved["train_state"]["epoch"] == 1
    resumed = cli(
        "train", *TRAIN, "--data-dir", str(data_dir), "--out", str(cut), "--resume", str(cut / "mnist_mlp.pt")
    )
    assert resumed.returncode == 0, resumed.stderr
    assert cli("train", *TRAIN, "--data-dir", str(data_dir), "--out", str(whole)).returncode == 0
    a = json.loads((cut / "train_metrics.json").read_text())
    b = json.loads((whole / "train_metrics.json").read_text())
    assert [h["epoch"] for h in a["history"]] == [1, 2, 3]
    assert a["test_accuracy"] == pytest.approx(b["test_accuracy"], abs=0.002)
    assert no_partial_files(cut)


@pytest.mark.slow
def test_sigint_stops_cleanly_with_a_resume_hint(data_dir, tmp_path):
    # the tutorial recipe: what is interrupted does not matter, and it starts in seconds
    quick = ["--recipe", "seed", "--epochs", "3", "--batch-size", "512", "--device", "cpu"]
    with Held("train", *quick, "--data-dir", str(data_dir), "--out", str(tmp_path), hold="train:2:1") as run:
        run.wait_until_held()
        run.proc.send_signal(signal.SIGINT)
        code, _, stderr = run.finish()
    assert code == 130
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == (
        f"error: interrupted; the last finished epoch is in {tmp_path / 'mnist_mlp.pt'}, "
        f"continue with --resume {tmp_path / 'mnist_mlp.pt'}"
    )
    assert torch.load(tmp_path / "mnist_mlp.pt", weights_only=True)["train_state"]["epoch"] == 1
    assert no_partial_files(tmp_path)


@pytest.mark.slow
def test_killed_export_leaves_the_previous_export_intact(release, data_dir, tmp_path):
    out = release
    models = tmp_path / "models"
    assert cli("export", "--checkpoint", str(out / "mnist_mlp.pt"), "--out", str(models)).returncode == 0
    before = {p.name: sha256_file(p) for p in models.iterdir()}
    args = ["export", "--checkpoint", str(out / "mnist_mlp.pt"), "--out", str(models), "--quantize"]
    with Held(*args, hold="export:1") as run:
        run.wait_until_held()  # its first artifact staged, the rest to come
        assert list(models.glob(".export-*"))
        run.proc.send_signal(signal.SIGKILL)
        run.finish()
    after = {p.name: sha256_file(p) for p in models.iterdir() if not p.name.startswith(".export-")}
    assert after == before
    assert all(c.status == "pass" for c in verify(load_reference(models, data_dir)))
    assert cli("export", "--checkpoint", str(out / "mnist_mlp.pt"), "--out", str(models)).returncode == 0
    assert no_partial_files(models)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


@pytest.mark.parametrize(
    ("damage", "command", "message"),
    [
        (
            "truncate-ckpt",
            ["export", "--checkpoint", "{m}/mnist_mlp.pt", "--out", "{t}/o"],
            "truncated or corrupt",
        ),
        (
            "json-ckpt",
            ["export", "--checkpoint", "{m}/manifest.json", "--out", "{t}/o"],
            "not a readable torch",
        ),
        ("truncate-onnx", ["bench", "--models", "{m}", "--runs", "10"], "does not match the manifest"),
        ("truncate-onnx", ["report", "--models", "{m}", "--out", "{t}/r"], "does not match the manifest"),
        (
            "truncate-onnx",
            ["detect", "--source", "{img}", "--model", "{m}/mnist_mlp.onnx"],
            "differs from its manifest",
        ),
        (
            "truncate-onnx",
            ["webcam", "--camera", "{img}", "--model", "{m}/mnist_mlp.onnx", "--no-display"],
            "differs from its manifest",
        ),
        (
            "junk-onnx",
            ["detect", "--source", "{img}", "--model", "{t}/junk.onnx"],
            "not a loadable ONNX model",
        ),
        ("truncate-ckpt", ["verify", "--models", "{m}"], "does not match the manifest's sha256"),
        ("truncate-onnx", ["verify", "--models", "{m}"], "parity checks failed"),
    ],
)
def test_damaged_files_are_refused_by_every_command(
    models_copy, tmp_path, data_dir, damage, command, message
):
    import cv2
    import numpy as np

    cv2.imwrite(str(tmp_path / "frame.png"), np.full((60, 80, 3), 220, np.uint8))
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x07garbage")
    if damage == "truncate-ckpt":
        _truncate(models_copy / "mnist_mlp.pt")
    elif damage == "truncate-onnx":
        _truncate(models_copy / "mnist_mlp.onnx")
    args = [a.format(m=models_copy, t=tmp_path, img=tmp_path / "frame.png") for a in command]
    if args[0] in ("verify", "bench", "report"):
        args += ["--data-dir", str(data_dir)]
    proc = cli(*args)
    assert proc.returncode == 1
    lines = error_lines(proc)
    assert len(lines) == 1 and message in lines[0], proc.stderr


def test_checkpoints_are_only_loaded_with_weights_only():
    calls = [(p, m) for p in SRC.rglob("*.py") for m in re.finditer(r"torch\.load\(([^)]*)\)", p.read_text())]
    assert calls, "expected torch.load somewhere"
    for path, match in calls:
        assert "weights_only=True" in match.group(1), f"{path}: {match.group(0)}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--epochs", "-1"], "--epochs must be >= 1, got -1"),
        (["train", "--epochs", "many"], "Invalid value for '--epochs'"),
        (["train", "--device", "tpu"], "'--device': Value error, 'tpu' is not one of 'auto', 'cpu', 'cuda'"),
        (["train", "--recipe", "fast"], "'fast' is not one of 'default', 'distill', 'seed'"),
        (["train", "--out", "{file}"], "is a file; give a folder"),
        (["train", "--data-dir", "{file}"], "--data-dir {file} is a file"),
        (["train", "--out", "/proc/edgedigits/out"], "is not writable"),
        (["export", "--out", "/proc/edgedigits/out", "--checkpoint", "{file}"], "is not writable"),
        (["export", "--opset", "5", "--checkpoint", "{file}"], "--opset must be between 17 and 23"),
        (["verify", "--models", "{file}"], "is a file; give the folder"),
        (["bench", "--models", "{file}"], "is a file; give the folder"),
        (["bench", "--runs", "5"], "Invalid value for '--runs': Input should be greater than or equal to 10"),
        (
            ["report", "--bench-runs", "9"],
            "Invalid value for '--bench-runs': Input should be greater than or equal to 10",
        ),
        (["report", "--out", "{file}"], "is a file; give a folder"),
        (["detect", "--source", "x.png", "--max-frames", "0"], "--max-frames must be >= 1"),
        (
            ["webcam", "--polarity", "sideways"],
            "Invalid value for '--polarity': Value error, 'sideways' is not one of 'dark-on-light', "
            "'light-on-dark', 'auto'.",
        ),
        (["trian"], "No such command 'trian'"),
    ],
)
def test_bad_cli_input_is_one_line_and_exit_2(tmp_path, args, message):
    file = tmp_path / "a_file.txt"
    file.write_text("x")
    proc = cli(*[a.format(file=file) for a in args])
    assert proc.returncode == 2, proc.stderr
    lines = error_lines(proc)
    assert len(lines) == 1 and message.format(file=file) in lines[0], proc.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_request_without_cuda_is_exit_2(tmp_path):
    proc = cli("train", "--device", "cuda", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert error_lines(proc) == [
        "error: --device cuda was asked for but CUDA is not available here; use --device cpu or auto"
    ]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda m: m["artifacts"][0].pop("file"), "artifact #0 needs string fields"),
        (lambda m: m["artifacts"][0].update(file="../escape.onnx"), "must be a file name, or a path inside"),
        (lambda m: m["artifacts"][0].update(file="a/../../x.onnx"), "must be a file name, or a path inside"),
        (lambda m: m["artifacts"][0].update(file="/etc/passwd"), "must be a file name, or a path inside"),
        (lambda m: m["checkpoint"].pop("sha256"), "checkpoint needs file and sha256"),
        (lambda m: m["artifacts"][0].pop("bytes"), "artifact #0 needs an integer bytes field"),
        (lambda m: m["metadata"].update(normalization="{not json"), "normalization is missing or malformed"),
    ],
)
def test_damaged_manifest_is_one_line(models_copy, data_dir, mutate, message):
    manifest = json.loads((models_copy / MANIFEST_NAME).read_text())
    mutate(manifest)
    (models_copy / MANIFEST_NAME).write_text(json.dumps(manifest))
    for command in ("verify", "bench"):
        proc = cli(command, "--models", str(models_copy), "--data-dir", str(data_dir))
        assert proc.returncode == 1
        lines = error_lines(proc)
        assert len(lines) == 1 and message in lines[0], proc.stderr


def test_onnx_metadata_that_breaks_the_contract_is_refused(tmp_path):
    import onnx

    from edgedigits.core.errors import ArtifactError
    from edgedigits.export.formats.onnx_fp32 import set_metadata
    from edgedigits.runtime import OnnxModel, default_model_path

    for meta, message in [
        ({"labels": "{oops"}, "unreadable metadata"),
        ({"labels": '["a", "b"]'}, "are not 10"),
        ({"input_polarity": "dark-on-light"}, "the runtime feeds light-on-dark"),
    ]:
        model = onnx.load(default_model_path())
        set_metadata(model, meta)
        onnx.save(model, tmp_path / "m.onnx")
        with pytest.raises(ArtifactError, match=message):
            OnnxModel(tmp_path / "m.onnx")


def test_damaged_training_metrics_stop_the_report(models_copy, data_dir, tmp_path):
    (models_copy / "train_metrics.json").write_text('{"history": "nope"}')
    proc = cli(
        "report", "--models", str(models_copy), "--data-dir", str(data_dir), "--out", str(tmp_path / "r")
    )
    assert proc.returncode == 1
    lines = error_lines(proc)
    assert len(lines) == 1 and "train_metrics.json is damaged" in lines[0]


def test_detect_never_overwrites_its_input_folder(tmp_path):
    import cv2
    import numpy as np

    cv2.imwrite(str(tmp_path / "a.png"), np.full((40, 40), 200, np.uint8))
    before = (tmp_path / "a.png").read_bytes()
    for output, message in [
        (tmp_path, "is the source folder"),
        (tmp_path / "x.png", "needs an output folder"),
    ]:
        proc = cli("detect", "--source", str(tmp_path), "--output", str(output))
        assert proc.returncode == 2 and message in error_lines(proc)[0]
    assert (tmp_path / "a.png").read_bytes() == before
    proc = cli("detect", "--source", "²")
    assert proc.returncode == 1 and "is not a camera index" in error_lines(proc)[0]
