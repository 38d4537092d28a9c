"""Regenerate the README's pictures in docs/ from the release model (small PNGs, committed).

Usage: python tools/readme_pictures.py [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from edgedigits import data
from edgedigits.report import confusion, confusion_png, curves_png, scenes_png
from edgedigits.runtime import DigitRecognizer, OnnxModel
from edgedigits.runtime.draw import annotate
from edgedigits.synth import render_lines

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
    sheet = render_lines(test, ["2024", "17"], digit_px=64, noise=0.0)
    cv2.imwrite(str(DOCS / "demo_annotated.png"), annotate(sheet, DigitRecognizer().recognize(sheet)))
    for path in sorted(DOCS.glob("*.png")):
        print(f"{path.relative_to(REPO)}  {path.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
