"""Synthetic hand-held camera videos over a page, with per-frame truth (torch-free).

A page of one of ``PAN_KINDS`` is drawn large (``scenes``' notebook, clutter and form pages, their ink
and light but not yet their camera), and a 640x480 camera window moves over it: a ``pan`` from one part of
the page to another, or a ``shake`` (held over one spot with a few pixels of hand tremor). Either way the
zoom breathes by a few percent and the camera rolls by a degree or two; each frame then gets motion blur
along its own motion, sensor noise and JPEG. For every frame the truth gives each digit's box in the
frame and its label, each number's text and box, and whether each is fully in view, cut by the frame's
edge, or too close to it to say (``EDGE_CLEAR``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from edgedigits.evaluation.scenes import (
    HELDOUT_SEED,
    PAGE_KINDS,
    Inks,
    _camera,
    _clutter,
    _form,
    _notebook,
    _Sheet,
    _tint,
)
from edgedigits.runtime.boxes import Box

PAN_KINDS = ("notebook", "clutter", "form")
MOTIONS = ("pan", "shake")
EDGE_CLEAR = 3.0  # a digit this far (frame px) inside the frame, plus half its frame's motion blur, is
# fully in view; one reaching more than a pixel outside it is cut; between the two the truth does not say
# (the ink's fringe, the lens and the motion blur spread a digit past its ink box at alpha 0.5)
IN, CUT, EDGE = "in", "cut", "edge"


@dataclass(frozen=True)
class PanParams:
    width: int = 640
    height: int = 480
    frames: int = 60
    page: tuple[int, int] = (2400, 1200)  # the page drawn, px (its writing scales with its height)
    zoom: tuple[float, float] = (0.5, 0.6)  # frame px per page px
    zoom_breath: float = 0.04  # the zoom varies by this fraction over the video
    roll_deg: float = 2.0  # the camera rolls up to this many degrees
    pan_px: tuple[float, float] = (5.0, 14.0)  # pan speed, frame px per frame
    shake_px: float = 3.0  # hand tremor, frame px per frame (both motions)
    exposure: tuple[float, float] = (0.3, 0.7)  # motion blur length, as a fraction of a frame's motion
    noise: tuple[float, float] = (2.0, 5.0)
    jpeg: tuple[int, int] = (60, 91)


@dataclass(frozen=True)
class Truth:
    """One frame's truth: ``digits`` (label, frame box, state) and ``numbers`` (id on the page, text,
    frame box, state), only those at least partly in view. A number is in view when all its digits are,
    cut when one of them is."""

    digits: list[tuple[int, Box, str]]
    numbers: list[tuple[int, str, Box, str]]


@dataclass(frozen=True)
class PanVideo:
    kind: str
    motion: str
    frames: list[np.ndarray]
    truth: list[Truth]


def pan_seed(kind: str, motion: str, style: str, video: int, heldout: bool) -> int:
    """Seeds of the videos: held-out ones (the pen style always, or ``heldout``) from ``HELDOUT_SEED`` on,
    apart from the still pages' seeds (``scenes.page_seed``)."""
    base = HELDOUT_SEED if (heldout or style == "heldout") else 0
    return base + 500_000 + 10_000 * PAGE_KINDS.index(kind) + 1_000 * MOTIONS.index(motion) + video


def _page(kind: str, inks: Inks, rng: np.random.Generator, size: tuple[int, int]):
    """The lit page (float BGR, no camera yet), its digit boxes and labels, and its numbers as (text,
    first digit index)."""
    sheet = _Sheet(rng, *size)
    if kind == "notebook":
        _notebook(sheet, inks, hand=False)
    elif kind == "clutter":
        for _ in range(3):  # a big sheet: three sheets' worth of numbers, marks and lines
            _clutter(sheet, inks)
    elif kind == "form":
        _form(sheet, inks)
    else:
        raise ValueError(f"kind must be one of {PAN_KINDS}, got {kind!r}")
    img = sheet.light[:, :, None] * _tint(rng) * (1 - sheet.absorb)
    numbers, start = [], 0
    for text, _ in sheet.numbers:
        numbers.append((text, start))
        start += len(text)
    if start != len(sheet.boxes):
        raise RuntimeError("every digit of a page must belong to one number")
    return img.astype(np.float32), sheet.boxes, sheet.labels, numbers


def _path(p: PanParams, motion: str, rng: np.random.Generator, size: tuple[int, int]):
    """Per frame: the page point at the frame's centre, the zoom and the roll (degrees)."""
    n, (pw, ph) = p.frames, size
    zoom0 = rng.uniform(*p.zoom)
    half = np.array([p.width, p.height]) / 2 / (zoom0 * (1 - p.zoom_breath))  # page px seen, each side
    lo, hi = half, np.array([pw, ph]) - half
    t = np.arange(n)[:, None]
    if motion == "pan":
        start = rng.uniform(lo, hi)
        angle = rng.uniform(0, 2 * np.pi)
        step = rng.uniform(*p.pan_px) / zoom0 * np.array([np.cos(angle), np.sin(angle)])
        end = np.clip(start + step * (n - 1), lo, hi)  # stops at the page's edge
        centre = start + (end - start) * t / max(1, n - 1)
    else:
        centre = np.repeat(rng.uniform(lo, hi)[None], n, 0)
    shake = (
        np.cumsum(rng.normal(0, p.shake_px / 2, (n, 2)), 0) * 0.5 + rng.uniform(-1, 1, (n, 2)) * p.shake_px
    )
    centre = centre + shake / zoom0
    phase = rng.uniform(0, 2 * np.pi, 2)
    zoom = zoom0 * (1 + p.zoom_breath * np.sin(2 * np.pi * t[:, 0] / n + phase[0]))
    roll = rng.uniform(-1, 1) * p.roll_deg * np.sin(np.pi * t[:, 0] / n + phase[1])
    return centre, zoom, roll


def _matrix(p: PanParams, centre: np.ndarray, zoom: float, roll: float) -> np.ndarray:
    """Page -> frame: rotate by ``roll`` and scale by ``zoom`` about ``centre``, put it mid-frame."""
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), float(roll), float(zoom))
    m[:, 2] += (p.width / 2 - centre[0], p.height / 2 - centre[1])
    return m


def _frame_box(m: np.ndarray, box: Box) -> np.ndarray:
    x, y, w, h = box
    corners = np.array([[x, y, 1], [x + w, y, 1], [x, y + h, 1], [x + w, y + h, 1]], np.float64)
    pts = corners @ m.T
    return np.array([pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()])


def _truth(p: PanParams, m: np.ndarray, boxes: list[Box], labels: list[int], numbers, blur: float) -> Truth:
    corners = np.array([_frame_box(m, b) for b in boxes]).reshape(-1, 4)
    x0, y0, x1, y1 = corners.T
    c = EDGE_CLEAR + blur / 2
    inside = (x0 >= c) & (y0 >= c) & (x1 <= p.width - c) & (y1 <= p.height - c)
    out = (x0 < -1) | (y0 < -1) | (x1 > p.width + 1) | (y1 > p.height + 1)
    state = np.where(inside, IN, np.where(out, CUT, EDGE))
    cx0, cy0 = np.clip(x0, 0, p.width), np.clip(y0, 0, p.height)
    cx1, cy1 = np.clip(x1, 0, p.width), np.clip(y1, 0, p.height)
    seen = (cx1 - cx0 >= 2) & (cy1 - cy0 >= 2)
    clipped = np.stack([cx0, cy0, cx1 - cx0, cy1 - cy0], 1).round().astype(int)
    digits = [(labels[i], tuple(clipped[i].tolist()), str(state[i])) for i in np.flatnonzero(seen)]
    out_numbers = []
    for k, (text, start) in enumerate(numbers):
        idx = np.arange(start, start + len(text))
        if not seen[idx].any():
            continue
        s = state[idx]
        st = IN if (s == IN).all() else CUT if (s == CUT).any() else EDGE
        v = idx[seen[idx]]
        bx0, by0 = cx0[v].min(), cy0[v].min()
        box = (round(bx0), round(by0), round(cx1[v].max() - bx0), round(cy1[v].max() - by0))
        out_numbers.append((k, text, box, st))
    return Truth(digits, out_numbers)


def _motion_blur(img: np.ndarray, vx: float, vy: float, length: float) -> np.ndarray:
    if length < 1.0:
        return img
    size = int(np.ceil(length)) | 1
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    norm = max(1e-6, np.hypot(vx, vy))
    d = np.array([vx, vy]) / norm * (length / 2)
    cv2.line(kernel, (round(c - d[0]), round(c - d[1])), (round(c + d[0]), round(c + d[1])), 1.0, 1)
    return cv2.filter2D(img, -1, kernel / kernel.sum())


def pan_frames(
    kind: str, motion: str, inks: Inks, rng: np.random.Generator, params: PanParams = PanParams()
) -> Iterator[tuple[np.ndarray, Truth]]:
    """The frames of one video and each one's truth."""
    if motion not in MOTIONS:
        raise ValueError(f"motion must be one of {MOTIONS}, got {motion!r}")
    p = params
    page, boxes, labels, numbers = _page(kind, inks, rng, p.page)
    page = cv2.GaussianBlur(page, (0, 0), 0.5 / np.mean(p.zoom))  # the lens: no aliasing at half size
    centre, zoom, roll = _path(p, motion, rng, p.page)
    exposure = rng.uniform(*p.exposure)
    previous, blur = None, 0.0
    for t in range(p.frames):
        m = _matrix(p, centre[t], zoom[t], roll[t])
        img = cv2.warpAffine(
            page, m, (p.width, p.height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        mid = np.array([p.width / 2, p.height / 2])
        if previous is not None:  # where the frame's centre went since the last frame: the blur's path
            inv = cv2.invertAffineTransform(previous)
            v = mid - (m @ np.r_[inv @ np.r_[mid, 1], 1])
            blur = exposure * float(np.hypot(*v))
            img = _motion_blur(img, v[0], v[1], blur)
        previous = m
        frame = _camera(img, rng, (0.0, 0.5), p.noise, p.jpeg, noise_dtype=np.float32)
        yield frame, _truth(p, m, boxes, labels, numbers, blur)


def pan_video(kind: str, motion: str, inks: Inks, seed: int, params: PanParams = PanParams()) -> PanVideo:
    frames, truth = [], []
    for frame, t in pan_frames(kind, motion, inks, np.random.default_rng(seed), params):
        frames.append(frame)
        truth.append(t)
    return PanVideo(kind, motion, frames, truth)
