"""ExecuTorch programs (.pte), PyTorch's own on-device runtime, lowered to the XNNPACK delegate.

fp32: ``torch.export`` -> ``to_edge_transform_and_lower(..., XnnpackPartitioner())``. int8: PT2E
quantization with XNNPACK's quantizer (int8, per-channel symmetric weights, activations calibrated on
training images) before the same lowering. The contract rides along as a constant method returning the
metadata JSON as bytes. A .pte is tied to the ExecuTorch release that wrote it, so the manifest records
that version (the row's ``built_with``) and verify refuses a mismatch.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from edgedigits.export.formats.context import CALIBRATION_BATCH, ExportContext
from edgedigits.export.formats.quiet import LEGACY_RESOURCES, PYTREE_ENUM, quiet_export
from edgedigits.runtime.backends import (
    EXECUTORCH_MAX_BATCH,
    EXECUTORCH_METHOD,
    import_extra,
)

EXTRA = "executorch"  # the pip extra its modules come with
NOISE = (LEGACY_RESOURCES, PYTREE_ENUM)


EXAMPLE_BATCH = 64  # traced with 2 or 8 images, the CNN's XNNPACK program took at most 15 (ExecuTorch 1.5.1)


def _program(ctx: ExportContext, module: torch.nn.Module) -> torch.export.ExportedProgram:
    """Batches up to EXECUTORCH_MAX_BATCH: the runtime plans memory for the largest one."""
    return torch.export.export(
        module, (ctx.example(EXAMPLE_BATCH),), dynamic_shapes=ctx.dynamic_batch(EXECUTORCH_MAX_BATCH)
    )


def _lower(ctx: ExportContext, program: torch.export.ExportedProgram, path: Path) -> None:
    exir = import_extra("executorch.exir", EXTRA)
    xnnpack = import_extra("executorch.backends.xnnpack.partition.xnnpack_partitioner", EXTRA)
    metadata = torch.tensor(list(ctx.metadata_json().encode()), dtype=torch.uint8)
    lowered = exir.to_edge_transform_and_lower(
        program,
        partitioner=[xnnpack.XnnpackPartitioner()],
        constant_methods={EXECUTORCH_METHOD: metadata},
    )
    path.write_bytes(lowered.to_executorch().buffer)


def torch_to_pte(ctx: ExportContext, path: Path) -> None:
    with quiet_export(*NOISE):
        _lower(ctx, _program(ctx, ctx.model.eval()), path)


def torch_to_int8_pte(ctx: ExportContext, path: Path) -> None:
    with quiet_export(*NOISE):
        quantizer_mod = import_extra("executorch.backends.xnnpack.quantizer.xnnpack_quantizer", EXTRA)
        pt2e = import_extra("torchao.quantization.pt2e.quantize_pt2e", EXTRA)
        quantizer = quantizer_mod.XNNPACKQuantizer().set_global(
            quantizer_mod.get_symmetric_quantization_config(is_per_channel=True)
        )
        prepared = pt2e.prepare_pt2e(_program(ctx, copy.deepcopy(ctx.model).eval()).module(), quantizer)
        images = torch.from_numpy(ctx.calibration_images())
        with torch.no_grad():
            for start in range(0, len(images), CALIBRATION_BATCH):
                prepared(images[start : start + CALIBRATION_BATCH])
        _lower(ctx, _program(ctx, pt2e.convert_pt2e(prepared)), path)
