"""The phone and microcontroller formats: LiteRT (.tflite, fp32 and full-integer int8) on LiteRT's and
TensorFlow Lite Micro's interpreters, MNN and ncnn, each proven by its own runtime.

The fast tests run on the shipped release artifacts in models/ (a copy where they damage one); the
slow ones export the rows from the release checkpoint."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import REPO, cli
from edgedigits.core.errors import ParityError
from edgedigits.core.files import sha256_file
from edgedigits.core.manifest import MANIFEST_NAME
from edgedigits.core.registry import BY_NAME, RUNTIME, backends
from edgedigits.proof.reference import load_reference
from edgedigits.proof.verify import raise_on_failure, table, verify
from edgedigits.runtime import DigitRecognizer
from test_targets import only  # a verify of a few rows, as the other target tests cut it

MODELS = REPO / "models"
PAGE = REPO / "docs" / "notebook_page.jpg"
NEW = ("tflite", "tflite_int8", "mnn", "ncnn")
# every new (format, runtime) pair, by the file that it runs
PAIRS = [(BY_NAME[f].filename, f"{f}/{r}") for f in NEW for r in BY_NAME[f].runtimes]
NEW_FILES = [name for f in NEW for name in BY_NAME[f].files]

pytest.importorskip("ai_edge_litert")
pytest.importorskip("tflite_micro")
pytest.importorskip("MNN")
pytest.importorskip("ncnn")


@pytest.fixture(scope="module")
def shipped(data_dir):
    return load_reference(MODELS, data_dir)


@pytest.fixture
def shipped_copy(tmp_path) -> Path:
    """A writable copy of the shipped models/ (artifacts, manifest, reference, checkpoint)."""
    dst = tmp_path / "models"
    shutil.copytree(MODELS, dst)
    return dst


def forge_hashes(models: Path) -> None:
    """Rewrite the manifest's hashes to match the files as they are now (what a forger would do)."""
    manifest = json.loads((models / MANIFEST_NAME).read_text())
    for entry in manifest["artifacts"]:
        for file in (entry, *entry.get("companions", [])):
            file["sha256"] = sha256_file(models / file["file"])
            file["bytes"] = (models / file["file"]).stat().st_size
    (models / MANIFEST_NAME).write_text(json.dumps(manifest))


def test_new_rows_are_backends_with_their_extras():
    offered = backends()
    for name, extra in (("litert", "litert"), ("tflm", "litert"), ("mnn", "mnn"), ("ncnn", "ncnn")):
        assert offered[name] is RUNTIME[name] and RUNTIME[name].needs.extra == extra
    assert BY_NAME["tflite_int8"].calibrated and BY_NAME["tflite_int8"].built_from == ("tflite",)
    assert BY_NAME["mnn"].built_from == ("onnx",)
    assert BY_NAME["ncnn"].files == ("mnist_mlp.ncnn.param", "mnist_mlp.ncnn.bin", "mnist_mlp.ncnn.json")
    # the export tools never enter the core install or the train extra
    text = (REPO / "pyproject.toml").read_text()
    train = text.split("train = [", 1)[1].split("]", 1)[0]
    assert "litert" not in train and "pnnx" not in train and "MNN" not in train


@pytest.mark.parametrize(("file", "backend"), PAIRS)
def test_each_runtime_reads_the_contract_from_the_file(file, backend):
    manifest = json.loads((MODELS / MANIFEST_NAME).read_text())
    model = RUNTIME[backend.split("/")[1]].open(MODELS / file)
    assert model.info.metadata == manifest["metadata"]
    assert model.info.reject.score == json.loads(manifest["metadata"]["reject"])["score"]


def test_tflite_files_carry_aligned_buffers_and_int8_is_full_integer():
    from ai_edge_litert import schema_py_generated as schema

    from edgedigits.runtime.tflite import LiteRtModel, TflmModel

    for name in ("mnist_mlp.tflite", "mnist_mlp.int8.tflite"):
        data = (MODELS / name).read_bytes()
        model = schema.Model.GetRootAsModel(data, 0)
        for i in range(model.BuffersLength()):
            buffer = model.Buffers(i)
            if buffer.DataLength():  # constant data that TFLM's kernels read in place
                assert buffer._tab.Vector(buffer._tab.Offset(4)) % 16 == 0, (name, i)
    for model in (LiteRtModel(MODELS / "mnist_mlp.int8.tflite"), TflmModel(MODELS / "mnist_mlp.int8.tflite")):
        assert model.input.dtype == np.int8 and model.output.dtype == np.int8
        assert model.input.scale > 0 and model.output.scale > 0
    assert TflmModel(MODELS / "mnist_mlp.tflite").input.dtype == np.float32
    fp32, int8 = ((MODELS / n).stat().st_size for n in ("mnist_mlp.tflite", "mnist_mlp.int8.tflite"))
    assert int8 <= 0.3 * fp32


def test_tflm_is_within_one_quantization_step_of_litert(shipped):
    """TFLM's reference kernels and LiteRT's optimized ones round int8 differently: at most one step of
    the output's scale apart, the same answer."""
    from edgedigits.runtime.tflite import LiteRtModel, TflmModel

    images = shipped.inputs.test_images
    litert, tflm = (m(MODELS / "mnist_mlp.int8.tflite") for m in (LiteRtModel, TflmModel))
    a, b = litert.predict(images), tflm.predict(images)
    step = litert.output.scale
    assert np.abs(a - b).max() <= step * 1.001
    assert (a.argmax(1) == b.argmax(1)).mean() >= 0.999
    assert (np.abs(a - b) > step / 2).mean() < 0.1  # a step apart on a few per cent of the outputs


def test_tflm_arena_is_the_ram_and_the_flatbuffer_the_flash():
    from edgedigits.runtime.tflite import footprint

    fp32, int8 = (footprint(MODELS / n) for n in ("mnist_mlp.tflite", "mnist_mlp.int8.tflite"))
    assert fp32.flash == (MODELS / "mnist_mlp.tflite").stat().st_size
    assert int8.flash == (MODELS / "mnist_mlp.int8.tflite").stat().st_size
    assert 0 < int8.ram < fp32.ram < 16_384  # int8 activations take a quarter of the fp32 ones' room


@pytest.mark.parametrize("damaged", NEW_FILES)
def test_a_changed_byte_in_each_new_file_fails_on_its_hash(shipped, shipped_copy, damaged):
    blob = bytearray((shipped_copy / damaged).read_bytes())
    blob[len(blob) // 2] ^= 0x01
    (shipped_copy / damaged).write_bytes(bytes(blob))
    fmt = next(f for f in NEW if damaged in BY_NAME[f].files)
    checks = verify(only(shipped, shipped_copy, BY_NAME[fmt].filename))[1:]
    assert [c.backend for c in checks] == [f"{fmt}/{r}" for r in BY_NAME[fmt].runtimes]
    for check in checks:
        assert check.status == "fail"
        assert check.failures == [
            f"sha256 of {damaged} does not match the manifest (tampered or re-exported?)"
        ]


def _fc3_bias(models: Path) -> bytes:
    import torch

    from edgedigits.train.checkpoint import load_model

    with torch.no_grad():
        return load_model(models / "mnist_mlp.pt").net.fc3.bias.numpy().astype("<f4").tobytes()


@pytest.mark.parametrize("file", ["mnist_mlp.tflite", "mnist_mlp.mnn", "mnist_mlp.ncnn.bin"])
def test_a_changed_weight_with_a_forged_hash_fails_on_the_numbers(shipped, shipped_copy, file):
    """The last layer's first bias, found by its bytes in the file, raised by 0.5: the hash is forged to
    match, so only the numbers can tell."""
    bias = _fc3_bias(shipped_copy)
    blob = (shipped_copy / file).read_bytes()
    assert blob.count(bias) == 1
    changed = np.frombuffer(bias, "<f4").copy()
    changed[0] += 0.5
    (shipped_copy / file).write_bytes(blob.replace(bias, changed.tobytes()))
    forge_hashes(shipped_copy)
    fmt = next(f for f in NEW if file in BY_NAME[f].files)
    checks = verify(only(shipped, shipped_copy, BY_NAME[fmt].filename))[1:]
    assert checks and all(c.status == "fail" for c in checks), table(checks).plain()
    for check in checks:
        assert check.max_abs_diff == pytest.approx(0.5, abs=1e-3)
        assert check.failures[0].startswith("max |Δlogit| 5.0")


def test_changed_int8_weights_with_a_forged_hash_fail_on_the_answers(shipped, shipped_copy):
    """The int8 file's largest buffer (the first layer's weights) zeroed: the int8 rule gates answers."""
    from ai_edge_litert import schema_py_generated as schema

    path = shipped_copy / "mnist_mlp.int8.tflite"
    blob = bytearray(path.read_bytes())
    model = schema.Model.GetRootAsModel(blob, 0)
    largest = max(range(model.BuffersLength()), key=lambda i: model.Buffers(i).DataLength())
    buffer = model.Buffers(largest)
    start, size = buffer._tab.Vector(buffer._tab.Offset(4)), buffer.DataLength()
    assert size == 784 * 128
    blob[start : start + size] = bytes(size)
    path.write_bytes(bytes(blob))
    forge_hashes(shipped_copy)
    checks = verify(only(shipped, shipped_copy, "mnist_mlp.int8.tflite"))[1:]
    assert [c.backend for c in checks] == ["tflite_int8/litert", "tflite_int8/tflm"]
    for check in checks:
        assert check.status == "fail" and check.agreement < 0.5
        assert any(f.startswith("top-1 agreement") for f in check.failures), check.failures


def test_a_forged_ncnn_contract_is_refused_by_the_runtime(shipped, shipped_copy):
    """ncnn's contract lives in the sidecar: a sidecar that promises another input (hash forged) is
    refused by the loader, as an ONNX file stating it would be."""
    sidecar = shipped_copy / "mnist_mlp.ncnn.json"
    meta = json.loads(sidecar.read_text())
    meta["input_polarity"] = "dark-on-light"
    sidecar.write_text(json.dumps(meta))
    forge_hashes(shipped_copy)
    (check,) = verify(only(shipped, shipped_copy, "mnist_mlp.ncnn.param"))[1:]
    assert check.status == "fail" and "expects dark-on-light input" in check.failures[0]


def test_a_missing_runtime_is_a_visible_skip_and_fatal_under_require_all(shipped, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    absent = {"ai_edge_litert", "tflite_micro", "MNN", "ncnn"}
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in absent else real(name, *a)
    )
    checks = verify(only(shipped, MODELS, *(BY_NAME[f].filename for f in NEW)))[1:]
    assert sorted(c.backend for c in checks) == sorted(b for _, b in PAIRS)
    hints = {c.backend.split("/")[1]: c.skipped for c in checks}
    assert all(c.status == "skip" for c in checks)
    assert hints == {
        "litert": "pip install 'edgedigits[litert]'",
        "tflm": "pip install 'edgedigits[litert]'",
        "mnn": "pip install 'edgedigits[mnn]'",
        "ncnn": "pip install 'edgedigits[ncnn]'",
    }
    assert "– tflite/tflm" in table(checks).plain()
    with pytest.raises(
        ParityError, match=r"--require-all: 6 check\(s\) skipped \(tflite/litert, tflite/tflm, mnn/mnn"
    ):
        raise_on_failure(checks, require_all=True)


def test_the_int8_tflite_reads_the_page_on_both_runtimes():
    frame = cv2.imread(str(PAGE))
    want = [ln.text for ln in DigitRecognizer(MODELS / "mnist_mlp.onnx").recognize(frame).lines]
    for backend in ("litert", "tflm"):
        got = DigitRecognizer(MODELS / "mnist_mlp.int8.tflite", backend=backend).recognize(frame)
        assert [ln.text for ln in got.lines] == want


def test_a_backend_refuses_another_runtimes_file():
    proc = cli(
        "detect", "--source", str(PAGE), "--backend", "mnn", "--model", str(MODELS / "mnist_mlp.tflite")
    )
    assert proc.returncode == 2 and "--backend mnn runs .mnn files (e.g. models/mnist_mlp.mnn)" in proc.stderr
    proc = cli(
        "detect", "--source", str(PAGE), "--backend", "ncnn", "--model", str(MODELS / "mnist_mlp.onnx")
    )
    assert proc.returncode == 2 and "--backend ncnn runs .ncnn.param files" in proc.stderr


def test_the_new_backends_read_pages_without_torch():
    """With torch blocked: the same lines as onnxruntime, and for the fp32 files the same boxes and
    confidences within 1e-4."""
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import cv2\n"
        "from edgedigits.runtime import DigitRecognizer\n"
        f"frame = cv2.imread({str(PAGE)!r})\n"
        f"want = DigitRecognizer({str(MODELS / 'mnist_mlp.onnx')!r}).recognize(frame)\n"
        "for backend, file in [('litert', 'mnist_mlp.tflite'), ('tflm', 'mnist_mlp.tflite'), "
        "('tflm', 'mnist_mlp.int8.tflite'), ('mnn', 'mnist_mlp.mnn'), ('ncnn', 'mnist_mlp.ncnn.param')]:\n"
        f"    r = DigitRecognizer({str(MODELS)!r} + '/' + file, backend=backend).recognize(frame)\n"
        "    if 'int8' not in file:\n"
        "        assert [d.box for d in r.digits] == [d.box for d in want.digits], backend\n"
        "        assert max(abs(a.confidence - b.confidence) for a, b in zip(r.digits, want.digits)) < 1e-4\n"
        "    print(backend, ' '.join(line.text for line in r.lines))\n"
        "assert 'torch' not in {m.split('.')[0] for m, v in sys.modules.items() if v is not None}\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    page = "2024 17 365 12 48 1990 7 301 86420"
    assert proc.stdout.splitlines() == [f"{b} {page}" for b in ("litert", "tflm", "tflm", "mnn", "ncnn")]


@pytest.mark.slow
def test_export_writes_the_new_rows_and_each_runtime_proves_them(release, data_dir, tmp_path):
    """From the release checkpoint: the four rows (and the ONNX and .tflite they are built from), proven
    by verify; bench gives the .tflite rows TFLM's arena as RAM and the flatbuffer as flash."""
    pytest.importorskip("litert_torch")
    pytest.importorskip("ai_edge_quantizer")
    pytest.importorskip("pnnx")
    from edgedigits.export.exporter import ExportConfig, export
    from edgedigits.proof import bench

    models = tmp_path / "m"
    lines = []
    export(
        ExportConfig(checkpoint=release / "mnist_mlp.pt", out=models, formats=NEW, data_dir=data_dir),
        lines.append,
    )
    assert "also exporting onnx: the formats asked for are built from it" in lines
    assert sorted(p.name for p in models.iterdir() if p.name.startswith("mnist_mlp")) == sorted(
        ["mnist_mlp.onnx", *NEW_FILES]
    )
    ref = load_reference(models, data_dir)
    checks = verify(ref)
    assert all(c.status == "pass" for c in checks), table(checks).plain()
    assert {c.backend for c in checks[1:]} == {b for _, b in PAIRS} | {
        "onnx/onnxruntime",
        "onnx/onnx.reference",
        "onnx/cv2.dnn",
    }
    rows = {r.backend: r for r in bench.bench(only(ref, models, "mnist_mlp.int8.tflite"), runs=10)}
    tflm = rows["tflite_int8/tflm"]
    assert tflm.flash_bytes == (models / "mnist_mlp.int8.tflite").stat().st_size
    assert 0 < tflm.ram_bytes < 16_384 and tflm.accuracy > 0.98


@pytest.mark.slow
def test_cli_verify_requires_every_shipped_runtime(data_dir):
    proc = cli("verify", "--models", str(MODELS), "--data-dir", str(data_dir), "--require-all")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for _, backend in PAIRS:
        assert f"✓ {backend} " in proc.stdout
