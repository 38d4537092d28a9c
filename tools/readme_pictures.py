"""Regenerate the README's pictures in docs/ from the release model (small PNGs, committed).

Usage: python tools/readme_pictures.py [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from edgedigits.core import data
from edgedigits.evaluation.report import confusion, confusion_png, curves_png, scenes_png
from edgedigits.evaluation.scenes import Inks, make_page, page_seed, render_lines
from edgedigits.runtime import DigitRecognizer, OnnxModel
from edgedigits.runtime.draw import annotate

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"
DOCS = REPO / "docs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    args = parser.parse_args()
    DOCS.mkdir(exist_ok=True)
    metrics = json.loads((MODELS / "train_metrics.json").read_text())
    (DOCS / "curves.png").write_bytes(curves_png(metrics))
    test = data.load_split("test", args.data_dir)
    logits = OnnxModel(MODELS / "mnist_mlp.onnx").predict(data.as_model_input(test.images))
    (DOCS / "confusion.png").write_bytes(
        confusion_png(confusion(test.labels.astype(np.int64), logits.argmax(1)))
    )
    (DOCS / "scenes.png").write_bytes(
        scenes_png(args.data_dir, MODELS / "mnist_mlp.onnx", seed=3, count=2, scale=0.5)
    )
    recognizer = DigitRecognizer()
    sheet = render_lines(test, ["2024", "17"], digit_px=64, noise=0.0)
    cv2.imwrite(str(DOCS / "demo_annotated.png"), annotate(sheet, recognizer.recognize(sheet)))
    page = cv2.imread(str(DOCS / "notebook_page.jpg"))  # made by tools/make_demo_image.py --notebook
    if page is None:
        raise SystemExit("docs/notebook_page.jpg is missing: run tools/make_demo_image.py --notebook first")
    jpeg = [cv2.IMWRITE_JPEG_QUALITY, 88]  # camera-like pictures: a tenth of the PNG's size
    cv2.imwrite(str(DOCS / "notebook_annotated.jpg"), annotate(page, recognizer.recognize(page)), jpeg)
    cv2.imwrite(str(DOCS / "paper.jpg"), paper_view(test, recognizer), jpeg)
    for path in sorted([*DOCS.glob("*.png"), *DOCS.glob("*.jpg")]):
        print(f"{path.relative_to(REPO)}  {path.stat().st_size / 1024:.0f} KiB")


def paper_view(test: data.Split, recognizer: DigitRecognizer) -> np.ndarray:
    """Tuning pages of four conditions, annotated as ``--debug`` shows them (rejected marks grey)."""
    inks = Inks(test)
    views = []
    for kind in ("notebook", "clutter", "column", "hands"):
        page = make_page(kind, inks, np.random.default_rng(page_seed(kind, "tune")))
        views.append(annotate(page.image, recognizer.recognize(page.image), show_rejected=True))
    grid = np.vstack([np.hstack(views[:2]), np.hstack(views[2:])])
    return cv2.resize(grid, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)


if __name__ == "__main__":
    main()
