"""Write the demo images: handwritten MNIST test digits reading "2024" over "17" on a blank sheet, or
(with --notebook) the README's sample notebook page, numbers written on ruled lines.

Usage: python tools/make_demo_image.py OUT.png [--notebook] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2

from edgedigits.core import data
from edgedigits.evaluation.scenes import notebook_page, render_lines

REPO = Path(__file__).resolve().parents[1]
LINES = ("2024", "17")
NOTEBOOK_ROWS = (("2024", "17"), ("365", "12"), ("48", "1990"), ("7", "301"), ("86420",))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--notebook", action="store_true", help="the lined notebook page instead")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    split = data.load_split("test", args.data_dir or None)
    image = notebook_page(split, NOTEBOOK_ROWS).image if args.notebook else render_lines(split, LINES)
    if not cv2.imwrite(str(args.out), image, [cv2.IMWRITE_JPEG_QUALITY, 92]):
        raise SystemExit(f"cannot write {args.out}")


if __name__ == "__main__":
    main()
