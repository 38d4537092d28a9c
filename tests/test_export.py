import json
import logging
import warnings
import zipfile

import numpy as np
import onnx
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edgedigits.core import contract
from edgedigits.core.errors import ArtifactError, UsageError
from edgedigits.core.files import sha256_file
from edgedigits.core.manifest import MANIFEST_NAME, REFERENCE_NAME, read_manifest
from edgedigits.core.registry import BY_NAME, RUNTIME, default_formats
from edgedigits.core.rules import INT8
from edgedigits.export.exporter import ExportConfig, export
from edgedigits.export.formats import c_source, onnx_fp32, quiet
from edgedigits.proof.eager import eager_model
from edgedigits.runtime import OnnxModel
from edgedigits.train.model import Normalization

EXPORTED = default_formats()  # what export builds by default (web is asked for by name)

CONSUMERS = [(f.name, backend) for f in EXPORTED for backend in f.runtimes]
FP32_CONSUMERS = [(name, b) for name, b in CONSUMERS if not BY_NAME[name].int8]


def eager_of(models):
    return eager_model(models, read_manifest(models)).predict


def test_every_registered_format_is_exported_and_covered(exported):
    models, manifest = exported
    assert [a["format"] for a in manifest["artifacts"]] == [f.name for f in EXPORTED]
    assert {name for name, _ in CONSUMERS} == {f.name for f in EXPORTED}
    assert set(BY_NAME) - {f.name for f in EXPORTED} == {"web"}  # asked for by name: test_web_export.py
    for entry in manifest["artifacts"]:
        path = models / entry["file"]
        assert entry["sha256"] == sha256_file(path) and entry["bytes"] == path.stat().st_size
        assert entry["dtype"] == ("int8" if BY_NAME[entry["format"]].int8 else "float32")
        for companion in entry.get("companions", []):
            assert companion["sha256"] == sha256_file(models / companion["file"])
    assert {p.name for p in models.iterdir()} == {n for f in EXPORTED for n in f.files} | {
        MANIFEST_NAME,
        REFERENCE_NAME,
    }


def test_onnx_is_one_checked_file_with_dynamic_batch(exported):
    models, _ = exported
    assert not list(models.glob("*.data")) and not list(models.glob(".export-*"))
    model = onnx.load(models / "mnist_mlp.onnx")
    onnx.checker.check_model(model, full_check=True)
    (inp,) = model.graph.input
    dims = inp.type.tensor_type.shape.dim
    assert inp.name == "image" and dims[0].dim_param and [d.dim_value for d in dims[1:]] == [1, 28, 28]
    assert [o.name for o in model.graph.output] == ["logits"]


@pytest.mark.parametrize(("name", "backend"), FP32_CONSUMERS)
@pytest.mark.parametrize("batch", [1, 7, 256])
def test_fp32_parity_at_dynamic_batch_sizes(exported, name, backend, batch):
    models, manifest = exported
    predict = RUNTIME[backend].open(models / BY_NAME[name].filename).predict
    x = np.random.default_rng(batch).random((batch, 1, 28, 28), dtype=np.float32)
    got, want = predict(x), eager_of(models)(x)
    assert got.shape == (batch, 10)
    assert np.abs(got - want).max() <= BY_NAME[name].rule.max_abs_diff


@pytest.mark.parametrize(("name", "backend"), FP32_CONSUMERS)
def test_fp32_parity_on_generated_inputs(exported, name, backend):
    models, manifest = exported
    predict = RUNTIME[backend].open(models / BY_NAME[name].filename).predict
    eager = eager_of(models)

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        arrays(
            np.float32,
            st.tuples(st.integers(1, 9), st.just(1), st.just(28), st.just(28)),
            elements=st.floats(0, 1, width=32),
        )
    )
    def check(x):
        assert np.abs(predict(x) - eager(x)).max() <= BY_NAME[name].rule.max_abs_diff

    check()


@pytest.mark.parametrize(("name", "backend"), [(n, b) for n, b in CONSUMERS if BY_NAME[n].int8])
def test_int8_agrees_on_the_test_set(exported, data_dir, name, backend):
    from edgedigits.proof.reference import make_inputs

    models, manifest = exported
    inputs = make_inputs(data_dir)
    got = RUNTIME[backend].open(models / BY_NAME[name].filename).predict(inputs.test_images)
    want = eager_of(models)(inputs.test_images)
    assert (got.argmax(1) == want.argmax(1)).mean() >= INT8.min_agreement
    drop = (want.argmax(1) == inputs.test_labels).mean() - (got.argmax(1) == inputs.test_labels).mean()
    assert drop <= INT8.max_accuracy_drop


def test_int8_onnx_holds_integer_ops_and_is_small(exported):
    models, _ = exported
    model = onnx.load(models / "mnist_mlp.int8.onnx")
    ops = {n.op_type for n in model.graph.node}
    assert {"MatMulInteger", "DynamicQuantizeLinear"} <= ops and "MatMul" not in ops
    weights = [i for i in model.graph.initializer if len(i.dims) == 2]
    assert weights and all(i.data_type == onnx.TensorProto.INT8 for i in weights)
    fp32 = (models / "mnist_mlp.onnx").stat().st_size
    assert (models / "mnist_mlp.int8.onnx").stat().st_size <= 0.3 * fp32


def test_int8_torchscript_holds_quantized_linears(exported):
    models, _ = exported
    graph = torch.jit.load(str(models / "mnist_mlp.int8.ts")).inlined_graph
    # each dynamic-quantized Linear scripts an int8 branch and an fp16 branch, both quantized ops
    assert len(graph.findAllNodes("quantized::linear_dynamic")) == 6
    assert graph.findAllNodes("aten::linear") == [] and graph.findAllNodes("aten::matmul") == []


def test_metadata_round_trip_in_every_container(exported):
    models, manifest = exported
    meta = manifest["metadata"]
    assert set(contract.META_KEYS) <= set(meta)
    assert json.loads(meta[contract.META_LABELS]) == list("0123456789")
    assert meta[contract.META_POLARITY] == "light-on-dark" and meta[contract.META_RECIPE] == "default"
    assert meta[contract.META_CHECKPOINT_SHA256] == manifest["checkpoint"]["sha256"]
    for name in ("mnist_mlp.onnx", "mnist_mlp.int8.onnx"):
        props = {p.key: p.value for p in onnx.load(models / name).metadata_props}
        assert meta.items() <= props.items()  # the int8 file also keeps onnxruntime's quantizer notes
    for name in ("mnist_mlp.ts", "mnist_mlp.int8.ts"):
        extra = {"edgedigits.json": ""}
        torch.jit.load(str(models / name), _extra_files=extra)
        assert json.loads(extra["edgedigits.json"]) == meta
    with zipfile.ZipFile(models / "mnist_mlp.pt2") as zf:
        (member,) = [n for n in zf.namelist() if n.endswith("extra/edgedigits.json")]
        assert json.loads(zf.read(member)) == meta
    info = OnnxModel(models / "mnist_mlp.onnx").info
    assert info.labels == tuple("0123456789") and info.test_accuracy == pytest.approx(
        float(meta["test_accuracy"])
    )


@pytest.mark.slow
def test_export_makes_no_deprecation_noise(release, data_dir, tmp_path):
    out = release
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        export(
            ExportConfig(checkpoint=out / "mnist_mlp.pt", out=tmp_path, quantize=True, data_dir=data_dir),
            log=lambda _: None,
        )
    noisy = [w for w in caught if issubclass(w.category, DeprecationWarning | FutureWarning)]
    assert noisy == [], [str(w.message) for w in noisy]
    assert {p.name for p in tmp_path.iterdir()} == {n for f in EXPORTED for n in f.files} | {
        MANIFEST_NAME,
        REFERENCE_NAME,
    }


JIT_SCRIPT = "`torch.jit.script` is deprecated. Please switch to `torch.compile` or `torch.export`."
AO = "torch.ao.quantization is deprecated and will be removed in 2.10."
VERSION_FALLBACK = (
    "The model version conversion is not supported by the onnxscript version converter and fallback is "
    "enabled. The model will be converted using the onnx C API (target version: 17)."
)


def test_quiet_export_drops_only_known_noise_so_other_deprecations_reach_the_caller(caplog):
    """What test_export_makes_no_deprecation_noise counts still reaches the caller from inside
    quiet_export: another deprecation, a known text under another category or logger, or any known
    text once the block is left."""
    fallback = logging.getLogger(quiet.ONNX_VERSION_FALLBACK.logger)
    inside = [
        (JIT_SCRIPT, FutureWarning),  # known: dropped
        (AO, DeprecationWarning),  # known: dropped
        ("`torch.jit.trace` is deprecated. Please switch to `torch.export`.", FutureWarning),
        ("torch.onnx.dynamo_export is deprecated", DeprecationWarning),
        (AO, FutureWarning),  # the known text, another category
    ]
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        with quiet.quiet_export(*quiet.KNOWN):
            for message, category in inside:
                warnings.warn(message, category, stacklevel=1)
            fallback.warning(VERSION_FALLBACK)  # known: dropped
            fallback.warning("The model is deprecated")
            logging.getLogger("onnxscript").warning(VERSION_FALLBACK)  # the known text, another logger
        warnings.warn(JIT_SCRIPT, FutureWarning, stacklevel=1)
        fallback.warning(VERSION_FALLBACK)
    noisy = [w for w in caught if issubclass(w.category, DeprecationWarning | FutureWarning)]
    assert [(str(w.message), w.category) for w in noisy] == [*inside[2:], (JIT_SCRIPT, FutureWarning)]
    assert [(r.name, r.getMessage()) for r in caplog.records] == [
        (fallback.name, "The model is deprecated"),
        ("onnxscript", VERSION_FALLBACK),
        (fallback.name, VERSION_FALLBACK),
    ]


def test_failed_export_leaves_previous_artifacts_intact(release, tmp_path, monkeypatch):
    out = release
    config = ExportConfig(
        checkpoint=out / "mnist_mlp.pt", out=tmp_path, formats=("onnx", "torch_export", "c")
    )
    export(config, log=lambda _: None)
    before = {p.name: sha256_file(p) for p in tmp_path.iterdir()}

    def broken(ctx, path):
        path.write_bytes(b"half")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(c_source, "torch_to_c", broken)  # the row names it; export resolves it when used
    with pytest.raises(ArtifactError, match="export to c failed: RuntimeError: disk on fire"):
        export(config, log=lambda _: None)
    assert {p.name: sha256_file(p) for p in tmp_path.iterdir()} == before


def test_a_narrower_export_removes_what_it_no_longer_writes(release, tmp_path):
    out = release
    formats = ("onnx", "openvino", "onnx_int8", "c_int8")
    export(ExportConfig(checkpoint=out / "mnist_mlp.pt", out=tmp_path, formats=formats), log=lambda _: None)
    assert {p.name for p in tmp_path.glob("mnist_mlp*")} == {
        "mnist_mlp.onnx",
        "mnist_mlp.xml",
        "mnist_mlp.bin",
        "mnist_mlp.int8.onnx",
        "mnist_mlp.int8.c",
    }
    lines = []
    manifest = export(
        ExportConfig(checkpoint=out / "mnist_mlp.pt", out=tmp_path, formats=("onnx",)), lines.append
    )
    assert [a.format for a in manifest.artifacts] == ["onnx"]
    assert {p.name for p in tmp_path.glob("mnist_mlp*")} == {"mnist_mlp.onnx"}
    assert sum(line.startswith("removed stale") for line in lines) == 4  # the .bin beside the .xml too


def test_default_export_is_every_fp32_row_and_quantize_adds_the_int8_ones(exported):
    _, manifest = exported
    assert [a["format"] for a in manifest["artifacts"] if a["dtype"] == "float32"] == [
        f.name for f in EXPORTED if not f.int8
    ]
    assert [a["format"] for a in manifest["artifacts"] if a["dtype"] == "int8"] == [
        f.name for f in EXPORTED if f.int8
    ]


def test_normalization_flag_refused_for_checkpoints_that_carry_one(release, tmp_path):
    out = release
    with pytest.raises(UsageError, match="carries its normalization"):
        export(
            ExportConfig(checkpoint=out / "mnist_mlp.pt", out=tmp_path, normalization=Normalization(0.5, 0.5))
        )


@pytest.mark.parametrize(
    ("kw", "message"), [({"opset": 9}, "--opset"), ({"checkpoint": "nope.pt"}, "no such file")]
)
def test_bad_export_options(tmp_path, release, kw, message):
    from pathlib import Path

    kw = {"checkpoint": release / "mnist_mlp.pt", "out": tmp_path} | {
        k: Path(v) if k == "checkpoint" else v for k, v in kw.items()
    }
    with pytest.raises(UsageError, match=message):
        ExportConfig(**kw)


def test_onnx_set_metadata_overwrites_existing_keys():
    model = onnx.ModelProto()
    onnx_fp32.set_metadata(model, {"a": "1"})
    onnx_fp32.set_metadata(model, {"a": "2", "b": "3"})
    assert {p.key: p.value for p in model.metadata_props} == {"a": "2", "b": "3"}
