"""LiteRT flatbuffers (.tflite): the file Android apps, Coral boards and TensorFlow Lite Micro firmware
(Arduino, ESP32, Cortex-M) load.

fp32: ``litert-torch`` converts the deployable model (normalization inside) with a batch-1 input, the
shape a microcontroller runs. int8: ``ai-edge-quantizer``'s full-integer recipe (int8 weights and
activations, int8 input and output with their scale and zero point) on the fp32 file, calibrated on
training images: the form TFLite Micro's kernels run (a PT2E graph converted by litert-torch keeps
per-channel QUANTIZE nodes that TFLM refuses). Both carry the contract in the flatbuffer's ``metadata``
table (``edgedigits``: the JSON object), written with every buffer aligned to 16 bytes, as TFLM wants
constant data that its kernels read in place.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from edgedigits.core.contract import INPUT_NAME
from edgedigits.export.formats.context import ExportContext
from edgedigits.export.formats.quiet import PYTREE_ENUM, Warned, quiet_export
from edgedigits.runtime.backends import import_extra, quiet_native
from edgedigits.runtime.tflite import FILE_IDENTIFIER, TFLITE_METADATA

EXTRA = "litert-export"
SIGNATURE = "serving_default"  # the signature litert-torch names and the quantizer calibrates
BUFFER_ALIGNMENT = 16
# the quantizer's calibration keeps every intermediate tensor to record its range, and LiteRT says so
PRESERVE_ALL_TENSORS = Warned(UserWarning, r"Warning: Enabling `experimental_preserve_all_tensors`")


def with_metadata(data: bytes, text: str) -> bytes:
    """The flatbuffer ``data`` with ``text`` as its ``edgedigits`` metadata entry (replacing an earlier
    one), every buffer 16-byte aligned."""
    schema = import_extra("ai_edge_litert.schema_py_generated", EXTRA)
    flatbuffers = import_extra("flatbuffers", EXTRA)

    class AlignedBuffer(schema.BufferT):
        def Pack(self, builder):  # noqa: N802 (the schema's name)
            if self.data is None or len(self.data) == 0:
                return super().Pack(builder)
            raw = np.asarray(self.data, np.uint8).tobytes()
            builder.StartVector(1, len(raw), BUFFER_ALIGNMENT)
            builder.head -= len(raw)
            builder.Bytes[builder.head : builder.head + len(raw)] = raw
            builder.vectorNumElems = len(raw)
            vector = builder.EndVector()
            schema.BufferStart(builder)
            schema.BufferAddData(builder, vector)
            schema.BufferAddOffset(builder, self.offset)
            schema.BufferAddSize(builder, self.size)
            return schema.BufferEnd(builder)

    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    name = TFLITE_METADATA.encode()
    model.metadata = [m for m in (model.metadata or []) if m.name not in (name, TFLITE_METADATA)]
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(text.encode(), np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = TFLITE_METADATA, len(model.buffers) - 1
    model.metadata.append(entry)
    for b in model.buffers:
        b.__class__ = AlignedBuffer
    builder = flatbuffers.Builder(len(data) + len(text) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


def torch_to_tflite(ctx: ExportContext, path: Path) -> None:
    with quiet_export(PYTREE_ENUM), quiet_native(1, 2):  # importing it logs (absl, oneDNN, torchao) too
        litert_torch = import_extra("litert_torch", EXTRA)
        converted = litert_torch.convert(ctx.model.eval(), sample_kwargs={INPUT_NAME: ctx.example(1)})
        data = bytes(converted.model_content())
    path.write_bytes(with_metadata(data, ctx.metadata_json()))


def tflite_to_int8_tflite(ctx: ExportContext, path: Path) -> None:
    images = ctx.calibration_images()
    with tempfile.TemporaryDirectory() as tmp, quiet_export(PRESERVE_ALL_TENSORS), quiet_native(1, 2):
        quantizer = import_extra("ai_edge_quantizer.quantizer", EXTRA)
        recipe = import_extra("ai_edge_quantizer.recipe", EXTRA)
        # the quantizer reads a path; the fp32 file's metadata comes along and is replaced below
        source = Path(tmp) / "fp32.tflite"
        source.write_bytes(ctx.written["tflite"].read_bytes())
        qt = quantizer.Quantizer(str(source), recipe.static_wi8_ai8())
        calibration = qt.calibrate({SIGNATURE: [{INPUT_NAME: images[i : i + 1]} for i in range(len(images))]})
        data = bytes(qt.quantize(calibration).quantized_model)
    path.write_bytes(with_metadata(data, ctx.metadata_json()))
