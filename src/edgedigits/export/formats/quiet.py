"""Silence the known noise of torch's exporters, message by message, around the calls that make it.

Each exporter names the exact messages its own calls raise (found by exporting with ``python -W always``
under torch 2.14); anything else, another deprecation included, still reaches the caller. A message is
a regex matched at the start of the text, as ``warnings.filterwarnings`` matches.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Warned:
    """A Python warning of ``category`` whose text starts with ``message``."""

    category: type[Warning]
    message: str


@dataclass(frozen=True)
class Logged:
    """A record logged on exactly ``logger`` (not a child of it) whose text starts with ``message``."""

    logger: str
    message: str


# torch.jit is deprecated in 2.14 but still writes and reads the files libtorch runs.
JIT_SCRIPT = Warned(FutureWarning, r"`torch\.jit\.script` is deprecated\. Please switch to")
JIT_SAVE = Warned(FutureWarning, r"`torch\.jit\.save` is deprecated\. Please switch to")
JIT_LOAD = Warned(FutureWarning, r"`torch\.jit\.load` is deprecated\. Please switch to")
# torch.ao.quantization.quantize_dynamic, and the quantized tensors its Linear layers are made of.
AO_QUANTIZATION = Warned(DeprecationWarning, r"torch\.ao\.quantization is deprecated and will be removed")
QUANTIZED_TENSORS = Warned(
    UserWarning,
    r"torch\.quantize_per_tensor, torch\.quantize_per_channel and other quantized tensor creation "
    r"functions .* are deprecated",
)
# ExecuTorch reads its op tables and flatbuffer schema with importlib.resources' legacy functions, and
# torchao (under it) registers an Enum with torch's pytree the old way.
LEGACY_RESOURCES = Warned(
    DeprecationWarning, r"(open_text|read_text|read_binary) is deprecated\. Use files\(\)"
)
PYTREE_ENUM = Logged("torch.utils._pytree", r"<enum '\w+'> is an Enum subclass and is now natively supported")
# The ONNX exporter asked for an opset below 18 (--opset 17): it exports 18 and converts down, saying so
# twice; the file is checked and verified like any other.
ONNX_OPSET_RAISED = Logged(
    "torch.onnx._internal.exporter._compat", r"Setting ONNX exporter to use operator set version"
)
ONNX_VERSION_FALLBACK = Logged(
    "onnxscript.version_converter",
    r"The model version conversion is not supported by the onnxscript version converter and fallback "
    r"is enabled",
)

KNOWN = (
    JIT_SCRIPT,
    JIT_SAVE,
    JIT_LOAD,
    AO_QUANTIZATION,
    QUANTIZED_TENSORS,
    LEGACY_RESOURCES,
    PYTREE_ENUM,
    ONNX_OPSET_RAISED,
    ONNX_VERSION_FALLBACK,
)


class _Drop(logging.Filter):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.pattern = re.compile(message)

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.pattern.match(record.getMessage())


@contextlib.contextmanager
def quiet_export(*noise: Warned | Logged) -> Iterator[None]:
    """Drop exactly ``noise`` while the block runs; every other warning and record goes through."""
    dropped = [(logging.getLogger(n.logger), _Drop(n.message)) for n in noise if isinstance(n, Logged)]
    with warnings.catch_warnings():
        for n in noise:
            if isinstance(n, Warned):
                warnings.filterwarnings("ignore", message=n.message, category=n.category)
        for logger, drop in dropped:
            logger.addFilter(drop)
        try:
            yield
        finally:
            for logger, drop in dropped:
                logger.removeFilter(drop)
