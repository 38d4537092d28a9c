"""Rejection on held-out crops: the pen's marks and digits (``evaluation.penhand``, never trained on)
drawn, thresholded and normalized the way the runtime crops them, then read by the runtime's own
classifier (shift votes and the model's rejection rule). The crop-level figures behind the clutter
pages' precision, in a second instead of a page run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgedigits.evaluation.penhand import pen_digit, pen_mark
from edgedigits.runtime.normalize import to_mnist

HELDOUT_CROP_SEED = 2_000_000  # held out like the pages' seeds: measured, never looked at while tuning


@dataclass(frozen=True)
class CropFigures:
    marks_rejected: float  # pen marks (letters, symbols, doodles) the reader rejects
    digits_kept: float  # pen digits it keeps
    digits_read: float  # pen digits it keeps and reads right

    def to_json(self) -> dict:
        return {k: round(v, 4) for k, v in vars(self).items()}


def _crop(alpha: np.ndarray) -> np.ndarray:
    return to_mnist((alpha > 0.5).astype(np.uint8) * 255)


def pen_crops(count: int, seed: int = HELDOUT_CROP_SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``count`` pen marks and ``count`` pen digits (30-90 px tall) as model inputs [N, 28, 28], and the
    digits' labels."""
    rng = np.random.default_rng(seed)
    marks = np.stack([_crop(pen_mark(int(rng.integers(30, 91)), rng)[1]) for _ in range(count)])
    labels = rng.integers(0, 10, count)
    digits = np.stack([_crop(pen_digit(int(d), int(rng.integers(30, 91)), rng)) for d in labels])
    return marks, digits, labels


def crop_figures(recognizer, count: int = 500, seed: int = HELDOUT_CROP_SEED) -> CropFigures:
    """How ``recognizer`` (a ``DigitRecognizer``) treats ``count`` held-out pen marks and digits."""
    marks, digits, labels = pen_crops(count, seed)
    rejected = recognizer.reject.rejects(recognizer.probabilities(marks).max(1))
    probs = recognizer.probabilities(digits)
    kept = ~recognizer.reject.rejects(probs.max(1))
    read = kept & (np.asarray(recognizer.labels, int)[probs.argmax(1)] == labels)
    return CropFigures(float(rejected.mean()), float(kept.mean()), float(read.mean()))
