"""onnxruntime sessions tuned for a tiny model that shares the process with OpenCV (torch-free)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edgedigits.core.contract import (
    IMAGE_SIZE,
    INPUT_NAME,
    INPUT_RANGE,
    LABELS,
    META_ACCURACY,
    META_INPUT_RANGE,
    META_LABELS,
    META_POLARITY,
    META_REJECT,
    NUM_CLASSES,
    OUTPUT_NAME,
    POLARITY,
    REJECT_NONE,
)
from edgedigits.core.errors import ArtifactError, first_line
from edgedigits.core.manifest import check_if_listed


def session_options(threads: int = 1) -> ort.SessionOptions:
    """One intra-op thread and no spinning: a 100k-parameter MLP gains nothing from more, and a spinning
    pool would steal the core OpenCV needs for the rest of the frame."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    opts.log_severity_level = 3
    return opts


@dataclass(frozen=True)
class RejectRule:
    """When the model says "not a digit": its top softmax probability is below ``threshold``.

    Calibrated in training (outlier exposure) and carried in the model's metadata; a model without one
    (``score`` "none") rejects nothing."""

    score: str = "none"
    threshold: float = 0.0

    def rejects(self, top_probability: np.ndarray) -> np.ndarray:
        if self.score == "none":
            return np.zeros(np.shape(top_probability), bool)
        return np.asarray(top_probability) < self.threshold

    @classmethod
    def parse(cls, text: str | None, path: str) -> RejectRule:
        try:
            rule = json.loads(text) if text else dict(REJECT_NONE)
            score = rule["score"]
        except (json.JSONDecodeError, TypeError, KeyError) as exc:
            raise ArtifactError(f"{path}: unreadable rejection rule {text!r} ({exc})") from exc
        if score == "none":
            return cls()
        if score != "max_softmax":
            raise ArtifactError(f"{path}: rejection rule score {score!r} is not one this runtime knows")
        try:
            threshold = float(rule["threshold"])
        except (TypeError, KeyError, ValueError) as exc:
            raise ArtifactError(f"{path}: unreadable rejection rule {text!r} ({exc})") from exc
        if not 0.0 <= threshold <= 1.0:
            raise ArtifactError(
                f"{path}: rejection rule {text!r} is not one this runtime knows "
                "(score 'none', or 'max_softmax' with a threshold in [0, 1])"
            )
        return cls(score, threshold)


@dataclass(frozen=True)
class ModelInfo:
    """What the model file says about itself (its contract), read from ONNX metadata."""

    labels: tuple[str, ...]
    polarity: str
    test_accuracy: float | None
    reject: RejectRule
    metadata: dict[str, str]


def existing_model(path: str | os.PathLike[str]) -> Path:
    """The model file at ``path``, refused if missing or if it differs from a manifest beside it."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"model {path} does not exist")
    check_if_listed(path)
    return path


class OnnxModel:
    """A loaded, contract-checked ONNX classifier: ``predict(images [N,1,28,28] float32) -> logits``."""

    def __init__(self, path: str | os.PathLike[str], threads: int = 1) -> None:
        path = os.fspath(existing_model(path))
        try:
            self.session = ort.InferenceSession(
                path, sess_options=session_options(threads), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf/... types
            raise ArtifactError(f"{path} is not a loadable ONNX model: {first_line(exc)}") from exc
        self.path = path
        self._check_contract()
        self.info = read_info(self.session.get_modelmeta().custom_metadata_map, path)

    def _check_contract(self) -> None:
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or inputs[0].name != INPUT_NAME:
            raise ArtifactError(
                f"{self.path}: expected one input named {INPUT_NAME!r}, found {[i.name for i in inputs]}"
            )
        shape = inputs[0].shape
        if (
            len(shape) != 4
            or list(shape[1:]) != [1, IMAGE_SIZE, IMAGE_SIZE]
            or inputs[0].type != "tensor(float)"
        ):
            raise ArtifactError(
                f"{self.path}: input must be float32 [N, 1, {IMAGE_SIZE}, {IMAGE_SIZE}], "
                f"found {inputs[0].type} {shape}"
            )
        if not outputs or outputs[0].name != OUTPUT_NAME or outputs[0].shape[-1] != NUM_CLASSES:
            raise ArtifactError(
                f"{self.path}: output must be {OUTPUT_NAME!r} [N, {NUM_CLASSES}], "
                f"found {[(o.name, o.shape) for o in outputs]}"
            )

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(images, dtype=np.float32)})[
            0
        ]


def parse_metadata(text: str | bytes, path: str | os.PathLike[str]) -> dict[str, str]:
    """The contract as the JSON object of strings that formats without a metadata table carry."""
    try:
        meta = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path}: unreadable edgedigits metadata ({first_line(exc)})") from exc
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise ArtifactError(f"{path}: edgedigits metadata is not a JSON object of strings")
    return meta


def read_info(meta: dict[str, str], path: str) -> ModelInfo:
    """The contract as a model file states it (in whatever container its format has); a file that
    states another contract is refused."""
    try:
        labels = tuple(str(x) for x in json.loads(meta[META_LABELS])) if META_LABELS in meta else LABELS
        accuracy = float(meta[META_ACCURACY]) if meta.get(META_ACCURACY) not in (None, "") else None
    except (json.JSONDecodeError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{path}: unreadable metadata ({exc})") from exc
    if len(labels) != NUM_CLASSES or not all(label.isdigit() for label in labels):
        raise ArtifactError(f"{path}: labels {labels!r} are not {NUM_CLASSES} digits")
    polarity = meta.get(META_POLARITY, POLARITY)
    if polarity != POLARITY or meta.get(META_INPUT_RANGE, INPUT_RANGE) != INPUT_RANGE:
        raise ArtifactError(
            f"{path}: expects {polarity} input in {meta.get(META_INPUT_RANGE)}; the runtime "
            f"feeds {POLARITY} in {INPUT_RANGE}"
        )
    return ModelInfo(
        labels=labels,
        polarity=polarity,
        test_accuracy=accuracy,
        reject=RejectRule.parse(meta.get(META_REJECT), path),
        metadata=dict(meta),
    )
