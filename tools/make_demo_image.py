"""Write a demo photo-like image of handwritten MNIST test digits reading "2024" over "17".

Usage: python tools/make_demo_image.py OUT.png [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from edgedigits import data

REPO = Path(__file__).resolve().parents[1]
LINES = ("2024", "17")


def render(split: data.Split, lines=LINES, digit_px: int = 90, seed: int = 0) -> np.ndarray:
    """Dark MNIST digits on a lit sheet of paper, one text line per entry of ``lines``."""
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
    image = paper * (1 - 0.8 * np.clip(ink, 0, 1)) + rng.normal(0, 3, paper.shape)
    return cv2.cvtColor(np.clip(image, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    split = data.load_split("test", args.data_dir or None)
    if not cv2.imwrite(str(args.out), render(split)):
        raise SystemExit(f"cannot write {args.out}")


if __name__ == "__main__":
    main()
