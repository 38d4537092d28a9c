"""Synthetic camera-like scenes of MNIST *test* digits, with ground truth, and their scoring (torch-free).

A scene is a sheet of paper under uneven light (gradient, vignette, texture) with 3-8 digits written in
dark ink at 30-150 px, rotated, then the camera's blur, sensor noise and JPEG. The digits come from the
MNIST test split, which training never sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from edgedigits.data import Split
from edgedigits.runtime.boxes import Box, iou


@dataclass(frozen=True)
class SceneParams:
    width: int = 640
    height: int = 480
    digits: tuple[int, int] = (3, 8)
    digit_px: tuple[int, int] = (30, 150)  # digit height in the frame
    max_rotation_deg: float = 15.0
    paper: tuple[int, int] = (170, 240)  # mean paper brightness
    light_gradient: tuple[int, int] = (20, 90)  # brightness change across the sheet
    ink: tuple[float, float] = (0.55, 0.85)  # fraction of the paper's light the ink absorbs
    blur_sigma: tuple[float, float] = (0.0, 1.2)
    noise_sigma: tuple[float, float] = (2.0, 8.0)
    jpeg_quality: tuple[int, int] = (40, 90)
    margin_frac: float = 0.35  # free space around each digit, as a fraction of its height
    color: bool = True


@dataclass(frozen=True)
class Scene:
    image: np.ndarray  # uint8 BGR (or gray)
    boxes: list[Box]
    labels: list[int]
    indices: list[int]  # which MNIST test image each digit is


def _paper(rng: np.random.Generator, p: SceneParams) -> np.ndarray:
    h, w = p.height, p.width
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * (xx / w - 0.5) + np.sin(angle) * (yy / h - 0.5)) * rng.uniform(*p.light_gradient)
    vignette = -rng.uniform(0, 30) * (((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) * 2)
    texture = cv2.resize(rng.normal(0, 4, (h // 16 + 1, w // 16 + 1)).astype(np.float32), (w, h))
    return rng.uniform(*p.paper) + ramp + vignette + texture


def _digit_alpha(digit: np.ndarray, height: int, angle: float) -> np.ndarray:
    """An MNIST digit's ink as alpha in [0, 1], scaled to ``height`` px tall and rotated."""
    ys, xs = np.nonzero(digit)
    crop = digit[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32) / 255
    scale = height / crop.shape[0]
    size = (max(1, round(crop.shape[1] * scale)), height)
    big = cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
    pad = height // 2
    big = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    center = (big.shape[1] / 2, big.shape[0] / 2)
    rot = cv2.getRotationMatrix2D(center, angle, 1.0)
    return np.clip(cv2.warpAffine(big, rot, (big.shape[1], big.shape[0]), flags=cv2.INTER_LINEAR), 0, 1)


def _overlaps(box: Box, others: Sequence[Box], margin: float) -> bool:
    x, y, w, h = box
    for ox, oy, ow, oh in others:
        m = margin * max(h, oh)
        if x < ox + ow + m and ox < x + w + m and y < oy + oh + m and oy < y + h + m:
            return True
    return False


def make_scene(
    images: np.ndarray, labels: np.ndarray, rng: np.random.Generator, params: SceneParams = SceneParams()
) -> Scene:
    """Draw 3-8 random digits of ``images``/``labels`` (MNIST test) onto a camera-like sheet."""
    p = params
    paper = _paper(rng, p)
    ink = np.zeros_like(paper)
    boxes: list[Box] = []
    out_labels: list[int] = []
    indices: list[int] = []
    for _ in range(int(rng.integers(p.digits[0], p.digits[1] + 1))):
        for _attempt in range(30):
            idx = int(rng.integers(len(images)))
            alpha = _digit_alpha(
                images[idx],
                int(rng.integers(p.digit_px[0], p.digit_px[1] + 1)),
                rng.uniform(-p.max_rotation_deg, p.max_rotation_deg),
            )
            ah, aw = alpha.shape
            if ah >= p.height or aw >= p.width:
                continue
            x0, y0 = int(rng.integers(0, p.width - aw)), int(rng.integers(0, p.height - ah))
            ys, xs = np.nonzero(alpha > 0.5)
            box = (
                x0 + int(xs.min()),
                y0 + int(ys.min()),
                int(xs.max() - xs.min() + 1),
                int(ys.max() - ys.min() + 1),
            )
            if _overlaps(box, boxes, p.margin_frac):
                continue
            region = ink[y0 : y0 + ah, x0 : x0 + aw]
            np.maximum(region, alpha * rng.uniform(*p.ink), out=region)
            boxes.append(box)
            out_labels.append(int(labels[idx]))
            indices.append(idx)
            break
    gray = paper * (1 - ink)
    if p.color:
        tint = np.array([rng.uniform(0.9, 1.0), rng.uniform(0.93, 1.0), rng.uniform(0.95, 1.0)], np.float32)
        img = gray[:, :, None] * tint[None, None, :]
    else:
        img = gray
    sigma = rng.uniform(*p.blur_sigma)
    if sigma > 0.2:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    img = img + rng.normal(0, rng.uniform(*p.noise_sigma), img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    quality = int(rng.integers(p.jpeg_quality[0], p.jpeg_quality[1] + 1))
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return Scene(img, boxes, out_labels, indices)


@dataclass
class Score:
    truths: int = 0
    predictions: int = 0
    matched: int = 0
    correct: int = 0

    def add(
        self,
        truth_boxes: Sequence[Box],
        truth_labels: Sequence[int],
        pred_boxes: Sequence[Box],
        pred_labels: Sequence[int],
        min_iou: float = 0.5,
    ) -> None:
        """Greedy one-to-one matching by IoU, best pairs first."""
        self.truths += len(truth_boxes)
        self.predictions += len(pred_boxes)
        pairs = sorted(
            ((iou(t, p), i, j) for i, t in enumerate(truth_boxes) for j, p in enumerate(pred_boxes)),
            reverse=True,
        )
        used_t, used_p = set(), set()
        for overlap, i, j in pairs:
            if overlap < min_iou:
                break
            if i in used_t or j in used_p:
                continue
            used_t.add(i)
            used_p.add(j)
            self.matched += 1
            self.correct += int(truth_labels[i] == pred_labels[j])

    @property
    def recall(self) -> float:
        return self.matched / self.truths if self.truths else 1.0

    @property
    def precision(self) -> float:
        return self.matched / self.predictions if self.predictions else 1.0

    @property
    def label_accuracy(self) -> float:
        return self.correct / self.matched if self.matched else 0.0

    @property
    def end_to_end(self) -> float:
        return self.correct / self.truths if self.truths else 0.0

    def to_json(self) -> dict:
        return {
            "truths": self.truths,
            "predictions": self.predictions,
            "recall": self.recall,
            "precision": self.precision,
            "label_accuracy": self.label_accuracy,
            "end_to_end": self.end_to_end,
        }


def render_lines(
    split: Split, lines: Sequence[str], digit_px: int = 90, seed: int = 0, noise: float = 3.0
) -> np.ndarray:
    """Dark MNIST test digits on a lit sheet of paper, one handwritten text line per entry of ``lines``
    (a known answer for reading-order tests and demos)."""
    rng = np.random.default_rng(seed)
    pitch = int(digit_px * 0.8)  # MNIST ink fills ~70% of its box: this spaces digits like handwriting
    width = 60 + max(len(t) for t in lines) * pitch + digit_px
    height = 40 + len(lines) * int(digit_px * 1.5)
    xx = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    yy = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    paper = 215 + 35 * xx - 25 * yy
    ink = np.zeros((height, width), np.float32)
    for row, text in enumerate(lines):
        for col, char in enumerate(text):
            candidates = np.flatnonzero(split.labels == int(char))
            digit = split.images[candidates[int(rng.integers(len(candidates)))]]
            big = (
                cv2.resize(digit, (digit_px, digit_px), interpolation=cv2.INTER_CUBIC).astype(np.float32)
                / 255
            )
            y, x = 20 + row * int(digit_px * 1.5), 30 + col * pitch
            ink[y : y + digit_px, x : x + digit_px] = np.maximum(ink[y : y + digit_px, x : x + digit_px], big)
    image = paper * (1 - 0.8 * np.clip(ink, 0, 1)) + rng.normal(0, noise, paper.shape)
    return cv2.cvtColor(np.clip(image, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
