"""The phone runtimes: Alibaba's MNN (``.mnn``) and Tencent's ncnn (``.ncnn.param`` + ``.ncnn.bin``).
Torch-free: numpy and the runtime's own extra (``mnn``, ``ncnn``), one thread each.

MNN reads the contract from the model's ``bizCode``; ncnn's files have no place for it, so it travels
in a sidecar, ``mnist_mlp.ncnn.json``, hashed in the manifest like the ``.bin`` beside it. Both are held
to fp32 (MNN's "high" precision with its geometry passes off; ncnn with its fp16, bf16, packed-layout
and int8 paths switched off before the graph is loaded): their defaults on CPUs with fp16 or bf16 units
would round the model.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edgedigits.core.contract import IMAGE_SIZE, NUM_CLASSES
from edgedigits.core.errors import ArtifactError, first_line
from edgedigits.runtime.backends import import_extra, quiet_native
from edgedigits.runtime.session import existing_model, parse_metadata, read_info

MNN_GEOMETRY_COMPUTE_MASK = 3  # MNN's Interpreter::HintMode::GEOMETRY_COMPUTE_MASK
NCNN_PARAM = ".param"
NCNN_COMPANIONS = (".bin", ".json")  # weights; the contract
# ncnn's switches that trade fp32 for speed: each off before load_param, or it computes in fp16/bf16
NCNN_FP32 = (
    "use_fp16_packed",
    "use_fp16_storage",
    "use_fp16_arithmetic",
    "use_bf16_packed",
    "use_bf16_storage",
    "use_int8_packed",
    "use_int8_storage",
    "use_int8_arithmetic",
    "use_int8_inference",
    "use_packing_layout",
    "use_vulkan_compute",
)


class MnnModel:
    """MNN's Python module API on the CPU backend, "high" (fp32) precision, one thread."""

    def __init__(self, path: str | os.PathLike[str], threads: int = 1) -> None:
        self.path = existing_model(path)
        with quiet_native(1, 2):
            self._nn = import_extra("MNN.nn", "mnn")
            self._expr = import_extra("MNN.expr", "mnn")
            manager = self._nn.create_runtime_manager(
                ({"backend": "CPU", "precision": "high", "numThread": threads},)
            )
            # MNN's geometry passes rewrite a convolution into kernels that move the CNN's logits by 2e-3;
            # with them off it matches the eager model to 1e-5 like every fp32 runtime (the MLP either way)
            manager.set_hint(MNN_GEOMETRY_COMPUTE_MASK, 0)
            try:
                self.module = self._nn.load_module_from_file(str(self.path), [], [], runtime_manager=manager)
                meta = self.module.get_info()
            except (SystemError, RuntimeError, ValueError) as exc:
                raise ArtifactError(f"{self.path} is not a model MNN can run: {first_line(exc)}") from exc
        if meta.get("inputNames") != ["image"] or meta.get("outputNames") != ["logits"]:
            raise ArtifactError(
                f"{self.path}: expected input 'image' and output 'logits', found "
                f"{meta.get('inputNames')} and {meta.get('outputNames')}"
            )
        self.info = read_info(parse_metadata(meta.get("bizCode") or "", self.path), str(self.path))

    def predict(self, images: np.ndarray) -> np.ndarray:
        if len(images) == 0:
            return np.empty((0, NUM_CLASSES), np.float32)
        x = np.ascontiguousarray(images, dtype=np.float32)
        var = self._expr.const(x, list(x.shape), self._expr.NCHW)
        return np.array(self.module.forward(var).read(), dtype=np.float32, copy=True).reshape(len(x), -1)


def ncnn_files(path: Path) -> tuple[Path, Path]:
    """The weights and the contract beside ``X.ncnn.param``: ``X.ncnn.bin`` and ``X.ncnn.json``."""
    if not path.name.endswith(NCNN_PARAM):
        raise ArtifactError(f"{path}: an ncnn model is named X{NCNN_PARAM}")
    base = path.name[: -len(NCNN_PARAM)]
    return tuple(path.with_name(base + s) for s in NCNN_COMPANIONS)  # type: ignore[return-value]


class NcnnModel:
    """ncnn's Python binding on the CPU, fp32 throughout, one thread; one image per extractor (ncnn
    runs a graph on one image: its Mat has no batch dimension)."""

    def __init__(self, path: str | os.PathLike[str], threads: int = 1) -> None:
        self.path = existing_model(path)
        weights, contract = ncnn_files(self.path)
        for companion in (weights, contract):  # existing_model checked their hashes with the .param's
            if not companion.is_file():
                raise ArtifactError(f"{companion} (beside {self.path.name}) does not exist")
        self.info = read_info(parse_metadata(contract.read_bytes(), contract), str(self.path))
        self._ncnn = import_extra("ncnn", "ncnn")
        self.net = self._ncnn.Net()
        for switch in NCNN_FP32:
            setattr(self.net.opt, switch, False)
        self.net.opt.num_threads = threads
        if self.net.load_param(str(self.path)) != 0 or self.net.load_model(str(weights)) != 0:
            raise ArtifactError(f"{self.path} (with {weights.name}) is not a model ncnn can load")
        inputs, outputs = self.net.input_names(), self.net.output_names()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ArtifactError(f"{self.path}: expected one input and one output, found {inputs}, {outputs}")
        self._input, self._output = inputs[0], outputs[0]

    def predict(self, images: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(images, dtype=np.float32).reshape(-1, 1, IMAGE_SIZE, IMAGE_SIZE)
        logits = np.empty((len(x), NUM_CLASSES), np.float32)
        for i in range(len(x)):
            with self.net.create_extractor() as extractor:
                extractor.input(self._input, self._ncnn.Mat(x[i]).clone())
                status, out = extractor.extract(self._output)
                if status != 0:
                    raise ArtifactError(f"{self.path}: ncnn could not run the graph (status {status})")
                logits[i] = np.array(out, copy=True).reshape(-1)
        return logits
