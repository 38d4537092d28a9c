"""ncnn (.ncnn.param graph + .ncnn.bin weights), Tencent's phone runtime, written by pnnx from the
deployable model (normalization inside) traced with one image, weights kept fp32 (pnnx stores fp16
unless told). ncnn's files have no place for the contract, so it goes in a sidecar beside them,
``.ncnn.json``, hashed in the manifest like the weights.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from edgedigits.core.errors import ArtifactError
from edgedigits.export.formats.context import ExportContext
from edgedigits.export.formats.quiet import JIT_SAVE, Warned, quiet_export
from edgedigits.runtime.backends import import_extra, quiet_native
from edgedigits.runtime.mobile import ncnn_files

EXTRA = "ncnn-export"
# pnnx traces with torch.jit (deprecated in 2.14, still what it reads)
JIT_TRACE = Warned(FutureWarning, r"`torch\.jit\.trace(_method)?` is deprecated\. Please switch to")


def torch_to_ncnn(ctx: ExportContext, path: Path) -> None:
    weights, contract = ncnn_files(path)
    with tempfile.TemporaryDirectory() as tmp, quiet_export(JIT_TRACE, JIT_SAVE), quiet_native(1, 2):
        pnnx = import_extra("pnnx", EXTRA)
        traced = Path(tmp) / "model.pt"  # pnnx writes model.ncnn.param/.bin (and more) beside it
        pnnx.export(ctx.model.eval(), str(traced), (ctx.example(1),), fp16=False)
        written = Path(tmp) / "model.ncnn.param", Path(tmp) / "model.ncnn.bin"
        if not all(f.is_file() for f in written):
            raise ArtifactError("pnnx wrote no ncnn model")
        shutil.move(written[0], path)
        shutil.move(written[1], weights)
    contract.write_text(ctx.metadata_json())
