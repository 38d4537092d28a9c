"""The reader on hand-held camera videos (edgedigits.evaluation.pan): per condition, what a person sees.

For each page kind (notebook, clutter, form) and motion (pan across the page; shake: held over one spot),
videos of 640x480 frames with per-frame truth, read frame by frame as ``detect`` reads a video
(``recognize``, then the ``LabelStabilizer``):

- ``read``: numbers fully in view read exactly (a line in their place, IoU >= 0.5, with their text), of
  all (number, frame) pairs where the number is fully in view;
- ``wrong/f``: lines per frame that are not a number in view read exactly (misread, cut, or no number);
- ``cut/f``: lines per frame holding a digit cut by the frame's edge (the goal: 0);
- ``flicker``: of the frames where a number in view is read, those where its text differs from the
  text it is read as most often in the video (the goal: <= 1%);
- ``partial/f``: numbers per frame reported as ``partial``; ``ms``: recognize + stabilize per frame.

``tune`` videos come from the tuning seeds; ``heldout`` ones from seeds >= HELDOUT_SEED, with the
held-out pen's marks (edgedigits.evaluation.penhand); ``heldout-seeds`` ones from held-out seeds with
the tuning style's ink (MNIST digits, Hershey marks). ``--before`` reads with this branch's features off
(every piece read, even at the border; no camera motion, no number or rejection votes): main's reader.
``--reject-vote W``: the weight of a rejection in the tracker's votes (0: off).
Usage: python tools/motion.py [--videos 4] [--frames 60] [--style both|tune|heldout|heldout-seeds|all]
                              [--kinds notebook,clutter,form] [--motions pan,shake] [--before]
                              [--reject-vote W] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from edgedigits.core import data
from edgedigits.evaluation.pan import CUT, EDGE, IN, MOTIONS, PAN_KINDS, PanParams, pan_frames, pan_seed
from edgedigits.evaluation.scenes import STYLES, Inks
from edgedigits.runtime import DigitRecognizer
from edgedigits.runtime.boxes import greedy_matches, inside
from edgedigits.runtime.segment import SegmentParams
from edgedigits.runtime.tracker import LabelStabilizer

REPO = Path(__file__).resolve().parents[1]


def score_video(frames, read) -> dict:
    """Counts over one video's (frame, truth) pairs; ``read``: frame -> Recognition."""
    c = Counter()
    texts: dict[int, list[str]] = {}
    for frame, truth in frames:
        t0 = time.perf_counter()
        result = read(frame)
        c["ms"] += (time.perf_counter() - t0) * 1e3
        c["frames"] += 1
        lines, numbers = result.lines, truth.numbers
        c["lines"] += len(lines)
        c["partial"] += len(result.partial)
        c["in_view"] += sum(n[3] == IN for n in numbers)
        right = 0
        for i, j in greedy_matches([n[2] for n in numbers], [ln.box for ln in lines], 0.5):
            _, text, _, state = numbers[i]
            exact = lines[j].text == text
            right += exact and state in (IN, EDGE)
            c["read"] += exact and state == IN
            if state == IN:
                texts.setdefault(numbers[i][0], []).append(lines[j].text)
        c["wrong"] += len(lines) - right
        cut = [box for _, box, state in truth.digits if state == CUT]
        c["cut_lines"] += sum(
            any(inside(d.box, box) >= 0.5 for d in ln.digits for box in cut) for ln in lines
        )
    for seen in texts.values():
        if len(seen) > 1:
            c["flicker_frames"] += len(seen)
            c["flicker"] += len(seen) - Counter(seen).most_common(1)[0][1]
    return c


def figures(c: Counter) -> dict:
    f = c["frames"]
    return {
        "frames": f,
        "in_view": c["in_view"],
        "read": c["read"] / c["in_view"] if c["in_view"] else None,
        "wrong_per_frame": c["wrong"] / f,
        "wrong_share": c["wrong"] / c["lines"] if c["lines"] else 0.0,
        "cut_per_frame": c["cut_lines"] / f,
        "cut_lines": c["cut_lines"],
        "flicker": c["flicker"] / c["flicker_frames"] if c["flicker_frames"] else 0.0,
        "partial_per_frame": c["partial"] / f,
        "ms": c["ms"] / f,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=4, help="videos per condition and style")
    parser.add_argument("--frames", type=int, default=60, help="frames per video")
    parser.add_argument("--style", choices=(*STYLES, "heldout-seeds", "both", "all"), default="both")
    parser.add_argument("--kinds", default=",".join(PAN_KINDS))
    parser.add_argument("--motions", default=",".join(MOTIONS))
    parser.add_argument("--before", action="store_true", help="this branch's features off: main's reader")
    parser.add_argument("--edge-margin", type=int, default=SegmentParams().edge_margin_px, help="px; -1: off")
    parser.add_argument(
        "--reject-vote",
        type=float,
        default=LabelStabilizer().reject_vote,
        help="weight of a rejection; 0: off",
    )
    parser.add_argument("--model", default=None)
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    test = data.load_split("test", args.data_dir)
    segment = SegmentParams(edge_margin_px=-1 if args.before else args.edge_margin)
    recognizer = DigitRecognizer(args.model, segment=segment)
    params = replace(PanParams(), frames=args.frames)
    styles = {"both": STYLES, "all": ("tune", "heldout-seeds", "heldout")}.get(args.style, (args.style,))
    rows = []
    for name in styles:
        style, heldout = ("tune", True) if name == "heldout-seeds" else (name, name == "heldout")
        inks = Inks(test, style)
        for kind in args.kinds.split(","):
            for motion in args.motions.split(","):
                total = Counter()
                for v in range(args.videos):
                    on = not args.before
                    stab = LabelStabilizer(motion=on, numbers=on, reject_vote=args.reject_vote if on else 0)
                    rng = np.random.default_rng(pan_seed(kind, motion, style, v, heldout))
                    frames = pan_frames(kind, motion, inks, rng, params)
                    total += score_video(frames, lambda f, s=stab: s.update(recognizer.recognize(f)))
                rows.append({"condition": kind, "motion": motion, "style": name} | figures(total))
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(
        f"{'condition':<10}{'motion':<7}{'style':<14}{'frames':>7}{'in view':>8}{'read':>8}{'wrong/f':>8}"
        f"{'cut/f':>7}{'flicker':>8}{'partial/f':>10}{'ms':>7}"
    )
    for r in rows:
        read = "-" if r["read"] is None else f"{r['read']:.1%}"
        print(
            f"{r['condition']:<10}{r['motion']:<7}{r['style']:<14}{r['frames']:>7}{r['in_view']:>8}{read:>8}"
            f"{r['wrong_per_frame']:>8.2f}{r['cut_per_frame']:>7.2f}{r['flicker']:>8.1%}"
            f"{r['partial_per_frame']:>10.2f}{r['ms']:>7.1f}"
        )


if __name__ == "__main__":
    main()
