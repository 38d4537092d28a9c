"""Write a demo photo-like image of handwritten MNIST test digits reading "2024" over "17".

Usage: python tools/make_demo_image.py OUT.png [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2

from edgedigits import data
from edgedigits.synth import render_lines

REPO = Path(__file__).resolve().parents[1]
LINES = ("2024", "17")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    split = data.load_split("test", args.data_dir or None)
    if not cv2.imwrite(str(args.out), render_lines(split, LINES)):
        raise SystemExit(f"cannot write {args.out}")


if __name__ == "__main__":
    main()
