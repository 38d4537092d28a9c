"""Proof on the device: verify and bench with no torch, against the logits export stored; the stored
logits themselves are protected by their hash, checked against the eager model where torch is here,
and tied to the test set they were made on."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys

import numpy as np

from conftest import cli
from edgedigits.core.files import sha256_file
from edgedigits.core.manifest import MANIFEST_NAME, REFERENCE_NAME
from edgedigits.core.registry import FORMATS, RUNTIME, default_formats
from edgedigits.proof.verify import EAGER

EXPORTED = default_formats()  # what export builds by default (web is asked for by name)

# what a device's core install lacks: torch, onnx, and the runtimes that are extras
BLOCKED = (
    *("torch", "torchvision", "onnx", "onnxscript", "openvino", "executorch"),
    *("ai_edge_litert", "tflite_micro", "MNN", "ncnn"),
)


def core_cli(*args: str) -> subprocess.CompletedProcess:
    """``edgedigits ARGS`` in a fresh interpreter where the extras cannot be imported (a core install)."""
    code = (
        "import sys\n"
        f"for name in {BLOCKED!r}: sys.modules[name] = None\n"
        f"sys.argv = ['edgedigits', *{list(args)!r}]\n"
        "from edgedigits.cli import main\n"
        "main()\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def core_runtimes() -> set[str]:
    """The runtime rows a core install runs: no extra, or only a C compiler."""
    return {name for name, r in RUNTIME.items() if r.needs is None or r.needs.c_compiler}


def test_verify_runs_on_a_core_install_against_the_stored_logits(exported, data_dir):
    models, _ = exported
    proc = core_cli("verify", "--models", str(models), "--data-dir", str(data_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    status = {c["backend"]: c["status"] for c in report["checks"]}
    want = {f"{f.name}/{r}": "pass" if r in core_runtimes() else "skip" for f in EXPORTED for r in f.runtimes}
    assert status == {EAGER: "skip"} | want
    assert report["passed"] == sum(s == "pass" for s in want.values()) and report["failed"] == 0
    skipped = {c["backend"]: c["skipped"] for c in report["checks"] if c["status"] == "skip"}
    assert skipped["torchscript/torch.jit"] == "pip install 'edgedigits[train]'"
    assert skipped["openvino/openvino"] == "pip install 'edgedigits[openvino]'"
    proc = core_cli("verify", "--models", str(models), "--data-dir", str(data_dir), "--require-all")
    assert proc.returncode == 1 and proc.stderr.startswith("error: --require-all: ")


def test_bench_runs_on_a_core_install(exported, data_dir):
    models, _ = exported
    proc = core_cli("bench", "--models", str(models), "--data-dir", str(data_dir), "--runs", "10", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["backend"]: r for r in json.loads(proc.stdout)["rows"]}
    assert rows["torch eager"]["skipped"] == "pip install 'edgedigits[train]'"
    for name in ("onnx/onnxruntime", "onnx/cv2.dnn", "ort/onnxruntime", "c/ctypes", "c_int8/ctypes"):
        assert rows[name]["skipped"] is None and rows[name]["accuracy"] > 0.98, name
    assert rows["c_int8/ctypes"]["flash_bytes"] < 0.3 * rows["c/ctypes"]["flash_bytes"]


def test_a_tampered_artifact_fails_on_a_core_install(models_copy, data_dir):
    blob = bytearray((models_copy / "mnist_mlp.int8.onnx").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (models_copy / "mnist_mlp.int8.onnx").write_bytes(bytes(blob))
    proc = core_cli("verify", "--models", str(models_copy), "--data-dir", str(data_dir))
    assert proc.returncode == 1
    checks = 1 + sum(len(f.runtimes) for f in EXPORTED)
    assert proc.stderr.strip().splitlines() == [
        f"error: 1 of {checks} parity checks failed: onnx_int8/onnxruntime (sha256 of mnist_mlp.int8.onnx "
        "does not match the manifest (tampered or re-exported?))"
    ]


def test_a_tampered_reference_fails_on_its_hash(models_copy, data_dir):
    blob = bytearray((models_copy / REFERENCE_NAME).read_bytes())
    blob[-100] ^= 0xFF
    (models_copy / REFERENCE_NAME).write_bytes(bytes(blob))
    for run in (cli, core_cli):
        proc = run("verify", "--models", str(models_copy), "--data-dir", str(data_dir))
        assert proc.returncode == 1
        assert proc.stderr.strip() == (
            f"error: sha256 of {REFERENCE_NAME} does not match the manifest (tampered or re-exported?)"
        )


def forge_reference(models, change) -> None:
    """Rewrite the stored logits with ``change`` and forge the manifest's hash to match."""
    with np.load(models / REFERENCE_NAME) as stored:
        arrays = {k: stored[k].copy() for k in stored.files}
    change(arrays)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    (models / REFERENCE_NAME).write_bytes(buffer.getvalue())
    manifest = json.loads((models / MANIFEST_NAME).read_text())
    manifest["reference"]["sha256"] = sha256_file(models / REFERENCE_NAME)
    (models / MANIFEST_NAME).write_text(json.dumps(manifest))


def test_forged_reference_logits_fail_against_the_eager_model_and_every_artifact(models_copy, data_dir):
    def shift(arrays):
        arrays["full"][:, 3] += 0.01  # small, but 100x the fp32 rule

    forge_reference(models_copy, shift)
    proc = cli("verify", "--models", str(models_copy), "--data-dir", str(data_dir), "--json")
    assert proc.returncode == 1
    checks = {c["backend"]: c for c in json.loads(proc.stdout)["checks"]}
    assert checks[EAGER]["status"] == "fail" and checks[EAGER]["max_abs_diff"] > 0.009
    fp32 = [c for c in checks.values() if c["dtype"] == "float32" and c["backend"] != EAGER]
    assert fp32 and all(c["status"] == "fail" for c in fp32)


def test_the_reference_is_tied_to_its_test_set(models_copy, data_dir, tmp_path):
    other = tmp_path / "data" / "MNIST" / "raw"
    shutil.copytree(data_dir / "MNIST" / "raw", other)
    images = bytearray((other / "t10k-images-idx3-ubyte").read_bytes())
    images[-1] ^= 0x01  # one pixel of the last test image
    (other / "t10k-images-idx3-ubyte").write_bytes(bytes(images))
    proc = cli("verify", "--models", str(models_copy), "--data-dir", str(tmp_path / "data"))
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"error: the MNIST test images under {tmp_path / 'data'} are not the ones {REFERENCE_NAME} was made "
        "on; point --data-dir at the canonical files"
    )


def test_a_manifest_without_a_reference_says_to_re_export(models_copy, data_dir):
    manifest = json.loads((models_copy / MANIFEST_NAME).read_text())
    del manifest["reference"]
    (models_copy / MANIFEST_NAME).write_text(json.dumps(manifest))
    proc = cli("verify", "--models", str(models_copy), "--data-dir", str(data_dir))
    assert proc.returncode == 1 and "records no reference outputs; re-run `edgedigits export`" in proc.stderr


def test_formats_tells_a_bare_device_what_it_can_export_and_run():
    proc = core_cli("formats", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["format"]: r for r in json.loads(proc.stdout)["formats"]}
    assert list(rows) == [f.name for f in FORMATS]
    assert all(r["export_missing"] == "pip install 'edgedigits[train]'" for r in rows.values())
    runtimes = {r["format"]: {rt["name"]: rt["missing"] for rt in r["runtimes"]} for r in rows.values()}
    assert runtimes["onnx"] == {
        "onnxruntime": None,
        "onnx.reference": "pip install 'edgedigits[train]'",
        "cv2.dnn": None,
    }
    assert runtimes["executorch"] == {"executorch": "pip install 'edgedigits[executorch]'"}
    assert runtimes["c_int8"] == {"ctypes": None}
    assert rows["onnx_qdq_int8"]["dtype"] == "int8" and rows["openvino"]["files"] == [
        "mnist_mlp.xml",
        "mnist_mlp.bin",
    ]
