"""Training material the runtime needs beyond MNIST (torch-free): non-digits, and digits re-drawn the way
the runtime's camera crops look.

Both go through the runtime's own ``to_mnist``, so the model sees at training time exactly what the
segmenter hands it: binary ink, fitted to a 20 px box, centred by mass. Non-digits (letters, symbols,
shapes, hand-drawn letters, words and marks, digits crossed out or ringed, scribbles, line pieces, paper
texture, two digits run together) teach it to answer with a flat softmax (or, for the CNN, with its
background class, folded into a flat one on export), which the rejection rule in the model's contract
turns into "not a digit".
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

from edgedigits.runtime.normalize import to_mnist
from edgedigits.train.marks import tight, tune_mark
from edgedigits.train.scrawl import scrawl

NON_DIGIT_KINDS = ("mark", "pair", "dash", "texture", "scribble", "scrawl", "struck")
DRAWN_WEIGHTS = (0.45, 0.2, 0.1, 0.1, 0.15)  # mark ... scribble: OpenCV's glyphs and shapes
HAND_WEIGHTS = (0.75, 0.25)  # scrawl, struck: hand-drawn letters, words and marks; digits crossed out
HELD_BACK = 2000  # non-digits drawn for calibration from another seed, never trained on
CACHED_RUNS = 4  # material kept per process: a few seeds' worth (about 40 MB each)


def _binary(alpha: np.ndarray, level: float = 0.5) -> np.ndarray:
    return (alpha > level).astype(np.uint8) * 255


def _to_uint8(crop: np.ndarray) -> np.ndarray:
    return np.round(crop * 255).astype(np.uint8)


def _pair(digits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two digits run together (side by side, touching or nearly), as a merged blob would look."""
    a, b = (digits[int(i)] for i in rng.integers(len(digits), size=2))
    gap = int(rng.integers(-4, 3))
    canvas = np.zeros((28, 56 + gap), np.uint8)
    canvas[:, :28] = a
    right = canvas[:, 28 + gap :]
    np.maximum(right, b, out=right)
    dy = int(rng.integers(-3, 4))
    canvas = np.roll(canvas, dy, axis=0) if rng.random() < 0.5 else canvas
    big = cv2.resize(canvas, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    return _binary(big.astype(np.float32) / 255, rng.uniform(0.35, 0.6))


def _struck(digits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A digit crossed out (lines or a scribble through it) or ringed by a circle that touches it: one
    blob, and not a digit to read."""
    digit = cv2.resize(
        digits[int(rng.integers(len(digits)))], None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC
    )
    canvas = cv2.copyMakeBorder(_binary(digit.astype(np.float32) / 255, rng.uniform(0.35, 0.6)), *[48] * 4, 0)
    x, y, w, h = tight(canvas)
    thick, how = int(rng.integers(3, 9)), rng.random()
    if how < 0.35:
        centre = (x + w // 2 + int(rng.integers(-4, 5)), y + h // 2 + int(rng.integers(-4, 5)))
        axes = (int(w / 2 * rng.uniform(0.8, 1.4)), int(h / 2 * rng.uniform(0.7, 1.05)))
        cv2.ellipse(canvas, centre, axes, rng.uniform(-20, 20), 0, rng.uniform(300, 360), 255, thick)
    elif how < 0.7:
        for _ in range(int(rng.integers(1, 4))):  # well past the digit: not a 7's or a 1's crossbar
            y0, y1 = (int(y + h * rng.uniform(0.1, 0.9)) for _ in range(2))
            reach = [int(rng.uniform(0.25, 0.6) * max(w, h)) for _ in range(2)]
            cv2.line(canvas, (x - reach[0], y0), (x + w + reach[1], y1), 255, thick)
    else:
        n = int(rng.integers(5, 10))
        xs = np.linspace(x - 6, x + w + 6, n)
        ys = np.where(np.arange(n) % 2 == 0, y + h * 0.15, y + h * 0.85) + rng.normal(0, 4, n)
        cv2.polylines(canvas, [np.stack([xs, ys], 1).astype(np.int32)], False, 255, thick)
    return canvas


def _dash(rng: np.random.Generator) -> np.ndarray:
    """A piece of a line, kept well away from upright (an upright stroke is a 1)."""
    canvas = np.zeros((96, 96), np.uint8)
    angle = np.radians(rng.uniform(-35, 35))
    length = rng.uniform(30, 46)
    c = np.array([48.0, 48.0])
    d = np.array([np.cos(angle), np.sin(angle)]) * length
    p0, p1 = (c - d).astype(np.int32), (c + d).astype(np.int32)
    cv2.line(canvas, tuple(int(v) for v in p0), tuple(int(v) for v in p1), 255, int(rng.integers(3, 9)))
    return canvas


def _texture(rng: np.random.Generator) -> np.ndarray:
    """Blotches of paper texture, a smudge or a shadow edge that thresholded into ink."""
    noise = cv2.resize(rng.normal(0, 1, (8, 8)).astype(np.float32), (64, 64), interpolation=cv2.INTER_CUBIC)
    return _binary(noise, rng.uniform(0.6, 1.4))


def _scribble(rng: np.random.Generator) -> np.ndarray:
    canvas = np.zeros((96, 96), np.uint8)
    pts = rng.uniform(8, 88, (int(rng.integers(6, 12)), 2)).astype(np.int32)
    cv2.polylines(canvas, [pts], False, 255, int(rng.integers(3, 9)))
    return canvas


def kind_weights(hand_drawn: float) -> np.ndarray:
    """The chance of each of ``NON_DIGIT_KINDS``: ``hand_drawn`` of them hand-drawn. The hand-drawn kinds
    come last, so at 0 the same seed draws the very non-digits it drew before they existed."""
    return np.array([w * (1 - hand_drawn) for w in DRAWN_WEIGHTS] + [w * hand_drawn for w in HAND_WEIGHTS])


def non_digits(
    count: int, digits: np.ndarray, rng: np.random.Generator, hand_drawn: float = 0.0
) -> np.ndarray:
    """``count`` non-digit model inputs (uint8 [count, 28, 28], ink bright), drawn like runtime crops,
    ``hand_drawn`` of them hand-drawn.

    ``digits`` (uint8 [N, 28, 28]) are the training digits that pairs and crossed-out digits are made of."""
    out = np.zeros((count, 28, 28), np.uint8)
    weights = kind_weights(hand_drawn)
    kinds = rng.choice(len(NON_DIGIT_KINDS), size=count, p=weights / weights.sum())
    for i, kind in enumerate(kinds):
        name = NON_DIGIT_KINDS[kind]
        if name == "mark":
            mask = _binary(tune_mark(int(rng.integers(40, 90)), rng))
        elif name == "scrawl":
            mask = _binary(scrawl(int(rng.integers(40, 90)), rng))
        elif name == "struck":
            mask = _struck(digits, rng)
        elif name == "pair":
            mask = _pair(digits, rng)
        elif name == "dash":
            mask = _dash(rng)
        elif name == "texture":
            mask = _texture(rng)
        else:
            mask = _scribble(rng)
        out[i] = _to_uint8(to_mnist(mask))
    return out


def runtime_renderings(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each MNIST digit as the runtime would crop it from a camera frame: blown up, thresholded at a
    random level (pen pressure, exposure), sometimes with a thicker or thinner pen, then normalized."""
    out = np.empty_like(images)
    for i, img in enumerate(images):
        scale = int(rng.integers(2, 6))
        big = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        mask = ((big > rng.uniform(70, 170)) * 255).astype(np.uint8)
        change = rng.random()
        if change < 0.25 or change > 0.85:
            k = int(rng.integers(1, scale + 1)) * 2 + 1
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
            mask = cv2.dilate(mask, kernel) if change < 0.25 else cv2.erode(mask, kernel)
            if not mask.any():
                mask = ((big > 127) * 255).astype(np.uint8)
        out[i] = _to_uint8(to_mnist(mask))
    return out


@dataclass(frozen=True)
class OutlierMaterial:
    """What outlier exposure trains and calibrates with, all uint8 [N, 28, 28] and read-only (shared by
    every run of a process that asks for the same one)."""

    picked: np.ndarray  # indices of the training digits rendered again ([renderings])
    renderings: np.ndarray  # those digits as the runtime renders them
    bank: np.ndarray  # non-digits to train on
    held_back: np.ndarray  # non-digits never trained on (another seed), for calibration
    rendered_test: np.ndarray  # the test digits as the runtime renders them, for calibration


_cache: OrderedDict[tuple, OutlierMaterial] = OrderedDict()


def outlier_material(
    train: np.ndarray, test: np.ndarray, seed: int, *, bank: int, renderings: int, hand_drawn: float = 0.0
) -> OutlierMaterial:
    """The material for ``seed``: a pure function of its arguments, so a resumed run gets the same, and
    built once per process for the same digits, seed and sizes (renderings cost seconds; tests train
    many short runs). ``train`` and ``test`` are the MNIST images, uint8 [N, 28, 28]."""
    key = (_digest(train), _digest(test), seed, bank, renderings, hand_drawn)
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    material = _build(train, test, seed, bank, renderings, hand_drawn)
    _cache[key] = material
    while len(_cache) > CACHED_RUNS:
        _cache.popitem(last=False)
    return material


def _digest(images: np.ndarray) -> bytes:
    """The images' content (tens of milliseconds for MNIST's training set)."""
    h = hashlib.blake2b(str((images.shape, images.dtype.str)).encode(), digest_size=16)
    h.update(np.ascontiguousarray(images).data)
    return h.digest()


def _build(
    train: np.ndarray, test: np.ndarray, seed: int, bank: int, renderings: int, hand_drawn: float = 0.0
) -> OutlierMaterial:
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(train), size=min(renderings, len(train)), replace=False)
    rendered = runtime_renderings(train[picked], rng)
    drawn = non_digits(bank, train, rng, hand_drawn)
    calibration_rng = np.random.default_rng(seed + 1_000_003)
    held_back = non_digits(HELD_BACK, train, calibration_rng, hand_drawn)
    rendered_test = runtime_renderings(test, calibration_rng)
    arrays = (picked, rendered, drawn, held_back, rendered_test)
    for array in arrays:
        array.setflags(write=False)
    return OutlierMaterial(*arrays)
