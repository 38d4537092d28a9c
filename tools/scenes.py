"""The runtime's quality per paper condition, on tuning and on held-out pages (edgedigits.evaluation.scenes).

For each condition (MNIST digits on blank paper, lined notebook, columns of numbers, clutter marks and
ruled lines, other hands, small pencil digits under a shadow, a dense 1280x720 form, lines of handwritten
words with numbers among them): digit box recall and precision at IoU >= 0.5, end-to-end label accuracy
per digit, and numbers read exactly, against the targets. ``tune`` pages are what the constants were
tuned on; ``heldout`` pages come from another seed range and write other hands and other marks with the
pen of edgedigits.evaluation.penhand, never tuned on.
Usage: python tools/scenes.py [--pages 60] [--style both] [--kinds notebook,clutter] [--model PATH]
                              [--save DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from edgedigits.core import data
from edgedigits.evaluation.scenes import PAGE_KINDS, STYLES, Inks, make_page, page_seed, score_pages
from edgedigits.runtime import DigitRecognizer
from edgedigits.runtime.draw import annotate

REPO = Path(__file__).resolve().parents[1]
# the targets: (metric, minimum) per condition
TARGETS = {
    "blank": (("end_to_end", 0.985), ("recall", 0.995)),
    "notebook": (("numbers_exact", 0.95), ("end_to_end", 0.97)),
    "clutter": (("precision", 0.97), ("recall", 0.98)),
    "hands": (("end_to_end", 0.95),),
    "pencil": (("end_to_end", 0.97),),
}


def verdict(kind: str, figures: dict) -> str:
    marks = [
        f"{metric} {'✓' if figures[metric] >= goal else '✗'} (>= {goal:.1%})"
        for metric, goal in TARGETS.get(kind, ())
        if figures[metric] is not None
    ]
    return ", ".join(marks) or "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=60, help="pages per condition and style")
    parser.add_argument("--style", choices=(*STYLES, "both"), default="both")
    parser.add_argument("--kinds", default=",".join(PAGE_KINDS))
    parser.add_argument("--seed", type=int, default=0, help="offset into each condition's seed range")
    parser.add_argument("--model", default=None)
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--save", type=Path, default=None, help="write each condition's first page here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    test = data.load_split("test", args.data_dir)
    recognizer = DigitRecognizer(args.model)
    styles = STYLES if args.style == "both" else (args.style,)
    rows = []
    for style in styles:
        inks = Inks(test, style)
        for kind in args.kinds.split(","):
            figures = score_pages(recognizer.recognize, kind, inks, args.pages, args.seed).to_json()
            rows.append({"condition": kind, "style": style, "pages": args.pages} | figures)
            if args.save:
                args.save.mkdir(parents=True, exist_ok=True)
                page = make_page(kind, inks, np.random.default_rng(page_seed(kind, style, args.seed)))
                view = annotate(page.image, recognizer.recognize(page.image), show_rejected=True)
                cv2.imwrite(str(args.save / f"{style}_{kind}.jpg"), view)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(
        f"{'condition':<10}{'style':<9}{'digits':>7}{'recall':>8}{'prec':>8}{'e2e':>8}{'numbers':>9}  targets"
    )
    for r in rows:
        numbers = "-" if r["numbers_exact"] is None else f"{r['numbers_exact']:.1%}"
        print(
            f"{r['condition']:<10}{r['style']:<9}{r['truths']:>7}{r['recall']:>8.1%}{r['precision']:>8.1%}"
            f"{r['end_to_end']:>8.1%}{numbers:>9}  {verdict(r['condition'], r)}"
        )


if __name__ == "__main__":
    main()
