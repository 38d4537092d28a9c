"""Every runtime the reader can run its model on, behind one shape: ``predict(images) -> logits`` and
``info`` (the contract, read from the artifact itself).

onnxruntime and OpenCV DNN come with the core install; OpenVINO and ExecuTorch are extras, imported only
when asked for (ExecuTorch's Python runtime needs torch; on a board its C++ runtime does not); the C
model needs a C compiler. A backend that is not installed raises ``MissingRuntime`` naming the fix.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import onnxruntime as ort

from edgedigits.core.contract import INPUT_NAME, NUM_CLASSES
from edgedigits.core.errors import ArtifactError, MissingRuntime, UsageError, first_line
from edgedigits.core.registry import Runtime, backend_example, backend_suffixes, backends
from edgedigits.runtime.session import (
    ModelInfo,
    existing_model,
    parse_metadata,
    read_info,
    session_options,
)

# where the formats that have no metadata table keep the contract (one JSON object of strings)
OPENVINO_RT_INFO = ("edgedigits", "metadata")
EXECUTORCH_METHOD = "edgedigits_metadata"  # a constant method returning the JSON as uint8 bytes
# ExecuTorch plans its memory for the largest batch the program admits, at load time: 1024 keeps that to
# about 4 MB (2^20 made loading take 12 s and 3 GB); bigger batches are run in chunks.
EXECUTORCH_MAX_BATCH = 1024


class Model(Protocol):
    info: ModelInfo

    def predict(self, images: np.ndarray) -> np.ndarray: ...


def import_extra(module: str, extra: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingRuntime(f"{module} is not installed: pip install 'edgedigits[{extra}]'") from exc


@contextlib.contextmanager
def quiet_native(*fds: int) -> Iterator[None]:
    """Silence what native libraries print straight to the file descriptors ``fds`` (1, 2) and through
    Python's matching streams (seen where they are not the descriptors: a notebook, a test runner):
    ExecuTorch's cpuinfo probe and thread-pool reset, LiteRT's delegate line, MNN's CPU report on fd 1
    where ``detect --json`` writes, the converters' progress. Python exceptions still carry a failure."""
    streams = {1: "stdout", 2: "stderr"}
    for fd in fds:
        getattr(sys, streams[fd]).flush()
    saved = [os.dup(fd) for fd in fds]
    try:
        with open(os.devnull, "wb") as devnull:
            for fd in fds:
                os.dup2(devnull.fileno(), fd)
        with contextlib.ExitStack() as stack:
            if 1 in fds:
                stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
            if 2 in fds:
                stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
            yield
    finally:
        for fd, copy in zip(fds, saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


@contextlib.contextmanager
def quiet_executorch_import() -> Iterator[None]:
    """ExecuTorch's bindings warn that they are experimental, and torchao, imported with them, registers
    an Enum the deprecated way, which torch logs: known noise, kept out of the user's output."""
    logger = logging.getLogger("torch.utils._pytree")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="This API is experimental")
            yield
    finally:
        logger.setLevel(level)


class OpenCvModel:
    """OpenCV's DNN module on the fp32 ONNX file (it cannot read onnxruntime's quantized operators)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = existing_model(path)
        try:
            self.net = cv2.dnn.readNetFromONNX(str(self.path))
            meta = ort.InferenceSession(
                str(self.path), sess_options=session_options(), providers=["CPUExecutionProvider"]
            ).get_modelmeta()
        except Exception as exc:  # cv2.error, onnxruntime's Fail/InvalidProtobuf...: a bad file either way
            raise ArtifactError(
                f"{self.path} is not an ONNX model OpenCV DNN can run: {first_line(exc)}"
            ) from exc
        self.info = read_info(meta.custom_metadata_map, str(self.path))

    def predict(self, images: np.ndarray) -> np.ndarray:
        self.net.setInput(np.ascontiguousarray(images, dtype=np.float32), INPUT_NAME)
        return self.net.forward().reshape(len(images), -1)


class OpenVinoModel:
    """OpenVINO's CPU plugin, held to f32 (its default on CPUs with bf16 units would round the model)."""

    def __init__(self, path: str | os.PathLike[str], threads: int = 1) -> None:
        self.path = existing_model(path)
        ov = import_extra("openvino", "openvino")
        core = ov.Core()
        try:
            model = core.read_model(str(self.path))
            text = model.get_rt_info(list(OPENVINO_RT_INFO)).astype(str)
            compiled = core.compile_model(
                model,
                "CPU",
                {
                    "INFERENCE_PRECISION_HINT": "f32",
                    "INFERENCE_NUM_THREADS": threads,
                    "PERFORMANCE_HINT": "LATENCY",
                },
            )
        except RuntimeError as exc:  # OpenVINO reports a bad IR, a missing .bin or rt_info this way
            raise ArtifactError(
                f"{self.path} is not an OpenVINO model this runtime can run: {first_line(exc)}"
            ) from exc
        self.request = compiled.create_infer_request()
        self.info = read_info(parse_metadata(text, self.path), str(self.path))

    def predict(self, images: np.ndarray) -> np.ndarray:
        out = self.request.infer({0: np.ascontiguousarray(images, dtype=np.float32)})[0]
        return np.array(out, copy=True)  # the request reuses its output buffer on the next call


class ExecuTorchModel:
    """ExecuTorch's runtime with the XNNPACK delegate, on a ``.pte`` program. XNNPACK's thread pool is
    process-wide and starts with a thread per core; it is set to ``threads`` (one, like every other
    backend here: a tiny MLP gains nothing from more, and OpenCV needs the other core)."""

    def __init__(self, path: str | os.PathLike[str], threads: int = 1) -> None:
        self.path = existing_model(path)
        with quiet_executorch_import():
            runtime = import_extra("executorch.runtime", "executorch")
            bindings = import_extra("executorch.extension.pybindings.portable_lib", "executorch")
        with quiet_native(2):  # the pool's reset probes the CPU and logs both to fd 2
            bindings._unsafe_reset_threadpool(threads)
        self._torch = importlib.import_module("torch")  # the Python bindings take torch tensors
        try:
            with quiet_native(2):
                program = runtime.Runtime.get().load_program(self.path)
                self.forward = program.load_method("forward")
                if EXECUTORCH_METHOD not in program.method_names:
                    raise ArtifactError(f"{self.path} carries no {EXECUTORCH_METHOD}; re-export it")
                raw = program.load_method(EXECUTORCH_METHOD).execute([])[0]
        except (RuntimeError, ValueError) as exc:  # a damaged program fails to load or verify
            raise ArtifactError(
                f"{self.path} is not an ExecuTorch program this runtime can run: {first_line(exc)}"
            ) from exc
        self.info = read_info(parse_metadata(bytes(raw.numpy().tolist()), self.path), str(self.path))

    def predict(self, images: np.ndarray) -> np.ndarray:
        if len(images) == 0:  # the program admits batches of 1 and more
            return np.empty((0, NUM_CLASSES), np.float32)
        tensor = self._torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
        chunks = [
            self.forward.execute([tensor[i : i + EXECUTORCH_MAX_BATCH]])[0].numpy()
            for i in range(0, len(tensor), EXECUTORCH_MAX_BATCH)
        ]
        return np.concatenate(chunks)


def check_backend(name: str) -> Runtime:
    """The runtime ``--backend name`` stands for, from the format table."""
    offered = backends()
    if name not in offered:
        raise UsageError(f"--backend must be one of {', '.join(offered)}, got {name!r}")
    return offered[name]


def open_model(path: Path, backend: str = "onnxruntime") -> Model:
    """The model at ``path`` on ``backend`` (a runtime of the format table), after checking the two go
    together."""
    runtime = check_backend(backend)
    suffixes = backend_suffixes(runtime)
    if not Path(path).name.lower().endswith(suffixes):
        raise UsageError(
            f"--backend {backend} runs {'/'.join(sorted(set(suffixes)))} files "
            f"(e.g. {backend_example(runtime)}), not {path}"
        )
    if missing := runtime.missing():
        raise MissingRuntime(f"--backend {backend}: {missing}")
    return runtime.open(Path(path))
