"""Per-frame time of the runtime (segmentation through labels) on one thread.

Synthetic camera-like frames with 3-8 digits at 640x480 and 1280x720; prints the median and p90 of
``DigitRecognizer.recognize`` per frame, against the goal of a tenth of a 30 fps frame interval (3.33 ms).
Usage: python tools/bench_runtime.py [--frames 200] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from edgedigits import data
from edgedigits.runtime import DigitRecognizer
from edgedigits.synth import SceneParams, make_scene

REPO = Path(__file__).resolve().parents[1]
GOAL_MS = 1000 / 30 / 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    args = parser.parse_args()
    cv2.setNumThreads(1)
    test = data.load_split("test", args.data_dir)
    recognizer = DigitRecognizer()
    for width, height in ((640, 480), (1280, 720)):
        rng = np.random.default_rng(0)
        params = replace(SceneParams(), width=width, height=height)
        frames = [make_scene(test.images, test.labels, rng, params).image for _ in range(args.frames)]
        for frame in frames[:20]:
            recognizer.recognize(frame)
        times = []
        for frame in frames:
            t0 = time.perf_counter()
            recognizer.recognize(frame)
            times.append((time.perf_counter() - t0) * 1e3)
        median, p90 = statistics.median(times), float(np.percentile(times, 90))
        verdict = "meets" if median <= GOAL_MS else "misses"
        print(
            f"{width}x{height}: median {median:.2f} ms, p90 {p90:.2f} ms per frame over {args.frames} frames "
            f"({verdict} the {GOAL_MS:.2f} ms goal)"
        )


if __name__ == "__main__":
    main()
