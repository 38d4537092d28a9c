"""Write the Python reader's intermediate results on generated pages, for the browser reader's parity tests.

For each page: ``NAME.pgm`` (the grayscale frame), ``NAME.raw.pgm`` (thresholded, specks left in),
``NAME.mask.pgm`` (ink mask, specks opened away), ``NAME.clean.pgm``
(after rule removal), ``NAME.inks.u8`` (the blobs' ink masks, each box-sized, in find_blobs order),
``NAME.crops.f32`` (float32 [N, 28, 28], the model's inputs in find_blobs order) and ``NAME.json`` (blob
boxes, cut boxes, and the recognition as `detect --json` writes it), plus ``cases.json`` listing them and
``contract.json`` (the web export's contract with the reader settings).

For each video (``--videos KIND-MOTION,...``, hand-held camera videos of ``evaluation.pan``):
``video-KIND-MOTION-STYLE.json``, per frame the recognition (full-precision confidences, cut pieces),
the camera shift the Python ``LabelStabilizer`` estimated and what it made of the frame (``to_json``),
and ``videos.json`` listing them.

    python tools/web_cases.py OUT_DIR [--kinds notebook,clutter,form] [--pages 3] [--style tune]
                                      [--videos notebook-pan] [--frames 30]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from edgedigits.core.data import load_split
from edgedigits.evaluation.pan import PanParams, pan_frames, pan_seed
from edgedigits.evaluation.scenes import Inks, make_page, page_seed
from edgedigits.runtime.normalize import to_mnist
from edgedigits.runtime.recognizer import DigitRecognizer
from edgedigits.runtime.segment import find_blobs, open_specks, remove_rules, thresholded, to_gray
from edgedigits.runtime.settings import web_contract
from edgedigits.runtime.tracker import LabelStabilizer


def write_case(out: Path, name: str, frame: np.ndarray, reader: DigitRecognizer) -> None:
    """One frame's files: the gray frame, its masks, the blobs' inks and crops, and the recognition."""
    gray = to_gray(frame)
    raw = thresholded(gray, reader.polarity, reader.segment)
    mask = open_specks(raw, reader.segment)
    clean, _ = remove_rules(mask, reader.segment)
    blobs = find_blobs(clean, reader.segment, raw)
    crops = [to_mnist(ink, reader.normalize) for ink in blobs.inks]
    for suffix, plane in ((".pgm", gray), (".raw.pgm", raw), (".mask.pgm", mask), (".clean.pgm", clean)):
        cv2.imwrite(str(out / f"{name}{suffix}"), plane)
    np.asarray(crops, "<f4").reshape(-1, 28, 28).tofile(out / f"{name}.crops.f32")
    (out / f"{name}.inks.u8").write_bytes(b"".join(ink.tobytes() for ink in blobs.inks))
    record = {
        "boxes": blobs.boxes.tolist(),
        "cut": blobs.cut.tolist(),
        "recognition": reader.recognize(frame).to_json(),
    }
    (out / f"{name}.json").write_text(json.dumps(record))


def write_cases(out: Path, kinds: list[str], pages: int, inks: Inks, reader: DigitRecognizer) -> list[str]:
    """``pages`` pages of each kind in ``inks``' style, each a case, plus ``cases.json`` and the contract."""
    out.mkdir(parents=True, exist_ok=True)
    style = inks.style
    names = []
    for kind in kinds:
        rng = np.random.default_rng(page_seed(kind, style))
        for i in range(pages):
            names.append(f"{kind}-{style}-{i}")
            write_case(out, names[-1], make_page(kind, inks, rng).image, reader)
    (out / "cases.json").write_text(json.dumps(names))
    (out / "contract.json").write_text(json.dumps(web_contract(reader.model.info), indent=1))
    return names


def write_videos(out: Path, videos: list[str], frames: int, inks: Inks, reader: DigitRecognizer) -> list[str]:
    """Each ``KIND-MOTION`` video's per-frame recognitions and the Python stabilizer's results on them."""
    out.mkdir(parents=True, exist_ok=True)
    style = inks.style
    names = []
    for video in videos:
        kind, motion = video.split("-")
        rng = np.random.default_rng(pan_seed(kind, motion, style, 0, heldout=False))
        stabilizer = LabelStabilizer()
        steps = []
        for frame, _ in pan_frames(kind, motion, inks, rng, PanParams(frames=frames)):
            raw = reader.recognize(frame)
            stable = stabilizer.update(raw)
            found = {
                key: [[d.label, d.confidence, list(d.box)] for d in getattr(raw, key)]
                for key in ("digits", "rejected", "cut")
            }
            steps.append(found | {"shift": list(stabilizer.shift), "stable": stable.to_json()})
        name = f"video-{video}-{style}"
        (out / f"{name}.json").write_text(json.dumps(steps))
        names.append(name)
    (out / "videos.json").write_text(json.dumps(names))
    return names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--kinds", default="notebook,clutter,form,blank")
    ap.add_argument("--pages", type=int, default=3)
    ap.add_argument("--style", default="tune", choices=("tune", "heldout"))
    ap.add_argument("--videos", default="notebook-pan", help="KIND-MOTION,... ('' for none)")
    ap.add_argument("--frames", type=int, default=30, help="frames per video")
    args = ap.parse_args()
    inks, reader = Inks(load_split("test"), args.style), DigitRecognizer()
    names = write_cases(args.out, args.kinds.split(","), args.pages, inks, reader)
    videos = write_videos(args.out, [v for v in args.videos.split(",") if v], args.frames, inks, reader)
    print(f"wrote {len(names)} cases and {len(videos)} videos to {args.out}")


if __name__ == "__main__":
    main()
