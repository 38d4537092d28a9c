"""Find digit-sized ink blobs on paper-like frames (pure functions of a frame; torch-free).

Pipeline: grayscale -> (invert for light-on-dark) -> light blur -> adaptive threshold, so uneven light
does not matter -> open away specks -> outer contours -> merge pieces of one broken digit ->
filter by size, aspect and ink ratio. Every constant is a field of ``SegmentParams``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edgedigits.errors import FrameError, UsageError
from edgedigits.runtime.boxes import Box

POLARITIES = ("dark-on-light", "light-on-dark", "auto")


@dataclass(frozen=True)
class SegmentParams:
    """Tunable constants of the segmenter, with the reason for each default."""

    blur_ksize: int = 5  # odd; suppresses sensor noise and JPEG ringing before thresholding
    block_frac: float = 0.12  # adaptive-threshold window, as a fraction of the frame's short side:
    # wider than the thickest stroke (else stroke cores vanish), narrower than a lighting gradient
    threshold_offset: float = 18.0  # ink must be this many grey levels darker than its neighbourhood
    open_ksize: int = 2  # removes specks smaller than this before finding contours; 0 turns it off
    speck_px: int = 12  # pieces with a smaller contour area are noise, not digit pieces
    merge_overlap: float = 0.1  # pieces overlapping horizontally by this fraction of the narrower ...
    merge_gap_frac: float = 0.3  # ... and vertically closer than this fraction of the taller merge
    min_height_px: int = 14  # shorter blobs cannot be read at 28x28
    max_height_frac: float = 0.9  # taller than this fraction of the frame: a border or shadow, not a digit
    max_aspect: float = 2.2  # width / height; a sloppy 2 or 5 can be twice as wide as tall, a ruled line more
    min_ink_ratio: float = 0.06  # ink pixels / box area: below this, a thin loop or frame edge
    max_ink_ratio: float = 0.85  # above this, a filled blob (a thumb, a shadow)

    def __post_init__(self) -> None:
        if self.blur_ksize < 0 or (self.blur_ksize and self.blur_ksize % 2 == 0):
            raise UsageError(f"blur_ksize must be 0 or odd, got {self.blur_ksize}")
        if not 0 < self.block_frac < 1:
            raise UsageError(f"block_frac must be in (0, 1), got {self.block_frac}")
        if not 0 <= self.min_ink_ratio < self.max_ink_ratio <= 1:
            raise UsageError("need 0 <= min_ink_ratio < max_ink_ratio <= 1")


def to_gray(frame: np.ndarray) -> np.ndarray:
    """Grayscale uint8 from a grayscale, BGR or BGRA uint8 frame."""
    if frame.ndim == 2:
        return frame
    if frame.ndim == 3 and frame.shape[2] == 1:
        return frame[:, :, 0]
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY)
    raise FrameError(f"frame must be HxW, HxWx1, HxWx3 or HxWx4, got shape {frame.shape}")


def resolve_polarity(gray: np.ndarray, polarity: str) -> str:
    """``auto``: paper is the majority of a frame, so a bright median means dark ink on light paper."""
    if polarity not in POLARITIES:
        raise UsageError(f"polarity must be one of {POLARITIES}, got {polarity!r}")
    if polarity != "auto":
        return polarity
    return "dark-on-light" if np.median(gray[::4, ::4]) >= 128 else "light-on-dark"


def ink_mask(gray: np.ndarray, polarity: str, params: SegmentParams) -> np.ndarray:
    """Binary uint8 mask (255 = ink) of a grayscale frame.

    Binary on purpose: MNIST itself was made from binary NIST digits, anti-aliased by the downscale the
    normalizer repeats; keeping grey levels instead scored lower on the synthetic scenes."""
    paper = gray if resolve_polarity(gray, polarity) == "dark-on-light" else cv2.bitwise_not(gray)
    if params.blur_ksize:
        paper = cv2.GaussianBlur(paper, (params.blur_ksize, params.blur_ksize), 0)
    block = max(3, int(min(gray.shape) * params.block_frac) | 1)
    mask = cv2.adaptiveThreshold(
        paper, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, params.threshold_offset
    )
    if params.open_ksize:
        kernel = np.ones((params.open_ksize, params.open_ksize), np.uint8)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    return mask


@dataclass(frozen=True)
class Blob:
    box: Box
    contours: tuple[np.ndarray, ...]  # outer contours of the pieces that make up this digit

    def own_mask(self, mask: np.ndarray) -> np.ndarray:
        """The blob's ink inside its box, without a neighbour's stroke that reaches into the box."""
        x, y, w, h = self.box
        inside = np.zeros((h, w), np.uint8)
        cv2.drawContours(inside, list(self.contours), -1, 255, thickness=cv2.FILLED, offset=(-x, -y))
        return cv2.bitwise_and(inside, mask[y : y + h, x : x + w])


def find_blobs(mask: np.ndarray, params: SegmentParams) -> list[tuple[Blob, np.ndarray]]:
    """Digit candidates of an ink mask, each with its own ink (a uint8 crop of its box)."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    pieces = [
        Blob(tuple(int(v) for v in cv2.boundingRect(c)), (c,))
        for c in contours
        if cv2.contourArea(c) >= params.speck_px
    ]
    kept = []
    for blob in _merge_pieces(pieces, params):
        if _shape_ok(blob.box, mask.shape[0], params):
            ink = blob.own_mask(mask)
            if params.min_ink_ratio <= cv2.countNonZero(ink) / float(ink.size) <= params.max_ink_ratio:
                kept.append((blob, ink))
    return kept


def _merge_pieces(blobs: list[Blob], params: SegmentParams) -> list[Blob]:
    """Union blobs stacked on one another (a broken 5's bar, a 7's stroke) until nothing changes."""
    blobs = sorted(blobs, key=lambda b: b.box[0])
    changed = True
    while changed:
        changed = False
        for i in range(len(blobs)):
            for j in range(i + 1, len(blobs)):
                if _belong_together(blobs[i].box, blobs[j].box, params):
                    blobs[i] = _union(blobs[i], blobs[j])
                    del blobs[j]
                    changed = True
                    break
            if changed:
                break
    return blobs


def _belong_together(a: Box, b: Box, params: SegmentParams) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    x_overlap = min(ax + aw, bx + bw) - max(ax, bx)
    if x_overlap < params.merge_overlap * min(aw, bw):
        return False
    y_gap = max(ay, by) - min(ay + ah, by + bh)  # negative when they overlap vertically
    return y_gap <= params.merge_gap_frac * max(ah, bh)


def _union(a: Blob, b: Blob) -> Blob:
    x0, y0 = min(a.box[0], b.box[0]), min(a.box[1], b.box[1])
    x1 = max(a.box[0] + a.box[2], b.box[0] + b.box[2])
    y1 = max(a.box[1] + a.box[3], b.box[1] + b.box[3])
    return Blob((x0, y0, x1 - x0, y1 - y0), a.contours + b.contours)


def _shape_ok(box: Box, frame_h: int, params: SegmentParams) -> bool:
    _, _, w, h = box
    return params.min_height_px <= h <= params.max_height_frac * frame_h and w <= params.max_aspect * h
