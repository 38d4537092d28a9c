"""The export-format registry: one module per format, one row per artifact, holding all there is to
know about it.

A row names the format and its file suffix (and the files written beside it), the function that
writes it, what it is built from (the torch model, or other rows' files, which export builds first),
the consumers that load it (``loader(path) -> predict``, ``predict(images float32 [N,1,28,28]) ->
logits [N,10]``), the pass rule verify holds it to, the pip extra it needs, whether it calibrates on
training images, which package versions the manifest records, and how bench measures its footprint.
Adding a format is one module and one row.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgedigits.errors import UsageError
from edgedigits.formats import (
    c_source,
    executorch_pte,
    onnx_fp32,
    onnx_int8,
    onnx_qdq,
    openvino_ir,
    ort_format,
    torch_export,
    torchscript,
    torchscript_int8,
)
from edgedigits.formats.context import ExportContext, Extra
from edgedigits.formats.rules import FP32, INT8, Fp32Parity, Int8Parity

__all__ = ["BY_NAME", "FORMATS", "ExportContext", "Format", "build_order", "extra_missing"]

Predict = Callable[[np.ndarray], np.ndarray]
Loader = Callable[[Path], Predict]
TORCH = "torch"  # built_from: the eager model itself

# consumers that are correctness oracles, not runtimes: verify runs them, bench does not time them
ORACLES = frozenset({"onnx.reference"})


@dataclass(frozen=True)
class Format:
    name: str
    suffix: str
    export: Callable[[ExportContext, Path], None]
    built_from: tuple[str, ...]  # TORCH, or the names of the rows whose files it converts
    loaders: Mapping[str, Loader]
    rule: Fp32Parity | Int8Parity
    extra: Extra | None = None  # pip extra that export and the loaders need
    companions: tuple[str, ...] = ()  # suffixes of files written beside the main one
    calibrated: bool = False  # needs training images (static quantization)
    built_with: tuple[str, ...] = ()  # distributions whose versions the manifest records and verify checks
    footprint: Callable[[Path], object] | None = None  # flash/RAM, for targets where they matter

    def __post_init__(self) -> None:
        if not self.built_from:
            raise UsageError(f"format {self.name}: built_from names the torch model or other formats")

    @property
    def filename(self) -> str:
        return f"mnist_mlp{self.suffix}"

    @property
    def files(self) -> tuple[str, ...]:
        stem = self.filename[: -len(Path(self.filename).suffix)]
        return (self.filename, *(stem + s for s in self.companions))

    @property
    def int8(self) -> bool:
        return self.rule.int8


FORMATS: tuple[Format, ...] = (
    Format("onnx", ".onnx", onnx_fp32.torch_to_onnx, (TORCH,), onnx_fp32.LOADERS, FP32),
    Format("torchscript", ".ts", torchscript.torch_to_torchscript, (TORCH,), torchscript.LOADERS, FP32),
    Format("torch_export", ".pt2", torch_export.torch_to_pt2, (TORCH,), torch_export.LOADERS, FP32),
    Format("ort", ".ort", ort_format.onnx_to_ort, ("onnx",), ort_format.LOADERS, FP32),
    Format(
        "openvino",
        ".xml",
        openvino_ir.onnx_to_openvino,
        ("onnx",),
        openvino_ir.LOADERS,
        FP32,
        extra=openvino_ir.EXTRA,
        companions=(".bin",),
    ),
    Format(
        "executorch",
        ".pte",
        executorch_pte.torch_to_pte,
        (TORCH,),
        executorch_pte.LOADERS,
        FP32,
        extra=executorch_pte.EXTRA,
        built_with=("executorch",),
    ),
    Format("c", ".c", c_source.torch_to_c, (TORCH,), c_source.LOADERS, FP32, footprint=c_source.footprint),
    Format("onnx_int8", ".int8.onnx", onnx_int8.onnx_to_int8_onnx, ("onnx",), onnx_int8.LOADERS, INT8),
    Format(
        "onnx_qdq_int8",
        ".qdq.onnx",
        onnx_qdq.onnx_to_qdq_onnx,
        ("onnx",),
        onnx_qdq.LOADERS,
        INT8,
        calibrated=True,
    ),
    Format(
        "torchscript_int8",
        ".int8.ts",
        torchscript_int8.torch_to_int8_torchscript,
        (TORCH,),
        torchscript_int8.LOADERS,
        INT8,
    ),
    Format(
        "executorch_int8",
        ".int8.pte",
        executorch_pte.torch_to_int8_pte,
        (TORCH,),
        executorch_pte.LOADERS,
        INT8,
        extra=executorch_pte.EXTRA,
        calibrated=True,
        built_with=("executorch",),
    ),
    Format(
        "c_int8",
        ".int8.c",
        c_source.torch_to_int8_c,
        (TORCH,),
        c_source.LOADERS,
        INT8,
        footprint=c_source.footprint,
    ),
)
BY_NAME = {f.name: f for f in FORMATS}


def extra_missing(fmt: Format) -> str | None:
    """What to install for ``fmt``, or None when its extra (if any) is here."""
    if fmt.extra is None or importlib.util.find_spec(fmt.extra.module) is not None:
        return None
    return fmt.extra.hint


def build_order(names: list[str] | tuple[str, ...]) -> tuple[tuple[Format, ...], tuple[str, ...]]:
    """The rows to build for ``names``, each after what it is built from, plus the names added because
    another needs them. Raises on an unknown name."""
    unknown = [n for n in names if n not in BY_NAME]
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
