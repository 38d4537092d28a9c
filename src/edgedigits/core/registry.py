"""The format table: one row per artifact kind, holding all there is to know about it, and the runtimes
that run them. Torch-free and lazy: a row names its modules as ``"module:attribute"`` strings and
nothing is imported until a row is used, so a bare device reads the same table that export, verify,
bench and the reader's ``--backend`` read.

A format row names its file suffix (and the files written beside it), the function that writes it,
what it is built from (the torch model, or other rows' files, which export builds first), the
runtimes that run it, the pass rule verify holds it to, what export needs installed beyond torch,
whether it calibrates on training images, which package versions the manifest records, and how bench
measures its footprint. Adding a format is one module and one row.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgedigits.core.errors import UsageError
from edgedigits.core.rules import FP32, INT8, Fp32Parity, Int8Parity

TORCH = "torch"  # built_from: the eager model itself
STEM = "mnist_mlp"


def resolve(ref: str) -> Any:
    """The object a ``"module:attribute"`` string names, imported now."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def c_compiler() -> list[str] | None:
    """``$CC`` (split like a shell would: ``ccache gcc``), else ``cc`` or ``gcc`` on PATH; None when this
    machine has no C compiler."""
    if os.environ.get("CC"):
        cc = shlex.split(os.environ["CC"])
        return cc if shutil.which(cc[0]) else None
    found = shutil.which("cc") or shutil.which("gcc")
    return [found] if found else None


@dataclass(frozen=True)
class Needs:
    """What a step needs installed: a pip extra of edgedigits (seen by one of its modules), a C
    compiler, or programs on PATH (and how to get them). ``missing()`` looks without importing anything."""

    extra: str | None = None
    module: str | None = None
    c_compiler: bool = False
    programs: tuple[str, ...] = ()
    programs_hint: str = ""

    def missing(self) -> str | None:
        """What to install, or None when it is here."""
        if self.c_compiler and c_compiler() is None:
            return "no C compiler: install gcc (or clang) or set CC"
        absent = [p for p in self.programs if shutil.which(p) is None]
        if absent:
            return f"no {' or '.join(absent)} on PATH: {self.programs_hint}"
        if self.module and importlib.util.find_spec(self.module) is None:
            return f"pip install 'edgedigits[{self.extra}]'"
        return None


TRAIN = Needs("train", "torch")  # every exporter starts from the eager torch model
CHROMIUM_HINT = "apt-get install chromium chromium-driver (Debian)"


@dataclass(frozen=True)
class Runtime:
    """Something that runs an artifact: ``opens`` names ``(path) -> model`` with ``predict(images float32
    [N,1,28,28]) -> logits [N,10]``; runtimes the reader can run on (``backend``) also give ``info``, the
    contract read from the file."""

    name: str  # as verify and bench name it
    opens: str
    needs: Needs | None = None
    backend: str | None = None  # the name `detect --backend` offers it under
    oracle: bool = False  # a correctness oracle, not a runtime: verify runs it, bench does not time it
    self_timed: bool = False  # its model times itself where it runs (``latencies``, ``batch_seconds``):
    # bench leaves the transport to it (WebDriver's round trip) out

    def missing(self) -> str | None:
        return self.needs.missing() if self.needs else None

    def open(self, path: Path):
        return resolve(self.opens)(path)


RUNTIMES: tuple[Runtime, ...] = (
    Runtime("onnxruntime", "edgedigits.runtime.session:OnnxModel", backend="onnxruntime"),
    Runtime("onnx.reference", "edgedigits.proof.oracles:OnnxReference", Needs("train", "onnx"), oracle=True),
    Runtime("cv2.dnn", "edgedigits.runtime.backends:OpenCvModel", backend="opencv"),
    Runtime("torch.jit", "edgedigits.export.formats.torchscript:TorchScriptModel", TRAIN),
    Runtime("torch.export", "edgedigits.export.formats.torch_export:ExportedProgramModel", TRAIN),
    Runtime(
        "openvino", "edgedigits.runtime.backends:OpenVinoModel", Needs("openvino", "openvino"), "openvino"
    ),
    Runtime(
        "executorch",
        "edgedigits.runtime.backends:ExecuTorchModel",
        Needs("executorch", "executorch"),
        "executorch",
    ),
    Runtime("ctypes", "edgedigits.runtime.c_model:CModel", Needs(c_compiler=True), "c"),
    Runtime("litert", "edgedigits.runtime.tflite:LiteRtModel", Needs("litert", "ai_edge_litert"), "litert"),
    Runtime("tflm", "edgedigits.runtime.tflite:TflmModel", Needs("litert", "tflite_micro"), "tflm"),
    Runtime("mnn", "edgedigits.runtime.mobile:MnnModel", Needs("mnn", "MNN"), "mnn"),
    Runtime("ncnn", "edgedigits.runtime.mobile:NcnnModel", Needs("ncnn", "ncnn"), "ncnn"),
    Runtime(
        "chromium",
        "edgedigits.proof.browser:BrowserModel",
        Needs("web", "selenium", programs=("chromium", "chromedriver"), programs_hint=CHROMIUM_HINT),
        self_timed=True,
    ),
)
RUNTIME = {r.name: r for r in RUNTIMES}


@dataclass(frozen=True)
class Format:
    name: str
    suffix: str
    export: str  # "module:function", function(ExportContext, Path) writes the artifact
    built_from: tuple[str, ...]  # TORCH, or the names of the rows whose files it converts
    runtimes: tuple[str, ...]  # names in RUNTIMES, each a consumer verify runs
    rule: Fp32Parity | Int8Parity
    needs: Needs | None = None  # what export needs beyond torch
    companions: tuple[str, ...] = ()  # suffixes of files written beside the main one
    calibrated: bool = False  # needs training images (static quantization)
    built_with: tuple[str, ...] = ()  # distributions whose versions the manifest records and verify checks
    footprint: str | None = None  # "module:function", flash/RAM for targets where they matter
    runs_on: str = ""  # what runs it on a device, for `edgedigits formats`
    folder: str = ""  # the artifact is this folder (its main file inside, the rest listed as written)
    default: bool = True  # in `export`'s default set; False: built only when named in --formats
    archs: tuple[str, ...] = ("mlp", "cnn")  # the networks (core.choices.Arch values) its writer takes

    def __post_init__(self) -> None:
        if not self.built_from:
            raise UsageError(f"format {self.name}: built_from names the torch model or other formats")
        unknown = [r for r in self.runtimes if r not in RUNTIME]
        if unknown:
            raise UsageError(f"format {self.name}: unknown runtime(s) {', '.join(unknown)}")

    @property
    def filename(self) -> str:
        return f"{self.folder}/{STEM}{self.suffix}" if self.folder else f"{STEM}{self.suffix}"

    @property
    def files(self) -> tuple[str, ...]:
        """The files it is made of, as names in the export folder; a folder row lists only its main file
        (what else it holds is listed, and hashed, in the manifest as written)."""
        if self.folder:
            return (self.filename,)
        stem = self.filename[: -len(Path(self.filename).suffix)]
        return (self.filename, *(stem + s for s in self.companions))

    @property
    def int8(self) -> bool:
        return self.rule.int8

    @property
    def consumers(self) -> tuple[Runtime, ...]:
        return tuple(RUNTIME[r] for r in self.runtimes)

    def refuses(self, arch: str) -> str | None:
        """Why this row cannot hold a network of ``arch``, in one line, or None."""
        if arch in self.archs:
            return None
        return f"takes the {'/'.join(self.archs)} network only, not a {arch}"

    def export_missing(self) -> str | None:
        """What to install to export this row here, or None."""
        return TRAIN.missing() or (self.needs.missing() if self.needs else None)

    def exporter(self):
        return resolve(self.export)

    def measure_footprint(self, path: Path):
        return resolve(self.footprint)(path) if self.footprint else None


_FORMATS = "edgedigits.export.formats"
OPENVINO = Needs("openvino", "openvino")
EXECUTORCH = Needs("executorch", "executorch")
TFLITE_FOOTPRINT = "edgedigits.runtime.tflite:footprint"  # flash: the flatbuffer; RAM: TFLM's arena
C_ARCHS = ("mlp",)  # the C writer emits the MLP's three dense layers; a convolution is not one

FORMATS: tuple[Format, ...] = (
    Format(
        "onnx",
        ".onnx",
        f"{_FORMATS}.onnx_fp32:torch_to_onnx",
        (TORCH,),
        ("onnxruntime", "onnx.reference", "cv2.dnn"),
        FP32,
        runs_on="onnxruntime, OpenCV DNN, TensorRT and most NPU toolchains",
    ),
    Format(
        "torchscript",
        ".ts",
        f"{_FORMATS}.torchscript:torch_to_torchscript",
        (TORCH,),
        ("torch.jit",),
        FP32,
        runs_on="libtorch (C++), PyTorch Mobile",
    ),
    Format(
        "torch_export",
        ".pt2",
        f"{_FORMATS}.torch_export:torch_to_pt2",
        (TORCH,),
        ("torch.export",),
        FP32,
        runs_on="torch.export / AOTInductor",
    ),
    Format(
        "ort",
        ".ort",
        f"{_FORMATS}.ort_format:onnx_to_ort",
        ("onnx",),
        ("onnxruntime",),
        FP32,
        runs_on="onnxruntime mobile and minimal builds",
    ),
    Format(
        "openvino",
        ".xml",
        f"{_FORMATS}.openvino_ir:onnx_to_openvino",
        ("onnx",),
        ("openvino",),
        FP32,
        needs=OPENVINO,
        companions=(".bin",),
        runs_on="OpenVINO (Intel CPU, GPU, NPU)",
    ),
    Format(
        "executorch",
        ".pte",
        f"{_FORMATS}.executorch_pte:torch_to_pte",
        (TORCH,),
        ("executorch",),
        FP32,
        needs=EXECUTORCH,
        built_with=("executorch",),
        runs_on="ExecuTorch (XNNPACK) on Android, iOS, Linux boards",
    ),
    Format(
        "c",
        ".c",
        f"{_FORMATS}.c_source:torch_to_c",
        (TORCH,),
        ("ctypes",),
        FP32,
        footprint="edgedigits.runtime.c_model:footprint",
        archs=C_ARCHS,
        runs_on="any C99 compiler: microcontrollers, bare metal",
    ),
    Format(
        "tflite",
        ".tflite",
        f"{_FORMATS}.litert_tflite:torch_to_tflite",
        (TORCH,),
        ("litert", "tflm"),
        FP32,
        needs=Needs("litert-export", "litert_torch"),
        footprint=TFLITE_FOOTPRINT,
        runs_on="LiteRT (Android, Linux boards), TensorFlow Lite Micro (Arduino, ESP32, Cortex-M)",
    ),
    Format(
        "mnn",
        ".mnn",
        f"{_FORMATS}.mnn_model:onnx_to_mnn",
        ("onnx",),
        ("mnn",),
        FP32,
        needs=Needs("mnn", "MNN"),
        runs_on="MNN (Android, iOS, Linux boards)",
    ),
    Format(
        "ncnn",
        ".ncnn.param",
        f"{_FORMATS}.ncnn_pnnx:torch_to_ncnn",
        (TORCH,),
        ("ncnn",),
        FP32,
        needs=Needs("ncnn-export", "pnnx"),
        companions=(".bin", ".json"),
        runs_on="ncnn (Android, iOS, Raspberry Pi; Vulkan GPUs)",
    ),
    Format(
        "onnx_int8",
        ".int8.onnx",
        f"{_FORMATS}.onnx_int8:onnx_to_int8_onnx",
        ("onnx",),
        ("onnxruntime",),
        INT8,
        runs_on="onnxruntime (dynamic int8)",
    ),
    Format(
        "onnx_qdq_int8",
        ".qdq.onnx",
        f"{_FORMATS}.onnx_qdq:onnx_to_qdq_onnx",
        ("onnx",),
        ("onnxruntime",),
        INT8,
        calibrated=True,
        runs_on="onnxruntime, NPU toolchains that take QDQ (QNN, Vitis AI, TensorRT)",
    ),
    Format(
        "torchscript_int8",
        ".int8.ts",
        f"{_FORMATS}.torchscript_int8:torch_to_int8_torchscript",
        (TORCH,),
        ("torch.jit",),
        INT8,
        runs_on="libtorch (C++) with quantized kernels",
    ),
    Format(
        "executorch_int8",
        ".int8.pte",
        f"{_FORMATS}.executorch_pte:torch_to_int8_pte",
        (TORCH,),
        ("executorch",),
        INT8,
        needs=EXECUTORCH,
        calibrated=True,
        built_with=("executorch",),
        runs_on="ExecuTorch (XNNPACK int8)",
    ),
    Format(
        "c_int8",
        ".int8.c",
        f"{_FORMATS}.c_source:torch_to_int8_c",
        (TORCH,),
        ("ctypes",),
        INT8,
        footprint="edgedigits.runtime.c_model:footprint",
        archs=C_ARCHS,
        runs_on="any C99 compiler (int8 weights, int32 accumulators)",
    ),
    Format(
        "tflite_int8",
        ".int8.tflite",
        f"{_FORMATS}.litert_tflite:tflite_to_int8_tflite",
        ("tflite",),
        ("litert", "tflm"),
        INT8,
        needs=Needs("litert-export", "ai_edge_quantizer"),
        calibrated=True,
        footprint=TFLITE_FOOTPRINT,
        runs_on="LiteRT, TensorFlow Lite Micro (full integer: int8 in, int8 out, CMSIS-NN, ESP-NN)",
    ),
    Format(
        "web",
        ".onnx",
        f"{_FORMATS}.web_page:onnx_to_web",
        ("onnx",),
        ("chromium",),
        FP32,
        folder="web",
        default=False,  # 15 MB with onnxruntime-web, fetched once from npm: asked for by name
        runs_on="any browser, phones included (onnxruntime-web, WebAssembly); a static folder",
    ),
)
BY_NAME = {f.name: f for f in FORMATS}


def default_formats() -> tuple[Format, ...]:
    """The rows `export` builds unless --formats names others (int8 ones only with --quantize)."""
    return tuple(f for f in FORMATS if f.default)


def backends() -> dict[str, Runtime]:
    """The runtimes ``detect --backend`` offers, by their backend name, in table order."""
    return {r.backend: r for r in RUNTIMES if r.backend}


def backend_suffixes(runtime: Runtime) -> tuple[str, ...]:
    """The suffixes of every format ``runtime`` runs, longest first (``.int8.onnx`` before ``.onnx``)."""
    suffixes = {f.suffix for f in FORMATS if runtime.name in f.runtimes}
    return tuple(sorted(suffixes, key=len, reverse=True))


def backend_example(runtime: Runtime) -> str:
    """The artifact ``edgedigits export`` writes for ``runtime`` (the first row that it runs)."""
    return next(f"models/{f.filename}" for f in FORMATS if runtime.name in f.runtimes)


def build_order(names: list[str] | tuple[str, ...]) -> tuple[tuple[Format, ...], tuple[str, ...]]:
    """The rows to build for ``names``, each after what it is built from, plus the names added because
    another needs them. Raises on an unknown name."""
    unknown = [n for n in names if n not in BY_NAME]  # BY_NAME read at call time: tests add rows
    if unknown:
        raise UsageError(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(BY_NAME)}")
    order: list[Format] = []

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in chain:
            raise UsageError(f"format {name} is built from itself: {' -> '.join((*chain, name))}")
        if any(f.name == name for f in order):
            return
        for source in BY_NAME[name].built_from:
            if source != TORCH and source not in BY_NAME:
                raise UsageError(f"format {name} is built from {source!r}, which is not a registered format")
            if source != TORCH:
                visit(source, (*chain, name))
        order.append(BY_NAME[name])

    for name in names:
        visit(name, ())
    added = tuple(f.name for f in order if f.name not in names)
    return tuple(order), added
