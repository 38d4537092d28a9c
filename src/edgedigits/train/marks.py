"""Non-digit marks drawn with OpenCV (torch-free): Hershey letters and symbols, and hand-drawn shapes.

Training's outlier exposure learns "not a digit" from them; the evaluation scenes draw them as clutter
in the tuning style (the held-out style has its own pen model).
"""

from __future__ import annotations

import cv2
import numpy as np

from edgedigits.runtime.boxes import Box

HERSHEY_FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
    cv2.FONT_HERSHEY_SCRIPT_COMPLEX,
)
# non-digits for the outlier exposure (and the clutter scenes): letters and symbols no digit resembles
HERSHEY_MARKS = tuple("AEFHKMNPRTVWXYfkmnprtvwx#@*+%&?=<>$")  # no C/U/a/d/e/h/y: 0, 6, 9 or 4 in a hurry
SHAPE_MARKS = ("box", "circled_cross", "zigzag", "scribble", "dash", "triangle", "arrow")


def tight(alpha: np.ndarray, level: float = 0.5) -> Box:
    ys, xs = np.nonzero(alpha > level)
    if len(xs) == 0:
        return (0, 0, 0, 0)
    return (int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))


def fit_height(alpha: np.ndarray, height: int, slant: float = 0.0, by_side: bool = False) -> np.ndarray:
    """Crop ``alpha`` to its ink, shear it by ``slant``, scale it to ``height`` (its longer side's length
    with ``by_side``) and pad it."""
    x, y, w, h = tight(alpha, 0.2)
    crop = alpha[y : y + h, x : x + w]
    if slant:
        pad = int(abs(slant) * h) + 2
        crop = cv2.copyMakeBorder(crop, 0, 0, pad, pad, cv2.BORDER_CONSTANT, value=0)
        shear = np.float32([[1, -slant, slant * h / 2], [0, 1, 0]])
        crop = cv2.warpAffine(crop, shear, (crop.shape[1], crop.shape[0]), flags=cv2.INTER_LINEAR)
        x, y, w, h = tight(crop, 0.2)
        crop = crop[y : y + h, x : x + w]
    scale = height / (max(crop.shape) if by_side else crop.shape[0])
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    out = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    return cv2.copyMakeBorder(np.clip(out, 0, 1), 2, 2, 2, 2, cv2.BORDER_CONSTANT, value=0)


def hershey_alpha(text: str, height: int, rng: np.random.Generator, by_side: bool = False) -> np.ndarray:
    """``text`` in a random OpenCV Hershey font, stroke width and slant, ``height`` px tall."""
    font = HERSHEY_FONTS[int(rng.integers(len(HERSHEY_FONTS)))]
    canvas = np.zeros((170, 60 + 110 * len(text)), np.uint8)
    cv2.putText(canvas, text, (30, 125), font, 3.0, 255, int(rng.integers(2, 8)), cv2.LINE_AA)
    return fit_height(canvas.astype(np.float32) / 255, height, rng.uniform(-0.3, 0.3), by_side)


def shape_alpha(kind: str, height: int, rng: np.random.Generator) -> np.ndarray:
    """A drawn non-digit shape (box, circled cross, zig-zag, scribble, dash, triangle, arrow)."""
    size = 96
    canvas = np.zeros((size, size), np.uint8)
    thick = int(rng.integers(3, 10))

    def pt(lo: float = 0.1, hi: float = 0.9) -> tuple[int, int]:
        return int(rng.uniform(lo, hi) * size), int(rng.uniform(lo, hi) * size)

    if kind == "box":
        x0, y0 = int(rng.uniform(0.05, 0.3) * size), int(rng.uniform(0.05, 0.3) * size)
        cv2.rectangle(canvas, (x0, y0), (size - x0, size - y0), 255, thick)
    elif kind == "circled_cross":
        c, r = size // 2, int(size * 0.42)
        cv2.circle(canvas, (c, c), r, 255, thick)
        d = int(r * 0.7)
        cv2.line(canvas, (c - d, c - d), (c + d, c + d), 255, thick)
        cv2.line(canvas, (c - d, c + d), (c + d, c - d), 255, thick)
    elif kind == "zigzag":
        n = int(rng.integers(4, 9))
        xs = np.linspace(0.05, 0.95, n) * size
        ys = np.where(np.arange(n) % 2 == 0, 0.2, 0.8) * size + rng.normal(0, 4, n)
        cv2.polylines(canvas, [np.stack([xs, ys], 1).astype(np.int32)], False, 255, thick)
    elif kind == "scribble":
        pts = np.array([pt() for _ in range(int(rng.integers(5, 12)))], np.int32)
        cv2.polylines(canvas, [pts], False, 255, thick)
    elif kind == "dash":
        y = size // 2
        cv2.line(canvas, (5, y), (size - 5, y + int(rng.integers(-15, 16))), 255, thick)
    elif kind == "triangle":
        pts = np.array([(size // 2, 5), (5, size - 5), (size - 5, size - 5)], np.int32)
        cv2.polylines(canvas, [pts], True, 255, thick)
    elif kind == "arrow":
        cv2.arrowedLine(canvas, pt(0.05, 0.3), pt(0.7, 0.95), 255, thick, tipLength=0.35)
    else:
        raise ValueError(f"unknown shape {kind!r}")
    alpha = cv2.GaussianBlur(canvas, (3, 3), 0).astype(np.float32) / 255
    return fit_height(alpha, height, by_side=True)


def tune_mark(height: int, rng: np.random.Generator) -> np.ndarray:
    """A non-digit mark of the tuning style: a Hershey letter or symbol, or a drawn shape."""
    if rng.random() < 0.5:
        return hershey_alpha(HERSHEY_MARKS[int(rng.integers(len(HERSHEY_MARKS)))], height, rng, by_side=True)
    return shape_alpha(SHAPE_MARKS[int(rng.integers(len(SHAPE_MARKS)))], height, rng)
