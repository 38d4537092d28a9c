"""Synthetic camera-like scenes of MNIST *test* digits, with ground truth, and their scoring (torch-free).

A scene is a sheet of paper under uneven light (gradient, vignette, texture) with 3-8 digits written in
dark ink at 30-150 px, rotated, then the camera's blur, sensor noise and JPEG. The digits come from the
MNIST test split, which training never sees.
"""

from __future__ import annotations

import string
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from edgedigits.core.data import Split
from edgedigits.runtime.boxes import Box, greedy_matches
from edgedigits.train.marks import (
    hershey_alpha,
    tight,
    tune_mark,
)


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


def _tint(rng: np.random.Generator) -> np.ndarray:
    """The light's colour: a B, G, R gain each a little under 1."""
    return np.array([rng.uniform(0.9, 1.0), rng.uniform(0.93, 1.0), rng.uniform(0.95, 1.0)], np.float32)


def _camera(
    img: np.ndarray,
    rng: np.random.Generator,
    blur: tuple[float, float],
    noise: tuple[float, float],
    jpeg: tuple[int, int],
    *,
    noise_dtype: type,
) -> np.ndarray:
    """What the camera does to the lit sheet ``img`` (float): focus blur (sigma from ``blur``, none under
    0.2), sensor noise (sigma from ``noise``), then JPEG at a quality in [jpeg[0], jpeg[1]). The noise is
    rounded to ``noise_dtype``: float64 (not at all) for the scenes, float32 for the pages, each as first
    generated, so a seed still gives the same pixels."""
    sigma = rng.uniform(*blur)
    if sigma > 0.2:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    img = img + rng.normal(0, rng.uniform(*noise), img.shape).astype(noise_dtype, copy=False)
    quality = int(rng.integers(*jpeg))
    ok, buf = cv2.imencode(".jpg", np.clip(img, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


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
    img = gray[:, :, None] * _tint(rng)[None, None, :] if p.color else gray
    jpeg = (p.jpeg_quality[0], p.jpeg_quality[1] + 1)  # both ends included
    img = _camera(img, rng, p.blur_sigma, p.noise_sigma, jpeg, noise_dtype=np.float64)
    return Scene(img, boxes, out_labels, indices)


# --- pages: notebooks, columns, clutter, other hands, pencil, forms, words ------------------------------

PAGE_KINDS = ("blank", "notebook", "column", "clutter", "hands", "pencil", "form", "words")
STYLES = (
    "tune",
    "heldout",
)  # heldout: the pen hand and pen marks of edgedigits.evaluation.penhand, never tuned on
HELDOUT_SEED = 1_000_000  # seeds from here on are held out: never looked at while tuning
INK_COLORS = ((0.8, 0.75, 0.7), (0.55, 0.7, 0.8), (0.7, 0.7, 0.7))  # absorption B, G, R: black, blue, grey
RULE_COLOR = (0.12, 0.25, 0.35)  # blue-grey rules absorb little blue
MARGIN_COLOR = (0.35, 0.4, 0.08)  # red margin line


@dataclass(frozen=True)
class Page:
    image: np.ndarray  # uint8 BGR
    boxes: list[Box]  # every digit's ink box
    labels: list[int]
    numbers: list[tuple[str, Box]]  # every written number: its digits' labels and its box
    kind: str

    def cut(self) -> set[int]:
        """The digits the frame's border cuts (their ink box reaches it). The reader reports what they
        belong to as partial by design, so scoring neither asks for them nor counts a reading of them."""
        return {i for i, box in enumerate(self.boxes) if self._at_border(box)}

    def whole_numbers(self) -> list[tuple[str, Box]]:
        """The written numbers none of whose digits the frame's border cuts."""
        return [(text, box) for text, box in self.numbers if not self._at_border(box)]

    def _at_border(self, box: Box) -> bool:
        x, y, w, h = box
        return x <= 0 or y <= 0 or x + w >= self.image.shape[1] or y + h >= self.image.shape[0]


class _Sheet:
    """A page being drawn: paper light, ink absorption layers, and the ground truth."""

    def __init__(self, rng: np.random.Generator, width: int, height: int) -> None:
        self.rng, self.w, self.h = rng, width, height
        self.light = _paper(rng, SceneParams(width=width, height=height))
        self.absorb = np.zeros((height, width, 3), np.float32)
        self.boxes: list[Box] = []
        self.labels: list[int] = []
        self.numbers: list[tuple[str, Box]] = []
        self.taken: list[Box] = []  # boxes of everything written, to keep new marks apart

    def ink(self, alpha: np.ndarray, x: int, y: int, color: Sequence[float], strength: float = 1.0) -> Box:
        """Lay ``alpha`` with its top-left at (x, y); returns the frame box of its ink (clipped)."""
        ah, aw = alpha.shape
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + aw, self.w), min(y + ah, self.h)
        if x1 <= x0 or y1 <= y0:
            return (0, 0, 0, 0)
        a = alpha[y0 - y : y1 - y, x0 - x : x1 - x, None] * (np.asarray(color, np.float32) * strength)
        region = self.absorb[y0:y1, x0:x1]
        region[:] = 1 - (1 - region) * (1 - np.clip(a, 0, 1))
        bx, by, bw, bh = tight(alpha[y0 - y : y1 - y, x0 - x : x1 - x])
        return (x0 + bx, y0 + by, bw, bh)

    def line(self, p0, p1, thickness: int, color: Sequence[float], strength: float = 1.0) -> None:
        """A ruled or drawn straight line from p0 to p1 (float points), anti-aliased."""
        layer = np.zeros((self.h, self.w), np.uint8)
        shift = 4
        a = tuple(int(round(v * (1 << shift))) for v in p0)
        b = tuple(int(round(v * (1 << shift))) for v in p1)
        cv2.line(layer, a, b, 255, max(1, thickness), cv2.LINE_AA, shift)
        self.ink(layer.astype(np.float32) / 255, 0, 0, color, strength)

    def write_number(
        self,
        text,
        inks,
        x: float,
        bottom: float,
        height: int,
        gap: float,
        tilt: float,
        color,
        strength: float,
    ) -> float:
        """Write ``text`` with ink sources starting at ``x`` with ink bottoms on ``bottom`` (+ tilt * x).
        Returns the x after the number; records the digits and the number as ground truth."""
        boxes = []
        for ch, alpha in zip(text, inks, strict=True):
            bx, by, bw, bh = tight(alpha)
            dip = self.rng.uniform(-0.06, 0.04) * height
            top = bottom + tilt * x - bh - by + dip
            box = self.ink(alpha, int(round(x - bx)), int(round(top)), color, strength)
            if box[2] and box[3]:
                boxes.append(box)
                self.boxes.append(box)
                self.labels.append(int(ch))
            x += bw + gap
        if boxes:
            x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
            x1 = max(b[0] + b[2] for b in boxes)
            y1 = max(b[1] + b[3] for b in boxes)
            self.numbers.append((text, (x0, y0, x1 - x0, y1 - y0)))
            self.taken.append((x0, y0, x1 - x0, y1 - y0))
        return x - gap

    def finish(self, kind: str, blur=(0.0, 1.0), noise=(2.0, 6.0), jpeg=(50, 92)) -> Page:
        img = self.light[:, :, None] * _tint(self.rng) * (1 - self.absorb)
        img = _camera(img, self.rng, blur, noise, jpeg, noise_dtype=np.float32)
        return Page(img, self.boxes, self.labels, self.numbers, kind)


class Inks:
    """Where a page's digits and marks come from: MNIST test digits, Hershey fonts, or the pen hand."""

    def __init__(self, split: Split, style: str = "tune") -> None:
        if style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, got {style!r}")
        self.style = style
        self.by_label = [np.flatnonzero(split.labels == d) for d in range(10)]
        self.images, self.labels = split.images, split.labels

    def mnist(self, label: int, height: int, rng: np.random.Generator, max_rot: float = 6.0) -> np.ndarray:
        idx = self.by_label[label][int(rng.integers(len(self.by_label[label])))]
        return _digit_alpha(self.images[idx], height, rng.uniform(-max_rot, max_rot))

    def other_hand(self, label: int, height: int, rng: np.random.Generator) -> np.ndarray:
        if self.style == "heldout":
            from edgedigits.evaluation.penhand import pen_digit

            return pen_digit(label, height, rng)
        return hershey_alpha(str(label), height, rng)

    def mark(self, height: int, rng: np.random.Generator) -> np.ndarray:
        if self.style == "heldout":
            from edgedigits.evaluation.penhand import pen_mark

            return pen_mark(height, rng)[1]
        return tune_mark(height, rng)

    def letter(self, height: int, rng: np.random.Generator) -> np.ndarray:
        """A letter of a handwritten word: any Hershey letter (o and l too), or one of the pen's capitals."""
        if self.style == "heldout":
            from edgedigits.evaluation.penhand import MARK_KINDS, pen_mark

            capitals = [k for k in MARK_KINDS if len(k) == 1 and k.isalpha()]
            return pen_mark(height, rng, capitals[int(rng.integers(len(capitals)))])[1]
        return hershey_alpha(string.ascii_letters[int(rng.integers(len(string.ascii_letters)))], height, rng)


def _number_text(rng: np.random.Generator, lo: int = 1, hi: int = 5) -> str:
    return "".join(str(int(d)) for d in rng.integers(0, 10, int(rng.integers(lo, hi + 1))))


def _pen(rng: np.random.Generator) -> tuple[tuple[float, float, float], float]:
    return INK_COLORS[int(rng.integers(2))], rng.uniform(0.75, 1.0)


def _rules(sheet: _Sheet, spacing: float, tilt: float, start: float) -> list[float]:
    """Blue-grey rules across the sheet (and maybe a red margin line); returns their y at x = 0."""
    rng = sheet.rng
    thick = int(rng.integers(1, 3 + sheet.h // 480))
    strength = rng.uniform(0.6, 1.3)
    ys = list(np.arange(start, sheet.h + abs(tilt) * sheet.w, spacing))
    for y in ys:
        sheet.line((0, y), (sheet.w, y + tilt * sheet.w), thick, RULE_COLOR, strength)
    return ys


def _notebook(sheet: _Sheet, inks: Inks, hand: bool) -> None:
    rng, scale = sheet.rng, sheet.h / 480
    spacing = rng.uniform(60, 80) * scale
    tilt = np.tan(np.radians(rng.uniform(-3, 3)))
    rules = _rules(sheet, spacing, tilt, rng.uniform(0.6, 1.2) * spacing)
    margin = rng.uniform(0.08, 0.16) * sheet.w
    if rng.random() < 0.8:
        sheet.line((margin, 0), (margin - tilt * sheet.h, sheet.h), int(rng.integers(1, 3)), MARGIN_COLOR)
    color, strength = _pen(rng)
    for y in rules:
        if y + tilt * sheet.w > sheet.h - 4 or y + tilt * sheet.w < spacing * 0.9 or rng.random() < 0.25:
            continue
        height = int(spacing * rng.uniform(0.45, 0.8))
        x = margin + rng.uniform(10, 60) * scale
        for _ in range(int(rng.integers(1, 4))):
            text = _number_text(rng)
            inks_ = [
                inks.other_hand(int(c), height, rng) if hand else inks.mnist(int(c), height, rng)
                for c in text
            ]
            width = sum(tight(a)[2] for a in inks_) + 9 * scale * len(text)
            if x + width > sheet.w - 10:
                break
            gap = rng.uniform(3, 9) * scale
            x = sheet.write_number(text, inks_, x, y, height, gap, tilt, color, strength)
            x += rng.uniform(1.2, 3.5) * height


def _columns(sheet: _Sheet, inks: Inks) -> None:
    """Columns of right-aligned numbers, the rows close enough that digits sit right above one another."""
    rng, scale = sheet.rng, sheet.h / 480
    color, strength = _pen(rng)
    x_left = rng.uniform(0.03, 0.2) * sheet.w
    while True:
        height = int(rng.uniform(25, 60) * scale)
        pitch = height * rng.uniform(1.1, 1.45)
        rows = []
        for _ in range(int((sheet.h * 0.9 - height) // pitch)):
            text = _number_text(rng, 1, 4)
            inks_ = [inks.mnist(int(c), height, rng) for c in text]
            gap = rng.uniform(3, 9) * scale
            rows.append((text, inks_, gap, sum(tight(a)[2] for a in inks_) + gap * (len(text) - 1)))
        x_right = x_left + max(r[3] for r in rows)
        if x_right > sheet.w - 10:
            return
        y = rng.uniform(0.02, 0.08) * sheet.h + height
        for text, inks_, gap, width in rows:
            sheet.write_number(text, inks_, x_right - width, y, height, gap, 0.0, color, strength)
            y += pitch
        x_left = x_right + rng.uniform(1.5, 3) * height


def _clutter(sheet: _Sheet, inks: Inks) -> None:
    rng, scale = sheet.rng, sheet.h / 480
    color, strength = _pen(rng)
    for _ in range(int(rng.integers(3, 7))):  # numbers
        height = int(rng.uniform(30, 90) * scale)
        text = _number_text(rng, 1, 3)
        inks_ = [inks.mnist(int(c), height, rng, max_rot=12) for c in text]
        gap = rng.uniform(3, 9) * scale
        width = sum(tight(a)[2] for a in inks_) + gap * (len(text) - 1)
        for _attempt in range(20):
            x, y = rng.uniform(10, sheet.w - width - 10), rng.uniform(height + 10, sheet.h - 10)
            if not _overlaps((int(x), int(y - height), int(width), height), sheet.taken, 0.4):
                sheet.write_number(text, inks_, x, y, height, gap, 0.0, color, strength)
                break
    for _ in range(int(rng.integers(3, 9))):  # marks that are not digits
        height = int(rng.uniform(30, 90) * scale)
        alpha = inks.mark(height, rng)
        ah, aw = alpha.shape
        for _attempt in range(20):
            x, y = int(rng.uniform(0, sheet.w - aw)), int(rng.uniform(0, sheet.h - ah))
            box = (x, y, aw, ah)
            if not _overlaps(box, sheet.taken, 0.3):
                sheet.ink(alpha, x, y, color, strength)
                sheet.taken.append(box)
                break
    for _ in range(int(rng.integers(1, 4))):  # long ruled lines across the sheet, slightly tilted
        tilt = np.tan(np.radians(rng.uniform(-4, 4)))
        thick, col = int(rng.integers(1, 4)), INK_COLORS[int(rng.integers(3))]
        if rng.random() < 0.6:
            y = rng.uniform(0.1, 0.9) * sheet.h
            x0, x1 = rng.uniform(0, 0.3) * sheet.w, rng.uniform(0.7, 1) * sheet.w
            sheet.line((x0, y), (x1, y + tilt * (x1 - x0)), thick, col, rng.uniform(0.5, 1.0))
        else:
            x = rng.uniform(0.1, 0.9) * sheet.w
            y0, y1 = rng.uniform(0, 0.3) * sheet.h, rng.uniform(0.7, 1) * sheet.h
            sheet.line((x, y0), (x + tilt * (y1 - y0), y1), thick, col, rng.uniform(0.5, 1.0))


def _words(sheet: _Sheet, inks: Inks) -> None:
    """Lines of handwriting: words of letters, a letter gap apart, with numbers among them ("Total 245")."""
    rng, scale = sheet.rng, sheet.h / 480
    color, strength = _pen(rng)
    pitch = rng.uniform(55, 75) * scale
    for y in np.arange(pitch, sheet.h - 10, pitch):
        height = int(pitch * rng.uniform(0.4, 0.6))
        x = rng.uniform(15, 50) * scale
        while True:
            number = rng.random() < 0.35
            text = _number_text(rng, 1, 4) if number else "." * int(rng.integers(2, 6))
            inks_ = [inks.mnist(int(c), height, rng) if number else inks.letter(height, rng) for c in text]
            gap = rng.uniform(3, 9) * scale if number else rng.uniform(0.08, 0.25) * height
            width = sum(tight(a)[2] for a in inks_) + gap * (len(text) - 1)
            if x + width > sheet.w - 10:
                break
            if number:
                x = sheet.write_number(text, inks_, x, y, height, gap, 0.0, color, strength)
            else:
                for alpha in inks_:
                    bx, by, bw, bh = tight(alpha)
                    sheet.ink(alpha, int(round(x - bx)), int(round(y - bh - by)), color, strength)
                    x += bw + gap
                x -= gap
            x += rng.uniform(1.2, 2.5) * height


def _pencil(sheet: _Sheet, inks: Inks) -> None:
    rng, scale = sheet.rng, sheet.h / 480
    strength = rng.uniform(0.3, 0.5)  # grey graphite: a third to a half of a pen's contrast
    lined = rng.random() < 0.5
    spacing = rng.uniform(45, 65) * scale
    rows = _rules(sheet, spacing, 0.0, spacing) if lined else list(np.arange(spacing, sheet.h, spacing))
    for y in rows:
        if y > sheet.h - 4 or rng.random() < 0.3:
            continue
        height = int(rng.uniform(18, min(40, 0.75 * spacing / scale)) * scale)
        x = rng.uniform(20, 80) * scale
        for _ in range(int(rng.integers(1, 4))):
            text = _number_text(rng, 1, 4)
            inks_ = [inks.mnist(int(c), height, rng) for c in text]
            if x + sum(tight(a)[2] + 9 * scale for a in inks_) > sheet.w - 10:
                break
            gap = rng.uniform(3, 8) * scale
            x = sheet.write_number(text, inks_, x, y, height, gap, 0.0, INK_COLORS[2], strength)
            x += rng.uniform(1.5, 4) * height
    # a soft shadow (a hand or a phone) over part of the sheet
    mask = np.zeros((sheet.h, sheet.w), np.float32)
    pts = np.array([(rng.uniform(0, sheet.w), rng.uniform(0, sheet.h)) for _ in range(4)], np.int32)
    cv2.fillPoly(mask, [cv2.convexHull(pts)], 1.0)
    mask = cv2.GaussianBlur(mask, (0, 0), rng.uniform(8, 30) * scale)
    sheet.light *= 1 - rng.uniform(0.25, 0.5) * mask


def _form(sheet: _Sheet, inks: Inks) -> None:
    rng, scale = sheet.rng, sheet.h / 720
    row_h = rng.uniform(44, 56) * scale
    cols = np.sort(rng.uniform(0.05, 0.95, int(rng.integers(4, 7))) * sheet.w)
    edges = [0.03 * sheet.w, *[c for c in cols if 0.1 * sheet.w < c < 0.95 * sheet.w], 0.97 * sheet.w]
    edges = [e for i, e in enumerate(edges) if i == 0 or e - edges[i - 1] > 140 * scale] or edges[:2]
    top = 0.04 * sheet.h
    rows = np.arange(top, 0.97 * sheet.h, row_h)
    thick, col = int(rng.integers(1, 3)), (0.5, 0.5, 0.5)
    for y in rows:
        sheet.line((edges[0], y), (edges[-1], y), thick, col)
    for x in edges:
        sheet.line((x, rows[0]), (x, rows[-1]), thick, col)
    color, strength = _pen(rng)
    for r0, r1 in zip(rows, rows[1:], strict=False):
        for c0, c1 in zip(edges, edges[1:], strict=False):
            if rng.random() < 0.1:
                continue
            height = int((r1 - r0) * rng.uniform(0.5, 0.68))
            text = _number_text(rng, 1, 4)
            inks_ = [inks.mnist(int(c), height, rng) for c in text]
            gap = rng.uniform(3, 8) * scale
            width = sum(tight(a)[2] for a in inks_) + gap * (len(text) - 1)
            if width > (c1 - c0) - 16:
                continue
            x = c0 + rng.uniform(6, max(7, (c1 - c0) - width - 8))
            sheet.write_number(
                text, inks_, x, r1 - rng.uniform(0.12, 0.25) * (r1 - r0), height, gap, 0.0, color, strength
            )


def make_page(kind: str, inks: Inks, rng: np.random.Generator, width: int = 640, height: int = 480) -> Page:
    """A camera frame of one of ``PAGE_KINDS`` with ground truth for every digit and number (a form is
    at least 1280x720: it is the dense condition)."""
    if kind not in PAGE_KINDS:
        raise ValueError(f"kind must be one of {PAGE_KINDS}, got {kind!r}")
    if kind == "blank":  # the runtime's first condition: MNIST digits spread over blank paper
        scene = make_scene(inks.images, inks.labels, rng, SceneParams(width=width, height=height))
        return Page(scene.image, scene.boxes, scene.labels, [], kind)
    if kind == "form":
        width, height = max(width, 1280), max(height, 720)
    sheet = _Sheet(rng, width, height)
    if kind == "notebook":
        _notebook(sheet, inks, hand=False)
    elif kind == "hands":
        _notebook(sheet, inks, hand=True)
    elif kind == "column":
        _columns(sheet, inks)
    elif kind == "clutter":
        _clutter(sheet, inks)
    elif kind == "pencil":
        _pencil(sheet, inks)
    elif kind == "form":
        _form(sheet, inks)
    elif kind == "words":
        _words(sheet, inks)
    return sheet.finish(kind)


@dataclass
class Score:
    truths: int = 0
    predictions: int = 0
    matched: int = 0
    correct: int = 0
    numbers: int = 0
    numbers_read: int = 0

    def add(
        self,
        truth_boxes: Sequence[Box],
        truth_labels: Sequence[int],
        pred_boxes: Sequence[Box],
        pred_labels: Sequence[int],
        min_iou: float = 0.5,
        ignore: Collection[int] = (),
    ) -> None:
        """Digits matched one to one by IoU (best pairs first). ``ignore``: truth digits neither asked for
        nor, where a prediction matches one, counted (digits cut by the frame's border)."""
        pairs = greedy_matches(truth_boxes, pred_boxes, min_iou)
        self.truths += len(truth_boxes) - len(set(ignore))
        self.predictions += len(pred_boxes) - sum(i in ignore for i, _ in pairs)
        for i, j in pairs:
            if i not in ignore:
                self.matched += 1
                self.correct += int(truth_labels[i] == pred_labels[j])

    def add_numbers(
        self, truth: Sequence[tuple[str, Box]], read: Sequence[tuple[str, Box]], min_iou: float = 0.5
    ) -> None:
        """A written number counts as read when a line read in its place (IoU >= ``min_iou``) has exactly
        its digits."""
        self.numbers += len(truth)
        for i, j in greedy_matches([t[1] for t in truth], [r[1] for r in read], min_iou):
            self.numbers_read += int(truth[i][0] == read[j][0])

    @property
    def numbers_exact(self) -> float | None:
        """None where no number was written (MNIST digits spread over blank paper)."""
        return self.numbers_read / self.numbers if self.numbers else None

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
            "numbers": self.numbers,
            "numbers_exact": self.numbers_exact,
        }


def notebook_page(
    split: Split,
    rows: Sequence[Sequence[str]],
    seed: int = 0,
    width: int = 800,
    height: int = 600,
    tilt_deg: float = 1.5,
) -> Page:
    """A lined notebook page with ``rows[i]``'s numbers written on the i-th rule (MNIST test digits,
    touching their rule, 4-8 px apart): a known answer for tests, demos and the README's sample."""
    rng = np.random.default_rng(seed)
    inks = Inks(split)
    sheet = _Sheet(rng, width, height)
    spacing = 0.13 * height
    tilt = np.tan(np.radians(tilt_deg))
    rules = _rules(sheet, spacing, tilt, spacing)
    margin = 0.12 * width
    sheet.line((margin, 0), (margin - tilt * height, height), 2, MARGIN_COLOR)
    color, strength = INK_COLORS[1], 0.9
    for y, numbers in zip(rules, rows, strict=False):
        height_px = int(spacing * 0.62)
        x = margin + 0.04 * width
        for text in numbers:
            inks_ = [inks.mnist(int(c), height_px, rng) for c in text]
            x = sheet.write_number(text, inks_, x, y, height_px, rng.uniform(4, 8), tilt, color, strength)
            x += 1.6 * height_px
    return sheet.finish("notebook", blur=(0.3, 0.6), noise=(2.0, 3.0), jpeg=(85, 92))


def page_seed(kind: str, style: str, seed: int = 0) -> int:
    """The first seed of a condition's page sequence: tuning and held-out pages never share one."""
    return (HELDOUT_SEED if style == "heldout" else 0) + 1000 * PAGE_KINDS.index(kind) + seed


def score_pages(recognize, kind: str, inks: Inks, pages: int, seed: int = 0) -> Score:
    """Score ``recognize`` (frame -> Recognition) on ``pages`` pages of one condition: digit boxes
    (IoU >= 0.5), labels, and whole numbers read exactly; digits and numbers the frame's border cuts
    are left out (``Page.cut``)."""
    rng = np.random.default_rng(page_seed(kind, inks.style, seed))
    score = Score()
    for _ in range(pages):
        page = make_page(kind, inks, rng)
        result = recognize(page.image)
        read = [d.box for d in result.digits], [d.label for d in result.digits]
        score.add(page.boxes, page.labels, *read, ignore=page.cut())
        score.add_numbers(page.whole_numbers(), [(line.text, line.box) for line in result.lines])
    return score


def render_lines(
    split: Split,
    lines: Sequence[str],
    digit_px: int = 90,
    seed: int = 0,
    noise: float = 3.0,
    line_pitch: float = 1.5,
) -> np.ndarray:
    """Dark MNIST test digits on a lit sheet of paper, one handwritten text line per entry of ``lines``
    (a known answer for reading-order tests and demos); lines are ``line_pitch`` digit boxes apart
    (MNIST ink fills about 0.7 of its box, so 0.8 writes a column whose digits nearly touch)."""
    rng = np.random.default_rng(seed)
    pitch = int(digit_px * 0.8)  # MNIST ink fills ~70% of its box: this spaces digits like handwriting
    step = int(digit_px * line_pitch)
    width = 60 + max(len(t) for t in lines) * pitch + digit_px
    height = max(40 + len(lines) * step, 40 + (len(lines) - 1) * step + digit_px)
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
            y, x = 20 + row * step, 30 + col * pitch
            ink[y : y + digit_px, x : x + digit_px] = np.maximum(ink[y : y + digit_px, x : x + digit_px], big)
    image = paper * (1 - 0.8 * np.clip(ink, 0, 1)) + rng.normal(0, noise, paper.shape)
    return cv2.cvtColor(np.clip(image, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
