"""Hand-drawn non-digits for outlier exposure (torch-free): letters, words and the marks people write
around numbers (ticks, arrows, underlines, crossings-out, stars, spirals, loops), inked by a
raster pen.

Why: a model trained against Hershey's clean glyphs alone takes a hand's letters and doodles for
digits. The pen here is not a stroke font: a centre line (Hershey text drawn 1 px thin, or a shape
drawn as a polyline) becomes a distance field, which a smooth random displacement and an affine
slant bend, and ink is where that distance is under a pen radius that itself swells and thins over the
sheet. It shares nothing with ``evaluation.penhand`` (no glyphs, strokes or parameters of it), so the
held-out pen stays a fair judge of what this teaches.
"""

from __future__ import annotations

import cv2
import numpy as np

from edgedigits.train.marks import HERSHEY_MARKS, fit_height

# single letters and symbols: the tuning marks plus a few no digit resembles
LETTERS = HERSHEY_MARKS + tuple("LJ{}~^")
WORD_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"  # inside a word any letter will do
SHAPES = ("tick", "arrow", "underline", "hatch", "star", "spiral", "loops", "checkbox", "heart")
CANVAS = 128  # px of a shape's drawing canvas
# the Hershey fonts drawn with one stroke (the others draw two or three side by side): a centre line
FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX)


def letters(rng: np.random.Generator) -> np.ndarray:
    """A centre line: one letter or symbol, or a word of 2-5 letters, in a Hershey font, 1 px thin."""
    if rng.random() < 0.6:
        text = LETTERS[int(rng.integers(len(LETTERS)))]
    else:
        text = "".join(WORD_LETTERS[int(i)] for i in rng.integers(len(WORD_LETTERS), size=rng.integers(2, 6)))
    font = FONTS[int(rng.integers(len(FONTS)))] | (cv2.FONT_ITALIC if rng.random() < 0.3 else 0)
    canvas = np.zeros((160, 60 + 90 * len(text)), np.uint8)
    cv2.putText(canvas, text, (30, 115), font, 2.5, 255, 1, cv2.LINE_8)
    return canvas


def _poly(canvas: np.ndarray, pts, closed: bool = False) -> None:
    cv2.polylines(canvas, [np.round(np.asarray(pts) * CANVAS).astype(np.int32)], closed, 255, 1, cv2.LINE_8)


def shape(kind: str, rng: np.random.Generator) -> np.ndarray:
    """A centre line of one of ``SHAPES`` on a CANVAS x CANVAS sheet (coordinates in units of it)."""
    c = np.zeros((CANVAS, CANVAS), np.uint8)
    u = rng.uniform
    if kind == "tick":
        knee = (u(0.25, 0.45), u(0.75, 0.9))
        _poly(c, [(u(0.1, 0.2), u(0.45, 0.65)), knee, (u(0.75, 0.9), u(0.1, 0.25))])
    elif kind == "arrow":
        t = np.linspace(0, 1, 20)[:, None]
        bend = u(-0.25, 0.25)
        shaft = np.hstack([0.15 + 0.7 * t, 0.5 + bend * np.sin(np.pi * t)])
        _poly(c, shaft)
        end, back = shaft[-1], shaft[-1] - shaft[-4]
        back = back / np.linalg.norm(back) * u(0.12, 0.22)
        for turn in (u(0.4, 0.8), -u(0.4, 0.8)):
            rot = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
            _poly(c, [end, end - rot @ back])
        c = np.rot90(c, int(rng.integers(4))).copy()
    elif kind == "underline":
        t = np.linspace(0, 1, 40)
        wave = u(0, 0.06) * np.sin(2 * np.pi * u(1.5, 4) * t)
        _poly(c, np.stack([0.05 + 0.9 * t, 0.5 + wave + u(-0.05, 0.05) * t], 1))
        if rng.random() < 0.3:
            _poly(c, np.stack([0.1 + 0.8 * t, 0.6 + wave], 1))
    elif kind == "hatch":  # a crossing-out: the pen back and forth over a patch
        n = int(rng.integers(5, 10))  # four points would be a Z, a 2
        xs = np.linspace(0.1, 0.9, n) + rng.normal(0, 0.02, n)
        ys = np.where(np.arange(n) % 2 == 0, u(0.15, 0.3), u(0.7, 0.85)) + rng.normal(0, 0.04, n)
        _poly(c, np.stack([xs, ys], 1) if rng.random() < 0.5 else np.stack([ys, xs], 1))
    elif kind == "star":
        k = int(rng.integers(5, 8))
        step = 2 if k != 6 else 1
        a = np.pi / 2 + 2 * np.pi * step * np.arange(k + 1) / k + u(-0.2, 0.2)
        r = np.where(np.arange(k + 1) % 2 == 0, 0.42, u(0.12, 0.28)) if step == 1 else 0.42  # not a ring
        _poly(c, np.stack([0.5 + r * np.cos(a), 0.5 - r * np.sin(a)], 1) + rng.normal(0, 0.015, (k + 1, 2)))
    elif kind == "spiral":
        a = np.linspace(0, 2 * np.pi * u(1.6, 3.5), 120)
        r = 0.42 * a / a[-1]
        _poly(c, np.stack([0.5 + r * np.cos(a), 0.5 + r * np.sin(a) * u(0.7, 1.0)], 1))
    elif kind == "loops":  # cursive e's and l's: a prolate cycloid
        loops = int(rng.integers(2, 6))
        t = np.linspace(0, 2 * np.pi * loops, 60 * loops)
        k = u(1.3, 2.5)
        x, y = t - k * np.sin(t), -k * np.cos(t)
        _poly(c, np.stack([0.05 + 0.9 * (x - x.min()) / np.ptp(x), 0.3 + 0.4 * (y - y.min()) / np.ptp(y)], 1))
    elif kind == "checkbox":
        x0, y0 = u(0.1, 0.25), u(0.1, 0.25)
        _poly(c, [(x0, y0), (1 - x0, y0), (1 - x0, 1 - y0), (x0, 1 - y0)], closed=True)
        if rng.random() < 0.5:
            _poly(c, [(0.2, 0.5), (0.45, 0.8), (0.95, 0.05)])
        else:
            _poly(c, [(x0, y0), (1 - x0, 1 - y0)])
            _poly(c, [(1 - x0, y0), (x0, 1 - y0)])
    elif kind == "heart":
        t = np.linspace(0, 2 * np.pi, 80)
        x, y = 16 * np.sin(t) ** 3, 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
        _poly(c, np.stack([0.5 + x / 40, 0.45 - y / 40], 1))
    else:
        raise ValueError(f"unknown shape {kind!r}")
    return c


def ink(centre: np.ndarray, height: int, rng: np.random.Generator) -> np.ndarray:
    """Alpha in [0, 1] of the 1 px ``centre`` line inked by a hand: bent, slanted, a pen of varying
    width, now and then lifted; fitted to ``height`` by its longer side."""
    pad = 24
    centre = cv2.copyMakeBorder(centre, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    h, w = centre.shape
    dist = cv2.distanceTransform((centre == 0).astype(np.uint8), cv2.DIST_L2, 5)
    ys, xs = np.nonzero(centre)
    size = float(max(np.ptp(ys), 8))  # the glyph's height sets the pen and the wobble
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = w / 2, h / 2
    turn, shear, stretch = np.radians(rng.uniform(-12, 12)), rng.uniform(-0.35, 0.35), rng.uniform(0.75, 1.3)
    dx, dy = xx - cx, yy - cy
    sx = (np.cos(turn) * dx + np.sin(turn) * dy) / stretch + shear * dy
    sy = -np.sin(turn) * dx + np.cos(turn) * dy
    amp = rng.uniform(0.01, 0.05) * size
    cells = (max(3, round(3 * h / size)), max(3, round(3 * w / size)))
    wobble = [
        cv2.resize(rng.normal(0, amp, cells).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        for _ in range(2)
    ]
    mapx, mapy = (np.asarray(m, np.float32) for m in (sx + cx + wobble[0], sy + cy + wobble[1]))
    bent = cv2.remap(dist, mapx, mapy, cv2.INTER_LINEAR, borderValue=1e4)
    radius = rng.uniform(0.01, 0.045) * size + 0.5
    swell = cv2.resize(rng.normal(0, 1, cells).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    radius = radius * np.clip(1 + rng.uniform(0, 0.3) * swell, 0.6, 1.4)
    alpha = np.clip(radius - bent + 0.5, 0, 1)
    if rng.random() < 0.1:  # the pen skips: a short break somewhere on the ink
        iy, ix = np.nonzero(alpha > 0.5)
        if len(ix):
            k = int(rng.integers(len(ix)))
            cv2.circle(alpha, (int(ix[k]), int(iy[k])), int(radius.max() + rng.uniform(1, 3)), 0, -1)
    return fit_height(alpha, height, by_side=True)


def scrawl(height: int, rng: np.random.Generator) -> np.ndarray:
    """A hand-drawn non-digit ``height`` px on its longer side: a letter, a word or a shape."""
    if rng.random() < 0.5:
        return ink(letters(rng), height, rng)
    return ink(shape(SHAPES[int(rng.integers(len(SHAPES)))], rng), height, rng)
