"""Silence the known noise of torch's exporters so users see only what matters."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator

# torch.jit and torch.ao.quantization are deprecated in 2.14 but still work; the dynamo ONNX exporter
# prints progress lines and logs onnxscript optimizer chatter.
NOISY_MESSAGES = (
    r".*torch\.jit.*",
    r".*TorchScript.*",
    r".*torch\.ao\.quantization.*",
    r".*quantize_dynamic.*",
    r".*deprecated.*",
)


@contextlib.contextmanager
def quiet_export() -> Iterator[None]:
    loggers = [
        logging.getLogger(name)
        for name in (
            "torch.onnx",
            "onnxscript",
            "torch.export",
            "torch._dynamo",
            "torch.utils._pytree",  # torchao (under ExecuTorch) registers an Enum the old way
        )
    ]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        for pattern in NOISY_MESSAGES:
            warnings.filterwarnings("ignore", message=pattern, category=DeprecationWarning)
            warnings.filterwarnings("ignore", message=pattern, category=FutureWarning)
            warnings.filterwarnings("ignore", message=pattern, category=UserWarning)
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)
