import json
import re

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from conftest import cli
from edgedigits.core.files import sha256_file
from edgedigits.core.manifest import MANIFEST_NAME
from edgedigits.core.registry import BY_NAME, default_formats
from edgedigits.core.rules import FP32, INT8
from edgedigits.export.exporter import ExportConfig, export
from edgedigits.proof.reference import load_reference
from edgedigits.proof.verify import EAGER, table, verify
from edgedigits.train.checkpoint import load_model
from edgedigits.train.model import Normalization

EXPORTED = default_formats()  # what export builds by default (web is asked for by name)

CHECKS = 1 + sum(len(f.runtimes) for f in EXPORTED)  # the reference, then every (artifact, consumer)


def test_clean_export_passes_every_check(reference):
    checks = verify(reference)
    backends = {c.backend for c in checks}
    assert {f"{f.name}/{b}" for f in EXPORTED for b in f.runtimes} | {EAGER} == backends
    assert all(c.status == "pass" for c in checks), table(checks).plain()
    for c in checks:
        if c.dtype == "float32":
            assert c.max_abs_diff <= FP32.max_abs_diff and c.agreement == 1.0
        else:
            assert c.agreement >= INT8.min_agreement
        assert c.accuracy > 0.9


def test_cli_verify_table_and_json(exported, data_dir):
    models, _ = exported
    proc = cli("verify", "--models", str(models), "--data-dir", str(data_dir), "--require-all")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("✓ ")]
    assert len(rows) == CHECKS + 1 and "✗" not in proc.stdout  # + the summary line
    assert rows[-1] == f"✓ {CHECKS} passed, 0 failed, 0 skipped"
    assert "\x1b[" not in proc.stdout  # piped: plain text, no colour codes
    assert proc.stderr == ""
    proc = cli("verify", "--models", str(models), "--data-dir", str(data_dir), "--json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 0 and report["passed"] == CHECKS and len(report["checks"]) == CHECKS
    assert report["skipped"] == 0 and report["failed"] == 0


def test_terminal_table_is_rich_and_coloured(reference):
    checks = verify(reference)
    checks[1].failures.append("made up")
    checks[2].skipped = "pip install something"
    out = table(checks)
    text = out.rich(width=200)
    assert "\x1b[32m✓" in text and "\x1b[1;31m✗" in text and "\x1b[33m–" in text  # pass, fail, skip
    plain_rows = [r for r in out.plain().splitlines() if not r.startswith(" ")][1:]
    rich_rows = [re.sub(r"\x1b\[[0-9;]*m", "", r).split() for r in text.splitlines()]
    for row in plain_rows:  # every row of the plain table, its cells in the same order
        assert row.split() in rich_rows, row
    assert "made up" in text and "skipped: pip install something" in text


def test_tampered_bytes_fail_on_the_hash(models_copy, data_dir):
    models = models_copy
    blob = bytearray((models / "mnist_mlp.ts").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (models / "mnist_mlp.ts").write_bytes(bytes(blob))
    proc = cli("verify", "--models", str(models), "--data-dir", str(data_dir))
    assert proc.returncode == 1
    assert "✗ torchscript/torch.jit" in proc.stdout and "sha256 of mnist_mlp.ts does not match" in proc.stdout
    assert proc.stderr.strip().splitlines() == [
        f"error: 1 of {CHECKS} parity checks failed: torchscript/torch.jit (sha256 of mnist_mlp.ts does not "
        "match the manifest (tampered or re-exported?))"
    ]


def test_changed_weight_with_a_forged_hash_fails_on_parity(models_copy, data_dir):
    models = models_copy
    manifest = json.loads((models / MANIFEST_NAME).read_text())
    model = onnx.load(models / "mnist_mlp.onnx")
    init = max(model.graph.initializer, key=lambda t: np.prod(t.dims))
    weights = numpy_helper.to_array(init).copy()
    weights.flat[0] += 0.5
    init.CopyFrom(numpy_helper.from_array(weights, init.name))
    onnx.save(model, models / "mnist_mlp.onnx")
    for entry in manifest["artifacts"]:
        if entry["file"] == "mnist_mlp.onnx":
            entry["sha256"], entry["bytes"] = sha256_file(models / "mnist_mlp.onnx"), 0
    (models / MANIFEST_NAME).write_text(json.dumps(manifest))
    checks = {c.backend: c for c in verify(load_reference(models, data_dir))}
    for backend in ("onnx/onnxruntime", "onnx/onnx.reference", "onnx/cv2.dnn"):
        assert checks[backend].status == "fail" and checks[backend].max_abs_diff > FP32.max_abs_diff
        assert any("max |Δlogit|" in why for why in checks[backend].failures)
    assert checks["torchscript/torch.jit"].status == "pass"


def test_changed_checkpoint_is_refused(models_copy, data_dir):
    models = models_copy
    (models / "mnist_mlp.pt").write_bytes((models / "mnist_mlp.pt").read_bytes() + b"\0")
    proc = cli("verify", "--models", str(models), "--data-dir", str(data_dir))
    assert proc.returncode == 1 and "does not match the manifest's sha256" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_manifest_is_one_line(tmp_path):
    proc = cli("verify", "--models", str(tmp_path))
    assert proc.returncode == 1
    assert (
        proc.stderr.strip()
        == f"error: {tmp_path / MANIFEST_NAME} not found; run `edgedigits export --out {tmp_path}` first"
    )


def test_tutorial_state_dict_exports_and_verifies(release, data_dir, tmp_path):
    out = release
    torch.save(load_model(out / "mnist_mlp.pt").net.state_dict(), tmp_path / "tutorial_state.pt")
    manifest = export(
        ExportConfig(
            checkpoint=tmp_path / "tutorial_state.pt",
            out=tmp_path / "m",
            formats=("onnx", "onnx_int8", "c", "c_int8"),
            normalization=Normalization(0.1307, 0.3081),
        ),
        log=lambda _: None,
    )
    assert manifest.metadata["recipe"] == "external"
    assert json.loads(manifest.metadata["normalization"]) == {"mean": 0.1307, "std": 0.3081}
    checks = verify(load_reference(tmp_path / "m", data_dir))
    assert all(c.status == "pass" for c in checks), table(checks).plain()
    assert checks[0].accuracy > 0.9  # right normalization -> the trained accuracy survives


@pytest.mark.parametrize("runs", [20])
def test_bench_rows_and_goals(reference, runs):
    from edgedigits.proof.bench import bench, goals, table, to_json

    rows = bench(reference, runs=runs)
    names = [r.backend for r in rows]
    assert names[0] == "torch eager" and "onnx/cv2.dnn" in names and "onnx/onnx.reference" not in names
    timed = {f"{f.name}/{b}" for f in EXPORTED for b in f.runtimes if b != "onnx.reference"}
    assert set(names[1:]) == timed
    for r in rows:
        assert r.skipped is None
        assert r.latency_ms_median > 0 and r.latency_ms_p90 >= r.latency_ms_median
        assert r.throughput_per_s > 0 and r.throughput_batch == 10_000 and r.accuracy > 0.9
        fmt = BY_NAME.get(r.backend.split("/")[0])
        assert (r.flash_bytes is not None) == (fmt is not None and fmt.footprint is not None), r.backend
    by = {r.backend: r for r in rows}
    assert by["c/ctypes"].flash_bytes > 400_000 and 0 < by["c_int8/ctypes"].ram_bytes < 8_000
    assert len(goals(rows)) == 4
    assert json.loads(to_json(rows))["threads"] == 1
    assert "flash KiB" in table(rows).plain()


def test_skips_are_not_passes():
    from edgedigits.core.errors import ParityError
    from edgedigits.proof.verify import Check, raise_on_failure, to_json

    checks = [Check("a.onnx", "onnx/onnxruntime", "float32", skipped="pip install x")]
    report = json.loads(to_json(checks))
    assert (report["passed"], report["failed"], report["skipped"]) == (0, 0, 1)
    assert report["checks"][0]["status"] == "skip"
    with pytest.raises(ParityError, match="no artifact was proven: every runtime was skipped"):
        raise_on_failure(checks)
    checks.append(Check("b.c", "c/ctypes", "float32", 0.0, 1.0, 0.99))
    raise_on_failure(checks)  # one proven, one skipped: fine unless every runtime is required
    with pytest.raises(ParityError, match=r"--require-all: 1 check\(s\) skipped \(onnx/onnxruntime\); pip"):
        raise_on_failure(checks, require_all=True)
