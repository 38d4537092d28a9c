"""A simulated pen: handwritten digits and non-digit marks for HELD-OUT evaluation (numpy + OpenCV only).

This is an evaluation "hand" that nothing is trained or tuned on. It is independent of MNIST and of the
training data: every glyph is drawn from this module's own skeleton "font" (strokes given by control
points in a unit box, several allographs per digit), so a model that scores well here has learned digits,
not the quirks of one data set. Do not fit thresholds, augmentations or model choices to its samples;
use it only to measure.

Per sample the pen varies: the allograph, control-point jitter (hand wobble), slant (shear +-0.3) and a
small rotation, the width/height ratio, the stroke thickness (3%-12% of the height, constant or varying
along the stroke like pen pressure), small gaps and overshoots where strokes should meet, and, rarely, a
pen lift that leaves a 1-3 px break in a stroke. Strokes are smooth centripetal Catmull-Rom curves through
the control points (sharp where a glyph has a corner), drawn as anti-aliased lines at 4x and downscaled
with ``INTER_AREA``.

Output convention: a 2-D float32 alpha (ink coverage) in [0, 1], 0 = paper, with a small zero margin
around the ink. Everything is deterministic for a given ``numpy.random.Generator`` state.

    rng = np.random.default_rng(0)
    alpha = pen_digit(7, 48, rng)            # a 7 about 48 px tall
    kind, alpha = pen_mark(48, rng)          # a random non-digit mark ("A", "#", "smiley", ...)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

__all__ = ["MARK_KINDS", "pen_digit", "pen_mark"]

_SS = 4  # supersampling factor of the drawing canvas
_SHIFT = 3  # fractional bits of the coordinates handed to cv2.line
_MIN_HEIGHT = 8

# A stroke: control points (k, 2) as (x, y) with y down, and a flag per point that is True where the
# curve has a sharp corner (the spline restarts there). Builders write them in percent of the glyph box.
Stroke = tuple[np.ndarray, np.ndarray]
Builder = Callable[[np.random.Generator], list[Stroke]]


# ---------------------------------------------------------------------------------------------- geometry


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, step: float = 40.0) -> np.ndarray:
    """Points on an ellipse from angle a0 to a1 (degrees, counterclockwise on paper as they grow)."""
    n = max(2, math.ceil(abs(a1 - a0) / step) + 1)
    t = np.radians(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(t), cy - ry * np.sin(t)], axis=1)


def _stroke(*pieces: str | np.ndarray) -> Stroke:
    """One stroke from pieces: "x,y x,y! ..." text (``!`` = corner) or arrays of smooth points.

    A piece that is the string "!" marks the last point so far as a corner.
    """
    pts: list[tuple[float, float]] = []
    corners: list[bool] = []
    for piece in pieces:
        if isinstance(piece, str):
            if piece == "!":
                corners[-1] = True
                continue
            for tok in piece.split():
                x, y = tok.rstrip("!").split(",")
                pts.append((float(x), float(y)))
                corners.append(tok.endswith("!"))
        else:
            pts.extend((float(x), float(y)) for x, y in piece)
            corners.extend([False] * len(piece))
    return np.array(pts, dtype=np.float64), np.array(corners, dtype=bool)


def _spec(text: str) -> list[Stroke]:
    """Strokes from "x,y x,y!; x,y x,y" text: strokes separated by ``;``."""
    return [_stroke(part) for part in text.split(";")]


def _static(text: str) -> Builder:
    strokes = _spec(text)
    return lambda rng: [(p.copy(), c.copy()) for p, c in strokes]


def _rotate(pts: np.ndarray, deg: float, center: tuple[float, float] = (50.0, 50.0)) -> np.ndarray:
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    d = pts - center
    # counterclockwise on paper (y down)
    return np.stack([d[:, 0] * c + d[:, 1] * s, -d[:, 0] * s + d[:, 1] * c], axis=1) + center


def _catmull_rom(p: np.ndarray, n: int = 16) -> np.ndarray:
    """A centripetal Catmull-Rom curve through the points, n samples per segment."""
    if len(p) < 3:
        return p.copy()
    ext = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    out = [p[:1]]
    for i in range(len(p) - 1):
        p0, p1, p2, p3 = ext[i : i + 4]
        t0 = 0.0
        t1 = t0 + max(np.linalg.norm(p1 - p0) ** 0.5, 1e-4)
        t2 = t1 + max(np.linalg.norm(p2 - p1) ** 0.5, 1e-4)
        t3 = t2 + max(np.linalg.norm(p3 - p2) ** 0.5, 1e-4)
        t = np.linspace(t1, t2, n + 1)[1:, None]
        a1 = (t1 - t) / (t1 - t0) * p0 + (t - t0) / (t1 - t0) * p1
        a2 = (t2 - t) / (t2 - t1) * p1 + (t - t1) / (t2 - t1) * p2
        a3 = (t3 - t) / (t3 - t2) * p2 + (t - t2) / (t3 - t2) * p3
        b1 = (t2 - t) / (t2 - t0) * a1 + (t - t0) / (t2 - t0) * a2
        b2 = (t3 - t) / (t3 - t1) * a2 + (t - t1) / (t3 - t1) * a3
        out.append((t2 - t) / (t2 - t1) * b1 + (t - t1) / (t2 - t1) * b2)
    return np.vstack(out)


def _curve(stroke: Stroke) -> np.ndarray:
    """The dense polyline of a stroke: smooth between corners."""
    pts, corners = stroke
    cut = [0, *[i for i in range(1, len(pts) - 1) if corners[i]], len(pts) - 1]
    runs = [_catmull_rom(pts[a : b + 1]) for a, b in zip(cut[:-1], cut[1:], strict=True)]
    return np.vstack([runs[0], *[r[1:] for r in runs[1:]]])


def _lengths(poly: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(poly, axis=0), axis=1))])


def _cut(poly: np.ndarray, a: float, b: float) -> np.ndarray:
    """The part of a polyline between arc lengths a and b."""
    s = _lengths(poly)
    inner = poly[(s > a) & (s < b)]
    pa = np.array([np.interp(a, s, poly[:, 0]), np.interp(a, s, poly[:, 1])])
    pb = np.array([np.interp(b, s, poly[:, 0]), np.interp(b, s, poly[:, 1])])
    return np.vstack([pa, inner, pb])


def _ends(poly: np.ndarray, d0: float, d1: float) -> np.ndarray:
    """Extend (d > 0, along the end's direction) or shorten (d < 0) a polyline at its start and its end."""
    length = _lengths(poly)[-1]
    if length < 1e-6:
        return poly
    if d0 < 0 or d1 < 0:
        poly = _cut(poly, max(-d0, 0.0), length - max(-d1, 0.0))
    if d0 > 0:
        k = min(len(poly) - 1, 3)
        u = poly[0] - poly[k]
        poly = np.vstack([poly[0] + d0 * u / max(np.linalg.norm(u), 1e-9), poly])
    if d1 > 0:
        k = max(0, len(poly) - 4)
        u = poly[-1] - poly[k]
        poly = np.vstack([poly, poly[-1] + d1 * u / max(np.linalg.norm(u), 1e-9)])
    return poly


# ------------------------------------------------------------------------------------------------ digits


def _zero(tilt: bool) -> Builder:
    def build(rng: np.random.Generator) -> list[Stroke]:
        a0 = rng.uniform(50, 130)  # people start a 0 near the top
        sweep = 360 + rng.uniform(-15, 35)
        sign = 1.0 if rng.random() < 0.75 else -1.0
        rx = 50.0 if not tilt else 36.0
        pts = _arc(50, 50, rx, 50, a0, a0 + sign * sweep)
        if tilt:
            pts = _rotate(pts, -rng.uniform(20, 35))
        return [_stroke(pts)]

    return build


def _two_loop(rng: np.random.Generator) -> list[Stroke]:
    top = "8,26 24,5 52,0 82,10 90,30 78,50 52,68 30,82"
    loop = "16,93 6,97 0,88 5,78 16,76 26,86 38,97 95,98"
    return [_stroke(top, loop)]


def _seven(stem: str, bar: str | None, tick: bool) -> Builder:
    head = "6,20 5,4! 95,2!" if tick else "5,5 95,2!"
    text = f"{head} {stem}" + (f"; {bar}" if bar else "")
    return _static(text)


def _eight_loops(rng: np.random.Generator) -> list[Stroke]:
    waist = rng.uniform(40, 50)
    top = _arc(50, waist / 2, rng.uniform(30, 40), waist / 2, -90, 270 + rng.uniform(-10, 10))
    bottom = _arc(50, (100 + waist) / 2, 50, (100 - waist) / 2, 90, -270 + rng.uniform(-10, 10))
    return [_stroke(top, bottom[1:])]


def _nine(tail: str) -> Builder:
    def build(rng: np.random.Generator) -> list[Stroke]:
        a0 = rng.uniform(0, 30)
        ry = rng.uniform(26, 32)
        loop = _arc(50, ry, 43, ry, a0, a0 + 360 + rng.uniform(0, 15))
        return [_stroke(loop, "!", tail)]

    return build


_DIGIT_ASPECT = (0.45, 0.9)

# label -> [(allograph name, width/height range, builder)]
_DIGITS: dict[int, list[tuple[str, tuple[float, float], Builder]]] = {
    0: [
        ("oval", (0.55, 0.9), _zero(tilt=False)),
        ("slanted", (0.6, 0.9), _zero(tilt=True)),
    ],
    1: [
        ("stick", (0.4, 0.4), _static("50,0 49,50 48,100")),
        ("flag", (0.3, 0.5), _static("15,28 62,0! 57,100")),
        ("flag+base", (0.4, 0.6), _static("18,26 60,0! 57,100; 18,100 98,100")),
    ],
    2: [
        ("plain", _DIGIT_ASPECT, _static("8,28 25,6 55,0 85,12 90,32 75,52 40,78 5,100! 95,100")),
        ("curvy", _DIGIT_ASPECT, _static("10,22 35,2 65,2 88,18 85,42 55,70 20,95 10,100! 50,97 95,100")),
        ("loop", _DIGIT_ASPECT, _two_loop),
    ],
    3: [
        (
            "round",
            _DIGIT_ASPECT,
            _static("12,15 35,2 65,0 85,12 82,32 62,45 40,48! 65,52 88,65 88,85 65,98 35,100 8,88"),
        ),
        ("flat-top", _DIGIT_ASPECT, _static("10,2 92,0! 45,42! 75,50 90,68 85,88 60,100 30,100 8,88")),
    ],
    4: [
        ("open", (0.55, 0.9), _static("22,0 8,62! 98,62; 74,8 71,100")),
        ("closed", (0.55, 0.9), _static("66,0 3,68! 100,68; 68,0 66,100")),
    ],
    5: [
        (
            "two-stroke",
            _DIGIT_ASPECT,
            _static("20,2 15,45! 45,38 75,45 90,65 85,88 60,100 30,100 8,88; 20,2 92,0"),
        ),
        (
            "one-stroke",
            _DIGIT_ASPECT,
            _static("92,0 22,2! 15,45! 45,38 75,45 90,65 85,88 60,100 30,100 8,88"),
        ),
        ("open-belly", _DIGIT_ASPECT, _static("18,0 14,48! 50,38 82,48 92,70 80,92 50,100 14,90; 22,0 96,3")),
    ],
    6: [
        (
            "curved",
            _DIGIT_ASPECT,
            _static("78,2 50,10 25,35 10,65 15,88 40,100 70,98 88,80 82,58 60,48 35,50 15,65"),
        ),
        (
            "straight",
            _DIGIT_ASPECT,
            _static("70,0 42,30 18,62 12,82 30,100 65,100 85,82 78,60 52,52 25,60 15,75"),
        ),
    ],
    7: [
        ("straight", (0.55, 0.9), _seven("42,100", None, tick=False)),
        ("curved", (0.55, 0.9), _seven("70,35 52,70 45,100", None, tick=False)),
        ("straight+bar", (0.55, 0.9), _seven("42,100", "45,52 92,50", tick=False)),
        ("curved+bar", (0.55, 0.9), _seven("70,35 52,70 45,100", "38,54 85,52", tick=False)),
        ("tick", (0.55, 0.9), _seven("45,100", None, tick=True)),
    ],
    8: [
        (
            "cross",
            _DIGIT_ASPECT,
            _static(
                "82,12 55,0 25,5 18,22 35,40 65,55 85,72 82,92 55,100 25,95 15,78 30,60 60,42 78,25 80,10"
            ),
        ),
        ("snowman", _DIGIT_ASPECT, _eight_loops),
    ],
    9: [
        ("straight", (0.45, 0.8), _nine("93,45 89,72 86,100")),
        ("curved", (0.45, 0.8), _nine("93,45 89,75 74,96 48,100")),
    ],
}


# ------------------------------------------------------------------------------------------------- marks


def _circle_cross(rng: np.random.Generator) -> list[Stroke]:
    a0 = rng.uniform(60, 120)
    ring = _stroke(_arc(50, 50, 50, 50, a0, a0 + 360 + rng.uniform(-10, 25)))
    inner = "22,22 78,78; 78,22 22,78" if rng.random() < 0.6 else "50,8 50,92; 8,50 92,50"
    return [ring, *_spec(inner)]


def _at(rng: np.random.Generator) -> list[Stroke]:
    inner = _stroke(_arc(44, 52, 18, 20, 20, 390))
    outer = _arc(50, 50, 50, 50, 5, 300 + rng.uniform(-20, 20))
    tail = _stroke("62,34 63,64 72,72 86,68 96,55", outer)
    return [inner, tail]


def _percent(rng: np.random.Generator) -> list[Stroke]:
    a, b = rng.uniform(60, 120, size=2)
    return [
        _stroke("92,0 8,100"),
        _stroke(_arc(20, 20, 20, 20, a, a + 370)),
        _stroke(_arc(80, 80, 20, 20, b, b + 370)),
    ]


def _asterisk(rng: np.random.Generator) -> list[Stroke]:
    n = 3 if rng.random() < 0.7 else 4
    out = []
    for k in range(n):
        a = math.radians(90 + 180 * k / n + rng.uniform(-8, 8))
        dx, dy = 50 * math.cos(a), 50 * math.sin(a)
        out.append(_stroke(np.array([[50 + dx, 50 - dy], [50 - dx, 50 + dy]])))
    return out


def _zigzag(rng: np.random.Generator) -> list[Stroke]:
    n = int(rng.integers(5, 10))
    xs = np.linspace(0, 100, n)
    ys = np.where(np.arange(n) % 2 == 0, 0.0, 100.0) + rng.uniform(-8, 8, n)
    pts, corners = np.stack([xs, ys], axis=1), np.full(n, rng.random() < 0.6)
    return [(pts, corners)]


def _spiral(rng: np.random.Generator) -> list[Stroke]:
    turns = rng.uniform(2.0, 3.5)
    t = np.radians(np.arange(0, 360 * turns, 35.0)) + rng.uniform(0, 2 * np.pi)
    r = 50 * (0.08 + 0.92 * (t - t[0]) / (t[-1] - t[0]))
    sign = 1.0 if rng.random() < 0.5 else -1.0
    return [_stroke(np.stack([50 + r * np.cos(t), 50 - sign * r * np.sin(t)], axis=1))]


def _loops(rng: np.random.Generator) -> list[Stroke]:
    """A loopy scribble, like a run of cursive e's (x in height-percent: the builder sets its own width)."""
    n = int(rng.integers(3, 6))
    step = rng.uniform(28, 45)
    t = np.radians(np.arange(-90, 360 * n - 45, 40.0))
    x = step * t / (2 * np.pi) + 30 * np.cos(t)
    y = 50 - 50 * np.sin(t)
    return [_stroke(np.stack([x - x.min(), y], axis=1))]


def _arrow(rng: np.random.Generator) -> list[Stroke]:
    angle = rng.uniform(0, 360)
    length = rng.uniform(110, 170)
    shaft = np.array([[0.0, 50.0], [length, 50.0]])
    head = np.array([[length - 30, 22.0], [length, 50.0], [length - 30, 78.0]])
    one = rng.random() < 0.4  # shaft and head in one go
    if one:
        pts = np.vstack([shaft, head[:1], head[1:2], head[2:]])
        strokes = [(pts, np.array([False, True, True, True, False]))]
    else:
        strokes = [_stroke(shaft), (head, np.array([False, True, False]))]
    return [(_rotate(p, angle, (length / 2, 50.0)), c) for p, c in strokes]


def _star(rng: np.random.Generator) -> list[Stroke]:
    a0 = 90 + rng.uniform(-10, 10)
    angles = np.radians(a0 + 144 * np.arange(6))
    pts = np.stack([50 + 50 * np.cos(angles), 55 - 50 * np.sin(angles)], axis=1)
    corners = np.ones(6, dtype=bool)
    return [(pts, corners)]


def _wavy(rng: np.random.Generator) -> list[Stroke]:
    periods = rng.uniform(2.0, 4.0)
    length = rng.uniform(200, 380)
    t = np.linspace(0, 2 * np.pi * periods, int(periods * 8) + 1)
    amp = rng.uniform(5, 9)
    return [_stroke(np.stack([t / t[-1] * length, 90 - amp * np.sin(t)], axis=1))]


def _smiley(rng: np.random.Generator) -> list[Stroke]:
    a0 = rng.uniform(60, 120)
    face = _stroke(_arc(50, 50, 50, 50, a0, a0 + 360 + rng.uniform(-5, 20)))
    eyes = _spec("34,34 35,38; 65,34 66,38")
    smile = _stroke(_arc(50, 50, 30, 30, 205, 335, step=25))
    return [face, *eyes, smile]


def _box(rng: np.random.Generator) -> list[Stroke]:
    return _spec("0,0 100,0! 100,100! 0,100! 0,3")


_LETTER_ASPECT = (0.6, 1.0)
_WIDE_ASPECT = (0.8, 1.3)

# kind -> (width/height range, builder, nominal); nominal marks keep their own size (see _draw)
_MARKS: dict[str, tuple[tuple[float, float], Builder, bool]] = {
    "A": (_LETTER_ASPECT, _static("0,100 50,0! 100,100; 22,62 78,62"), False),
    "E": (_LETTER_ASPECT, _static("92,0 10,0! 10,100! 92,100; 10,50 75,50"), False),
    "F": (_LETTER_ASPECT, _static("95,0 10,0! 10,100; 10,48 75,48"), False),
    "H": (_LETTER_ASPECT, _static("8,0 8,100; 92,0 92,100; 8,50 92,50"), False),
    "K": (_LETTER_ASPECT, _static("12,0 12,100; 90,0 12,58; 38,42 95,100"), False),
    "M": (_WIDE_ASPECT, _static("3,100 8,0! 50,75! 92,0! 97,100"), False),
    "N": (_LETTER_ASPECT, _static("8,100 8,0! 92,100! 92,0"), False),
    "P": (_LETTER_ASPECT, _static("12,100 12,0; 12,2 55,0 85,12 88,32 70,50 40,55 12,52"), False),
    "R": (
        _LETTER_ASPECT,
        _static("12,100 12,0; 12,2 55,0 85,12 88,32 70,50 40,55 12,52; 40,55 95,100"),
        False,
    ),
    "T": (_LETTER_ASPECT, _static("0,2 100,0; 50,0 50,100"), False),
    "W": (_WIDE_ASPECT, _static("0,0 24,100! 50,30! 76,100! 100,0"), False),
    "X": (_LETTER_ASPECT, _static("5,0 95,100; 95,0 5,100"), False),
    "Y": (_LETTER_ASPECT, _static("5,0 50,50; 95,0 50,50! 50,100"), False),
    "#": ((0.7, 1.0), _static("40,0 28,100; 76,0 64,100; 5,32 100,32; 0,68 95,68"), False),
    "@": ((0.9, 1.1), _at, False),
    "*": ((0.9, 1.1), _asterisk, False),
    "+": ((0.8, 1.2), _static("50,0 50,100; 0,50 100,50"), False),
    "&": (
        (0.65, 0.9),
        _static("98,100 60,66 30,36 25,14 42,0 60,8 60,26 40,42 15,60 8,82 24,98 52,100 76,86 94,62"),
        False,
    ),
    "%": ((0.7, 1.0), _percent, False),
    "?": ((0.55, 0.8), _static("10,25 25,5 52,0 80,8 88,28 72,45 52,56 50,76; 50,95 51,99"), False),
    "box": ((1.0, 2.0), _box, False),
    "circled_cross": ((0.85, 1.15), _circle_cross, False),
    "zigzag": ((1.2, 2.5), _zigzag, False),
    "spiral": ((0.85, 1.15), _spiral, False),
    "loops": ((1.0, 1.0), _loops, False),
    "arrow": ((1.0, 1.0), _arrow, True),
    "check": ((0.7, 1.2), _static("0,58 35,100! 100,0"), False),
    "star": ((0.9, 1.1), _star, False),
    "wavy_underline": ((1.0, 1.0), _wavy, True),
    "smiley": ((0.9, 1.1), _smiley, False),
}

MARK_KINDS: tuple[str, ...] = tuple(_MARKS)


# ----------------------------------------------------------------------------------------------- the pen


def _draw(strokes: list[Stroke], height: int, rng: np.random.Generator, nominal: bool) -> np.ndarray:
    """Wobble, slant, smooth, fit to ``height`` and render strokes given in height-percent units.

    The ink box is fitted to ``height`` px; with ``nominal`` 100 units are ``height`` px instead (a mark
    with its own proportions: an underline stays low, an arrow keeps its length).
    """
    thick = max(1.0, rng.uniform(0.03, 0.12) * height)  # px
    wobble = rng.uniform(0.6, 2.2)  # percent of the height
    shear = rng.uniform(-0.3, 0.3)
    turn = rng.uniform(-5, 5)

    center = np.vstack([p for p, _ in strokes]).mean(axis=0) if nominal else (50.0, 50.0)
    polys = []
    for pts, corners in strokes:
        p = pts + rng.normal(0, wobble, pts.shape)
        p = _rotate(p, turn, (float(center[0]), float(center[1])))
        p[:, 0] += shear * (50.0 - p[:, 1])
        poly = _curve((p, corners))
        if _lengths(poly)[-1] > 10:  # not a dot: the pen starts and stops a little early or late
            poly = _ends(poly, rng.uniform(-3, 4), rng.uniform(-3, 4))
        polys.append(poly)

    # fit: the ink box (centre line plus half the pen on each side) is height px tall
    allp = np.vstack(polys)
    span = 100.0 if nominal else float(np.ptp(allp[:, 1]))
    scale = max(height - thick - 1.5, 1.0) / max(span, 1e-6)
    polys = [(q - allp.min(axis=0)) * scale for q in polys]

    if rng.random() < 0.07:  # the pen lifts: a 1-3 px break in one longer stroke
        gap = thick + rng.uniform(1, 3)
        longs = [i for i, q in enumerate(polys) if _lengths(q)[-1] > 4 * gap + 6]
        if longs:
            i = longs[int(rng.integers(len(longs)))]
            q = polys[i]
            length = _lengths(q)[-1]
            at = rng.uniform(0.25, 0.75) * length
            polys[i : i + 1] = [_cut(q, 0, at - gap / 2), _cut(q, at + gap / 2, length)]

    pressure = rng.random() < 0.5
    widths = []
    for q in polys:
        s = _lengths(q)
        mid = (s[:-1] + s[1:]) / 2 / max(s[-1], 1e-6)
        if pressure:
            amp, freq, phase = rng.uniform(0.1, 0.25), rng.uniform(0.5, 1.5), rng.uniform(0, 2 * np.pi)
            mult = np.clip(1 + amp * np.sin(2 * np.pi * freq * mid + phase), 0.7, 1.25)
        else:
            mult = np.ones_like(mid)
        widths.append(thick * mult)

    allp = np.vstack(polys)
    pad = 2.0 + 0.65 * thick + 0.04 * height
    lo = allp.min(axis=0) - pad
    w = math.ceil(float(np.ptp(allp[:, 0])) + 2 * pad)
    h = math.ceil(float(np.ptp(allp[:, 1])) + 2 * pad)
    canvas = np.zeros((h * _SS, w * _SS), np.uint8)
    one = 1 << _SHIFT
    for q, wd in zip(polys, widths, strict=True):
        fixed = np.round((q - lo) * _SS * one).astype(np.int64)
        tk = np.maximum(1, np.round(wd * _SS)).astype(int)
        if len(fixed) == 1:
            fixed = np.vstack([fixed, fixed])
        for j in range(len(fixed) - 1):
            a, b = fixed[j], fixed[j + 1]
            cv2.line(
                canvas, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), 255, int(tk[j]), cv2.LINE_AA, _SHIFT
            )
    small = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA)
    return (small.astype(np.float32) / 255.0).clip(0.0, 1.0)


def _check_height(height: int) -> int:
    if isinstance(height, bool) or not isinstance(height, int | np.integer) or height < _MIN_HEIGHT:
        raise ValueError(f"height must be an int >= {_MIN_HEIGHT}, got {height!r}")
    return int(height)


def pen_digit(label: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A handwritten digit ``label`` about ``height`` px tall: float32 ink alpha in [0, 1], zero margin.

    The allograph (e.g. a 7 with or without a crossbar) and the pen (wobble, slant, width, thickness,
    pressure, joins, an occasional pen lift) are drawn from ``rng``; the rows with ink span height +-10%.
    """
    if isinstance(label, bool) or not isinstance(label, int | np.integer) or not 0 <= label <= 9:
        raise ValueError(f"label must be an int 0-9, got {label!r}")
    height = _check_height(height)
    options = _DIGITS[int(label)]
    _, (lo, hi), build = options[int(rng.integers(len(options)))]
    aspect = rng.uniform(lo, hi)
    strokes = [(p * [aspect, 1.0], c) for p, c in build(rng)]
    return _draw(strokes, height, rng, nominal=False)


def pen_mark(height: int, rng: np.random.Generator, kind: str | None = None) -> tuple[str, np.ndarray]:
    """A non-digit mark (a capital letter, a symbol, a doodle), ``(kind, alpha)``, same convention as
    :func:`pen_digit`. ``kind`` is one of :data:`MARK_KINDS`, random when None. Most marks are about
    ``height`` px tall; a wavy underline stays a low, wide line.
    """
    height = _check_height(height)
    if kind is None:
        kind = MARK_KINDS[int(rng.integers(len(MARK_KINDS)))]
    elif kind not in _MARKS:
        raise ValueError(f"unknown mark kind {kind!r}; expected one of {', '.join(MARK_KINDS)}")
    (lo, hi), build, nominal = _MARKS[kind]
    aspect = rng.uniform(lo, hi)
    strokes = [(p * [aspect, 1.0], c) for p, c in build(rng)]
    return kind, _draw(strokes, height, rng, nominal=nominal)
