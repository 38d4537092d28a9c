"""Write the Python reader's intermediate results on generated pages, for the browser reader's parity tests.

For each page: ``NAME.pgm`` (the grayscale frame), ``NAME.mask.pgm`` (ink mask), ``NAME.clean.pgm``
(after rule removal), ``NAME.crops.f32`` (float32 [N, 28, 28], the model's inputs in find_blobs order)
and ``NAME.json`` (blob boxes, cut boxes, and the recognition as `detect --json` writes it), plus
``cases.json`` listing them and ``contract.json`` (the web export's contract with the reader settings).

    python tools/web_cases.py OUT_DIR [--kinds notebook,clutter,form] [--pages 3] [--style tune]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from edgedigits.core.data import load_split
from edgedigits.evaluation.scenes import Inks, make_page, page_seed
from edgedigits.runtime.normalize import to_mnist
from edgedigits.runtime.recognizer import DigitRecognizer
from edgedigits.runtime.segment import find_blobs, ink_mask, remove_rules, to_gray
from edgedigits.runtime.settings import web_contract


def write_cases(out: Path, kinds: list[str], pages: int, style: str) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    inks = Inks(load_split("test"), style)
    reader = DigitRecognizer()
    names = []
    for kind in kinds:
        rng = np.random.default_rng(page_seed(kind, style))
        for i in range(pages):
            page = make_page(kind, inks, rng)
            name = f"{kind}-{style}-{i}"
            gray = to_gray(page.image)
            mask = ink_mask(gray, reader.polarity, reader.segment)
            clean, _ = remove_rules(mask, reader.segment)
            blobs = find_blobs(clean, reader.segment)
            crops = (
                np.stack([to_mnist(ink, reader.normalize) for ink in blobs.inks])
                if len(blobs)
                else (np.zeros((0, 28, 28), np.float32))
            )
            for suffix, plane in ((".pgm", gray), (".mask.pgm", mask), (".clean.pgm", clean)):
                cv2.imwrite(str(out / f"{name}{suffix}"), plane)
            crops.astype("<f4").tofile(out / f"{name}.crops.f32")
            record = {
                "boxes": blobs.boxes.tolist(),
                "cut": blobs.cut.tolist(),
                "recognition": reader.recognize(page.image).to_json(),
            }
            (out / f"{name}.json").write_text(json.dumps(record))
            names.append(name)
    (out / "cases.json").write_text(json.dumps(names))
    (out / "contract.json").write_text(json.dumps(web_contract(reader.model.info), indent=1))
    return names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--kinds", default="notebook,clutter,form,blank")
    ap.add_argument("--pages", type=int, default=3)
    ap.add_argument("--style", default="tune", choices=("tune", "heldout"))
    args = ap.parse_args()
    names = write_cases(args.out, args.kinds.split(","), args.pages, args.style)
    print(f"wrote {len(names)} cases to {args.out}")


if __name__ == "__main__":
    main()
