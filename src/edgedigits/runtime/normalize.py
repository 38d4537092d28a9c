"""Turn a digit's ink into a model input exactly the way MNIST was made (torch-free).

MNIST: the binary NIST digit was scaled, keeping its aspect ratio, to fit a 20x20 box (anti-aliasing
makes the grey levels), then placed in a 28x28 field so its centre of mass sits at the centre.
We do the same to the blob's ink mask, so a camera crop looks like a training image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edgedigits.core.contract import IMAGE_SIZE
from edgedigits.core.errors import UsageError


@dataclass(frozen=True)
class NormalizeParams:
    fit_px: int = 20  # MNIST's digit box inside the 28x28 field
    min_stroke_px: float = 1.8  # after scaling, thinner strokes are thickened to about MNIST's width

    def __post_init__(self) -> None:
        if not 4 <= self.fit_px <= IMAGE_SIZE:
            raise UsageError(f"fit_px must be in [4, {IMAGE_SIZE}], got {self.fit_px}")


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a binary mask: ink area over half its outline length (a stroke of length L
    and width w has area L*w and an outline of about 2L)."""
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    return 2.0 * float(np.count_nonzero(mask)) / perimeter if perimeter else 0.0


def to_mnist(mask: np.ndarray, params: NormalizeParams = NormalizeParams()) -> np.ndarray:
    """A binary crop (uint8, ink > 0) of one digit -> float32 [28, 28] in [0, 1], ink bright."""
    ys, xs = np.nonzero(mask)
    out = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32)
    if len(xs) == 0:
        return out
    crop = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = crop.shape
    scale = params.fit_px / max(h, w)
    width = stroke_width(crop) * scale
    if 0 < width < params.min_stroke_px:  # thin pen: thicken before shrinking, as MNIST's pen was thick
        grow = int(round((params.min_stroke_px - width) / scale))
        if grow > 0:
            crop = cv2.dilate(
                cv2.copyMakeBorder(crop, grow, grow, grow, grow, cv2.BORDER_CONSTANT, value=0),
                cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow + 1, grow + 1)),
            )
            h, w = crop.shape
            scale = params.fit_px / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    total = small.sum()
    if total <= 0:
        return out
    cy = float((small.sum(1) * np.arange(small.shape[0])).sum() / total)
    cx = float((small.sum(0) * np.arange(small.shape[1])).sum() / total)
    # integer shift putting the centre of mass at (14, 14) (the MNIST test set's mean is 13.99, 14.01)
    top = int(np.clip(round(IMAGE_SIZE / 2 - cy), 0, IMAGE_SIZE - small.shape[0]))
    left = int(np.clip(round(IMAGE_SIZE / 2 - cx), 0, IMAGE_SIZE - small.shape[1]))
    out[top : top + small.shape[0], left : left + small.shape[1]] = small
    return out
