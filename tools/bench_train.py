"""Side-by-side timing of `edgedigits train --recipe default` against the tutorial's own script.

Runs the two whole processes alternately (A B A B ...) so machine drift hits both, then prints the
median wall time of each, the median ratio, and each run's test accuracy.
Usage: python tools/bench_train.py [--runs 3] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(cmd: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, proc.stdout + proc.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    args = parser.parse_args()
    ours_t, base_t, ours_acc, base_acc = [], [], [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as out:
            seconds, _ = timed(
                [
                    sys.executable,
                    "-m",
                    "edgedigits",
                    "train",
                    "--recipe",
                    "default",
                    "--device",
                    "cpu",
                    "--data-dir",
                    args.data_dir,
                    "--out",
                    out,
                ]
            )
            ours_t.append(seconds)
            ours_acc.append(json.loads((Path(out) / "train_metrics.json").read_text())["test_accuracy"])
        seconds, text = timed([sys.executable, str(REPO / "tools" / "tutorial_mnist.py"), args.data_dir])
        base_t.append(seconds)
        base_acc.append(float(re.search(r"Test Accuracy: ([\d.]+)%", text).group(1)) / 100)
    ratios = [a / b for a, b in zip(ours_t, base_t, strict=True)]
    print(
        f"edgedigits train (default): median {statistics.median(ours_t):.1f}s  "
        f"accuracy {[round(a, 4) for a in ours_acc]}"
    )
    print(
        f"tutorial script:            median {statistics.median(base_t):.1f}s  "
        f"accuracy {[round(a, 4) for a in base_acc]}"
    )
    print(f"ratio ours/tutorial:        median {statistics.median(ratios):.2f}  (runs: {args.runs})")


if __name__ == "__main__":
    main()
