"""LiteRT (``.tflite``) files on the two runtimes that run them: Google's LiteRT interpreter
(``ai-edge-litert``: phones, Linux boards) and TensorFlow Lite Micro's (``tflite-micro``: the reference
kernels a microcontroller firmware links). Torch-free: numpy and the ``litert`` extra.

The contract travels inside the flatbuffer, in the model's ``metadata`` table under the name
``edgedigits`` (a buffer holding the JSON object of strings), and is read here with the flatbuffer
schema that either package ships. The files take one image (batch 1, the shape a microcontroller
runs); ``predict`` feeds a batch image by image. A full-integer file (int8 input and output) is fed
and read through its own scale and zero point, so ``predict`` takes float32 images and returns float32
logits on every file, like every other backend.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgedigits.core.contract import IMAGE_SIZE, NUM_CLASSES
from edgedigits.core.errors import ArtifactError, MissingRuntime, first_line
from edgedigits.runtime.backends import import_extra, quiet_native
from edgedigits.runtime.c_model import Footprint
from edgedigits.runtime.session import existing_model, parse_metadata, read_info

EXTRA = "litert"
TFLITE_METADATA = "edgedigits"  # the name of the contract's entry in the flatbuffer's metadata table
FILE_IDENTIFIER = b"TFL3"
INPUT_SHAPE = (1, 1, IMAGE_SIZE, IMAGE_SIZE)
OUTPUT_SHAPE = (1, NUM_CLASSES)
# the flatbuffer schema both runtimes ship (either one reads the metadata table)
_SCHEMAS = (
    "ai_edge_litert.schema_py_generated",
    "tflite_micro.tensorflow.lite.micro.python.schema_py_generated",
)
_ARENA = re.compile(r"Arena allocation total (\d+) bytes")


def _schema():
    for name in _SCHEMAS:
        if importlib.util.find_spec(name.split(".")[0]) is not None:
            with contextlib.suppress(ImportError):
                return importlib.import_module(name)
    raise MissingRuntime(f"reading a .tflite file needs its runtime: pip install 'edgedigits[{EXTRA}]'")


def read_tflite_metadata(data: bytes, path: str | os.PathLike[str]) -> dict[str, str]:
    """The contract from the flatbuffer's ``metadata`` table (entry ``edgedigits``)."""
    if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
        raise ArtifactError(f"{path} is not a TFLite flatbuffer (no {FILE_IDENTIFIER.decode()} identifier)")
    schema = _schema()
    try:
        model = schema.Model.GetRootAsModel(data, 0)
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            if entry.Name() == TFLITE_METADATA.encode():
                raw = model.Buffers(entry.Buffer()).DataAsNumpy()
                text = raw.tobytes() if isinstance(raw, np.ndarray) else b""
                return parse_metadata(text, path)
    except ArtifactError:
        raise
    except Exception as exc:  # a damaged flatbuffer reads past its end in many ways
        raise ArtifactError(f"{path}: unreadable TFLite flatbuffer ({first_line(exc)})") from exc
    raise ArtifactError(f"{path} carries no {TFLITE_METADATA!r} metadata; re-export it")


@dataclass(frozen=True)
class Quantization:
    """How a tensor stores real numbers: float32 as they are, int8 as ``(q - zero_point) * scale``."""

    dtype: np.dtype
    scale: float = 0.0
    zero_point: int = 0

    @property
    def integer(self) -> bool:
        return np.issubdtype(self.dtype, np.integer)

    def quantize(self, x: np.ndarray) -> np.ndarray:
        if not self.integer:
            return np.ascontiguousarray(x, dtype=self.dtype)
        info = np.iinfo(self.dtype)
        q = np.round(np.asarray(x, np.float32) / self.scale) + self.zero_point
        return np.clip(q, info.min, info.max).astype(self.dtype)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        if not self.integer:
            return np.asarray(q, np.float32)
        return ((q.astype(np.float32) - self.zero_point) * self.scale).astype(np.float32)


def _checked(path: Path, shape, dtype, scale, zero_point, what: str, want: tuple[int, ...]) -> Quantization:
    if tuple(int(s) for s in shape) != want:
        raise ArtifactError(f"{path}: {what} must be {list(want)}, found {list(shape)}")
    q = Quantization(np.dtype(dtype), float(scale), int(zero_point))
    if q.dtype not in (np.float32, np.int8) or (q.integer and not q.scale > 0):
        raise ArtifactError(f"{path}: {what} is {q.dtype} (scale {q.scale}); float32 or int8 expected")
    return q


class LiteRtModel:
    """Google's LiteRT interpreter (its default XNNPACK CPU kernels) on one thread."""

    def __init__(self, path: str | os.PathLike[str], threads: int = 1) -> None:
        self.path = existing_model(path)
        interpreter = import_extra("ai_edge_litert.interpreter", EXTRA)
        data = self.path.read_bytes()
        self.info = read_info(read_tflite_metadata(data, self.path), str(self.path))
        try:
            with quiet_native(2):  # "Created TensorFlow Lite XNNPACK delegate for CPU."
                self.interpreter = interpreter.Interpreter(model_content=data, num_threads=threads)
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ArtifactError(f"{self.path} is not a model LiteRT can run: {first_line(exc)}") from exc
        (inp,), (out,) = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        self._input, self._output = inp["index"], out["index"]
        self.input = _checked(
            self.path, inp["shape"], inp["dtype"], *inp["quantization"], "input", INPUT_SHAPE
        )
        self.output = _checked(
            self.path, out["shape"], out["dtype"], *out["quantization"], "output", OUTPUT_SHAPE
        )

    def predict(self, images: np.ndarray) -> np.ndarray:
        fed = self.input.quantize(images)
        logits = np.empty((len(images), NUM_CLASSES), np.float32)
        for i in range(len(fed)):
            self.interpreter.set_tensor(self._input, fed[i : i + 1])
            self.interpreter.invoke()
            logits[i] = self.output.dequantize(self.interpreter.get_tensor(self._output))[0]
        return logits


def _tflm_details(details: dict) -> tuple:
    params = details["quantization_parameters"]
    scales, zero_points = params["scales"], params["zero_points"]
    return (
        details["shape"],
        details["dtype"],
        scales[0] if len(scales) else 0.0,
        zero_points[0] if len(zero_points) else 0,
    )


def _tflm_interpreter(path: Path, data: bytes):
    runtime = import_extra("tflite_micro.python.tflite_micro.runtime", EXTRA)
    try:
        with quiet_native(2):  # TFLM reports why it refuses a model on fd 2, then raises
            return runtime.Interpreter.from_bytes(data)
    except Exception as exc:  # RuntimeError from TFLM, struct.error from its Python flatbuffer reader
        raise ArtifactError(
            f"{path} is not a model TensorFlow Lite Micro can run: {first_line(exc)}"
        ) from exc


class TflmModel:
    """TensorFlow Lite Micro's interpreter (its reference kernels, as a microcontroller runs them)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = existing_model(path)
        data = self.path.read_bytes()
        self.info = read_info(read_tflite_metadata(data, self.path), str(self.path))
        self.interpreter = _tflm_interpreter(self.path, data)
        self.input = _checked(
            self.path, *_tflm_details(self.interpreter.get_input_details(0)), "input", INPUT_SHAPE
        )
        self.output = _checked(
            self.path, *_tflm_details(self.interpreter.get_output_details(0)), "output", OUTPUT_SHAPE
        )

    def predict(self, images: np.ndarray) -> np.ndarray:
        fed = self.input.quantize(images)
        logits = np.empty((len(images), NUM_CLASSES), np.float32)
        for i in range(len(fed)):
            self.interpreter.set_input(fed[i : i + 1], 0)
            self.interpreter.invoke()
            logits[i] = self.output.dequantize(self.interpreter.get_output(0))[0]
        return logits


@contextlib.contextmanager
def _native_stderr_to(path: Path) -> Iterator[None]:
    saved = os.dup(2)
    try:
        with open(path, "wb") as sink:
            os.dup2(sink.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def tflm_arena_bytes(path: Path) -> int:
    """The tensor arena TFLM itself allocated for the model, read from its recording allocator after one
    inference: what a firmware reserves (``uint8_t tensor_arena[N]``)."""
    interpreter = _tflm_interpreter(path, path.read_bytes())
    details = _tflm_details(interpreter.get_input_details(0))
    interpreter.set_input(np.zeros(INPUT_SHAPE, details[1]), 0)
    interpreter.invoke()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "allocations.txt"
        with _native_stderr_to(report):
            interpreter.print_allocations()
        text = report.read_text(errors="replace")
    match = _ARENA.search(text)
    if match is None:
        raise ArtifactError(f"TFLM reported no arena size for {path}: {text.strip()[:200]!r}")
    return int(match.group(1))


def footprint(path: Path) -> Footprint:
    """A microcontroller's view of a ``.tflite`` file: flash is the flatbuffer (a firmware keeps it in
    flash as a C array), RAM the tensor arena TFLM measured. Without ``tflite-micro`` the arena is
    unknown (None) and the LiteRT rows still run."""
    flash = path.stat().st_size
    if importlib.util.find_spec("tflite_micro") is None:
        return Footprint(flash=flash, ram=None)  # type: ignore[arg-type]
    return Footprint(flash=flash, ram=tflm_arena_bytes(path))
