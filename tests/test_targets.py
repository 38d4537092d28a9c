"""The edge targets: C for microcontrollers, ExecuTorch, OpenVINO, ORT format and static QDQ int8, and
the registry that drives export, verify and bench for them."""

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import pytest

from conftest import REPO, cli, cli_process
from edgedigits.core import registry
from edgedigits.core.errors import MissingRuntime, UsageError
from edgedigits.core.files import sha256_file
from edgedigits.core.manifest import MANIFEST_NAME, read_manifest
from edgedigits.core.registry import BY_NAME, FORMATS, TORCH, Format, c_compiler
from edgedigits.core.rules import FP32
from edgedigits.export.exporter import ExportConfig, export, select
from edgedigits.export.formats import c_source
from edgedigits.proof.reference import load_reference
from edgedigits.proof.verify import table, verify
from edgedigits.runtime import DigitRecognizer
from edgedigits.runtime.c_model import CFLAGS, footprint
from edgedigits.runtime.session import OnnxModel

PAGE = REPO / "docs" / "notebook_page.jpg"  # the README quickstart page
C_FILES = ("mnist_mlp.c", "mnist_mlp.int8.c")


def only(reference, models: Path, *files: str):
    """``reference`` pointed at ``models`` with its manifest cut to ``files`` (a verify of a few rows)."""
    manifest = read_manifest(models)
    kept = tuple(a for a in manifest.artifacts if a.file in files)
    return replace(reference, models=models, manifest=replace(manifest, artifacts=kept))


@pytest.mark.parametrize("name", C_FILES)
def test_c_file_is_self_contained_warning_free_c99(exported, name):
    models, manifest = exported
    source = (models / name).read_text()
    assert "#include" not in source and "malloc" not in source
    assert not re.findall(r"^static (?!const)[\w ]+ \w+\s*[\[=;]", source, re.MULTILINE)  # no static RAM
    prefix = "mnist_mlp_int8" if "int8" in name else "mnist_mlp"
    assert f"void {prefix}_logits(const float image[784], float logits[10]);" in source
    assert manifest["checkpoint"]["sha256"] in source.split("*/")[0]  # the contract, for people
    proc = subprocess.run(
        [*c_compiler(), *CFLAGS, "-pedantic", "-c", str(models / name), "-o", os.devnull],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    model = DigitRecognizer(models / name, backend="c").model
    assert model.metadata == manifest["metadata"]  # the contract, for code


def test_c_int8_weights_are_within_30_percent_of_fp32(exported):
    models, _ = exported
    fp32, int8 = (footprint(models / name) for name in C_FILES)
    assert int8.flash <= 0.3 * fp32.flash
    stated = [
        int(re.search(r"([\d,]+) bytes of weights", (models / n).read_text())[1].replace(",", ""))
        for n in C_FILES
    ]
    assert stated[1] <= 0.3 * stated[0]
    assert fp32.ram < 8_000 and int8.ram < fp32.ram  # no float copy of the image in the int8 file


def test_c_strings_escape_what_c99_would_misread():
    assert c_source._c_string('a"b\\c??=d') == '"a\\"b\\\\c\\?\\?=d"'
    assert "*/" not in c_source._comment("ends */ here")


@pytest.mark.parametrize(
    ("damaged", "backend"),
    [
        ("mnist_mlp.pte", "executorch/executorch"),
        ("mnist_mlp.int8.c", "c_int8/ctypes"),
        ("mnist_mlp.xml", "openvino/openvino"),
        ("mnist_mlp.bin", "openvino/openvino"),
        ("mnist_mlp.ort", "ort/onnxruntime"),
        ("mnist_mlp.qdq.onnx", "onnx_qdq_int8/onnxruntime"),
    ],
)
def test_a_tampered_artifact_of_each_kind_is_caught(reference, models_copy, damaged, backend):
    blob = bytearray((models_copy / damaged).read_bytes())
    blob[len(blob) // 2] ^= 0x01
    (models_copy / damaged).write_bytes(bytes(blob))
    artifact = BY_NAME[backend.split("/")[0]].filename
    (check,) = verify(only(reference, models_copy, artifact))[1:]
    assert check.backend == backend and check.status == "fail"
    assert check.failures == [f"sha256 of {damaged} does not match the manifest (tampered or re-exported?)"]


def test_changed_c_weight_with_a_forged_hash_fails_on_the_numbers(reference, models_copy):
    path = models_copy / "mnist_mlp.c"
    source = path.read_text()
    head, tail = source.split("static const float fc3_b[10] = {\n    ", 1)
    first, rest = tail.split(",", 1)
    path.write_text(f"{head}static const float fc3_b[10] = {{\n    {float(first.rstrip('f')) + 0.5}f,{rest}")
    manifest = json.loads((models_copy / MANIFEST_NAME).read_text())
    for entry in manifest["artifacts"]:
        if entry["file"] == "mnist_mlp.c":
            entry["sha256"] = sha256_file(path)
    (models_copy / MANIFEST_NAME).write_text(json.dumps(manifest))
    (check,) = verify(only(reference, models_copy, "mnist_mlp.c"))[1:]
    assert check.status == "fail" and check.max_abs_diff == pytest.approx(0.5, abs=1e-3)
    assert check.failures[0].startswith("max |Δlogit| 5.0")


def test_a_pte_from_another_executorch_release_is_refused(reference, models_copy):
    manifest = json.loads((models_copy / MANIFEST_NAME).read_text())
    for entry in manifest["artifacts"]:
        if entry["format"] == "executorch":
            entry["built_with"] = {"executorch": "0.0.1"}
    (models_copy / MANIFEST_NAME).write_text(json.dumps(manifest))
    (check,) = verify(only(reference, models_copy, "mnist_mlp.pte"))[1:]
    assert check.status == "fail" and "was written by executorch 0.0.1" in check.failures[0]


def test_missing_runtime_is_a_visible_skip_and_require_all_fails(release, data_dir, tmp_path):
    models = tmp_path / "m"
    export(ExportConfig(checkpoint=release / "mnist_mlp.pt", out=models, formats=("openvino",)), print)
    shadow = tmp_path / "shadow" / "openvino"  # an openvino that cannot be imported, as if not installed
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named openvino')\n")
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(shadow.parent), os.environ.get("PYTHONPATH")]))
    }
    args = ("verify", "--models", str(models), "--data-dir", str(data_dir))
    proc = cli_process(*args, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "– openvino/openvino" in proc.stdout
    assert "skipped: openvino is not installed: pip install 'edgedigits[openvino]'" in proc.stdout
    proc = cli_process(*args, "--require-all", env=env)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: --require-all: 1 check(s) skipped (openvino/openvino); "
        "openvino is not installed: pip install 'edgedigits[openvino]'"
    ]


def test_export_leaves_out_formats_whose_extra_is_missing(release, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "executorch" else real(name, *a)
    )
    lines = []
    rows = select(
        ExportConfig(checkpoint=release / "mnist_mlp.pt", out=tmp_path, quantize=True), "mlp", lines.append
    )
    assert "executorch" not in [f.name for f in rows] and "executorch_int8" not in [f.name for f in rows]
    assert lines == ["left out executorch, executorch_int8: pip install 'edgedigits[executorch]'"]
    with pytest.raises(MissingRuntime, match=r"--formats executorch needs its runtime: pip install"):
        select(
            ExportConfig(checkpoint=release / "mnist_mlp.pt", out=tmp_path, formats=("executorch",)),
            "mlp",
            print,
        )


def test_export_of_a_cnn_leaves_out_the_c_rows_and_refuses_them_by_name_in_one_line(tmp_path):
    from edgedigits.train.checkpoint import save_checkpoint
    from edgedigits.train.model import TUTORIAL_NORMALIZATION, SmallCNN

    ckpt = tmp_path / "cnn.pt"
    save_checkpoint(ckpt, SmallCNN(), TUTORIAL_NORMALIZATION, recipe="default", config={}, metrics={})
    lines = []
    rows = select(ExportConfig(checkpoint=ckpt, out=tmp_path, quantize=True), "cnn", lines.append)
    assert not {"c", "c_int8"} & {f.name for f in rows} and {"onnx", "tflite_int8"} <= {f.name for f in rows}
    assert lines == ["left out c, c_int8: takes the mlp network only, not a cnn"]
    proc = cli("export", "--checkpoint", str(ckpt), "--out", str(tmp_path / "m"), "--formats", "onnx,c_int8")
    assert (proc.returncode, proc.stderr.strip()) == (
        2,
        "error: --formats c_int8: takes the mlp network only, not a cnn",
    )


def test_export_formats_option_builds_what_a_format_is_built_from(release, tmp_path):
    ckpt = str(release / "mnist_mlp.pt")
    proc = cli("export", "--checkpoint", ckpt, "--out", str(tmp_path / "m"), "--formats", "ort,c")
    assert proc.returncode == 0, proc.stderr
    assert "also exporting onnx: the formats asked for are built from it" in proc.stderr
    manifest = json.loads((tmp_path / "m" / MANIFEST_NAME).read_text())
    assert [a["format"] for a in manifest["artifacts"]] == ["onnx", "ort", "c"]
    for args, message in [
        (["--formats", "onnx,bogus"], "unknown format(s) bogus; choose from onnx, torchscript"),
        (["--formats", "onnx", "--quantize"], "with --formats, name the int8 formats you want"),
        (["--formats", ","], "--formats needs at least one format name"),
    ]:
        proc = cli("export", "--checkpoint", ckpt, "--out", str(tmp_path / "x"), *args)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


def copy_of_onnx(ctx, path):
    path.write_bytes(ctx.written["onnx"].read_bytes())


def test_a_new_row_is_all_a_new_format_needs(release, data_dir, tmp_path, monkeypatch):
    from edgedigits.proof import bench

    row = Format("onnx_copy", ".copy.onnx", f"{__name__}:copy_of_onnx", ("onnx",), ("onnxruntime",), FP32)
    monkeypatch.setitem(BY_NAME, row.name, row)
    monkeypatch.setattr(registry, "FORMATS", (*FORMATS, row))
    lines = []
    models = tmp_path / "m"
    export(
        ExportConfig(checkpoint=release / "mnist_mlp.pt", out=models, formats=("onnx_copy",)), lines.append
    )
    assert "also exporting onnx: the formats asked for are built from it" in lines
    ref = load_reference(models, data_dir)
    checks = {c.backend: c for c in verify(ref)}
    assert checks["onnx_copy/onnxruntime"].status == "pass", table(list(checks.values())).plain()
    assert "onnx_copy/onnxruntime" in [r.backend for r in bench.bench(ref, runs=10)]


def test_build_order_puts_sources_first_and_refuses_cycles(monkeypatch):
    from edgedigits.core.registry import build_order

    rows, added = build_order(["onnx_qdq_int8", "ort", "onnx"])
    assert [f.name for f in rows] == ["onnx", "onnx_qdq_int8", "ort"] and added == ()
    assert all(TORCH in f.built_from or set(f.built_from) <= set(BY_NAME) for f in FORMATS)
    monkeypatch.setitem(BY_NAME, "onnx", replace(BY_NAME["onnx"], built_from=("ort",)))
    with pytest.raises(UsageError, match="built from itself: ort -> onnx -> ort"):
        build_order(["ort"])


BACKEND_FILES = {
    "opencv": "mnist_mlp.onnx",
    "openvino": "mnist_mlp.xml",
    "executorch": "mnist_mlp.pte",
    "c": "mnist_mlp.c",
    "onnxruntime": "mnist_mlp.ort",
    "litert": "mnist_mlp.tflite",
    "tflm": "mnist_mlp.tflite",
    "mnn": "mnist_mlp.mnn",
    "ncnn": "mnist_mlp.ncnn.param",
}


@pytest.mark.parametrize("backend", sorted(BACKEND_FILES))
def test_every_backend_reads_the_same_page(exported, backend):
    models, _ = exported
    frame = cv2.imread(str(PAGE))
    want = DigitRecognizer(models / "mnist_mlp.onnx").recognize(frame)
    recognizer = DigitRecognizer(models / BACKEND_FILES[backend], backend=backend)
    got = recognizer.recognize(frame)
    assert [ln.text for ln in got.lines] == [ln.text for ln in want.lines] and want.lines
    assert [d.box for d in got.digits] == [d.box for d in want.digits]
    assert max(abs(a.confidence - b.confidence) for a, b in zip(got.digits, want.digits, strict=True)) < 1e-4
    assert recognizer.reject == OnnxModel(models / "mnist_mlp.onnx").info.reject  # read from the artifact


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", "c"], "--backend c needs --model (e.g. models/mnist_mlp.c)"),
        (["--backend", "openvino", "--model", "{onnx}"], "--backend openvino runs .xml files"),
        (
            ["--backend", "tpu"],
            "Invalid value for '--backend': Value error, 'tpu' is not one of 'onnxruntime', 'opencv', "
            "'openvino', 'executorch', 'c', 'litert', 'tflm', 'mnn', 'ncnn'.",
        ),
    ],
)
def test_bad_backend_choices_are_one_line(exported, args, message):
    models, _ = exported
    argv = [a.format(onnx=models / "mnist_mlp.onnx") for a in args]
    proc = cli("detect", "--source", str(PAGE), *argv)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_cli_detect_on_the_c_backend(exported):
    models, _ = exported
    proc = cli(
        "detect",
        "--source",
        str(PAGE),
        "--json",
        "--backend",
        "c",
        "--model",
        str(models / "mnist_mlp.int8.c"),
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[0])["lines"]


def test_opencv_openvino_and_c_backends_run_without_torch():
    models = REPO / "models"
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import cv2\n"
        "from edgedigits.runtime import DigitRecognizer\n"
        f"frame = cv2.imread({str(PAGE)!r})\n"
        f"for backend, file in [('opencv', 'mnist_mlp.onnx'), ('openvino', 'mnist_mlp.xml'), "
        f"('c', 'mnist_mlp.int8.c')]:\n"
        f"    r = DigitRecognizer({str(models)!r} + '/' + file, backend=backend).recognize(frame)\n"
        "    print(backend, ' '.join(line.text for line in r.lines))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    page = "2024 17 365 12 48 1990 7 301 86420"  # what CI's core install reads on the shipped page
    assert proc.stdout.splitlines() == [f"{b} {page}" for b in ("opencv", "openvino", "c")]


def test_a_manifest_entry_missing_what_its_row_needs_fails(reference, models_copy):
    manifest = json.loads((models_copy / MANIFEST_NAME).read_text())
    for entry in manifest["artifacts"]:
        if entry["format"] in ("openvino", "executorch"):
            entry.pop("companions", None)
            entry.pop("built_with", None)
    (models_copy / MANIFEST_NAME).write_text(json.dumps(manifest))
    checks = verify(only(reference, models_copy, "mnist_mlp.xml", "mnist_mlp.pte"))[1:]
    assert [c.failures for c in checks] == [
        ["the manifest lists companions [] for mnist_mlp.xml, expected ['mnist_mlp.bin']"],
        ["the manifest records versions of [], expected ['executorch']"],
    ]
