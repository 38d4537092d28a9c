"""The model contract shared by exporters and the edge runtime (torch-free).

Every exported artifact takes ``image`` (float32, ``[N, 1, 28, 28]``, intensities in [0, 1], bright ink
on a dark background, as MNIST was made) and returns ``logits`` (float32, ``[N, 10]``). What a
particular model was trained with travels inside the artifact as metadata under the keys below, so the
runtime reads it from the file instead of keeping its own copy.
"""

from __future__ import annotations

INPUT_NAME = "image"
OUTPUT_NAME = "logits"
IMAGE_SIZE = 28
NUM_CLASSES = 10
LABELS = tuple(str(d) for d in range(NUM_CLASSES))
POLARITY = "light-on-dark"
INPUT_RANGE = "[0, 1]"
DEFAULT_OPSET = 18

# metadata keys (ONNX metadata_props, TorchScript extra files, manifest entries)
META_LABELS = "labels"
META_POLARITY = "input_polarity"
META_INPUT_RANGE = "input_range"
META_NORMALIZATION = "normalization"
META_RECIPE = "recipe"
META_ACCURACY = "test_accuracy"
META_CHECKPOINT_SHA256 = "checkpoint_sha256"
META_VERSION = "edgedigits_version"
META_TEACHER = "teacher"  # JSON: the distillation teacher's {"accuracy", "sha256", "file"}, or ""
META_ARCH = "arch"  # the network: "mlp" (the tutorial's) or "cnn"; files written before it are mlp
META_REJECT = "reject"  # JSON: {"score": "max_softmax", "threshold": t, ...} or {"score": "none"}
REJECT_NONE = {"score": "none"}  # what a model trained without outlier exposure promises
META_KEYS = (
    META_LABELS,
    META_POLARITY,
    META_INPUT_RANGE,
    META_NORMALIZATION,
    META_RECIPE,
    META_ACCURACY,
    META_CHECKPOINT_SHA256,
    META_VERSION,
    META_REJECT,
    META_TEACHER,
    META_ARCH,
)
