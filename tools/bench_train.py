"""Side by side on one machine: the tutorial's own script, `edgedigits train --recipe default`,
`--recipe distill` (teacher included) and `--recipe default --nproc 2`, each as a whole process.

Runs the variants in turn (A B C D A B C D ...) so machine drift hits all of them, then prints each
one's median wall time, its test accuracies, and the median ratio to the tutorial script.
Usage: python tools/bench_train.py [--runs 3] [--data-dir ../shared/data] [--only default,distill]
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
TRAIN = [sys.executable, "-m", "edgedigits", "train", "--device", "cpu"]
VARIANTS = {
    "tutorial": None,  # tools/tutorial_mnist.py, the tutorial step for step (5 epochs, SGD)
    "default": ["--recipe", "default"],
    "distill": ["--recipe", "distill"],
    "default --nproc 2": ["--recipe", "default", "--nproc", "2"],
}


def run(name: str, data_dir: str) -> tuple[float, float]:
    """(wall seconds, test accuracy) of one whole run."""
    with tempfile.TemporaryDirectory() as out:
        if VARIANTS[name] is None:
            cmd = [sys.executable, str(REPO / "tools" / "tutorial_mnist.py"), data_dir]
        else:
            cmd = [*TRAIN, *VARIANTS[name], "--data-dir", data_dir, "--out", out]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        seconds = time.perf_counter() - t0
        if VARIANTS[name] is None:
            return seconds, float(re.search(r"Test Accuracy: ([\d.]+)%", proc.stdout).group(1)) / 100
        return seconds, json.loads((Path(out) / "train_metrics.json").read_text())["test_accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--only", default=",".join(VARIANTS), help="comma-separated variants to run")
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",")]
    unknown = set(names) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(sorted(unknown))}; choose from {', '.join(VARIANTS)}")
    results: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    for _ in range(args.runs):
        for name in names:
            results[name].append(run(name, args.data_dir))
            print(f"  {name}: {results[name][-1][0]:.1f}s  {results[name][-1][1]:.4f}", flush=True)
    base = statistics.median(t for t, _ in results["tutorial"]) if "tutorial" in results else None
    print(f"\n{'variant':<20}{'median s':>10}{'x tutorial':>12}  test accuracy per run")
    for name, runs in results.items():
        median = statistics.median(t for t, _ in runs)
        ratio = f"{median / base:.2f}" if base else "-"
        print(f"{name:<20}{median:>10.1f}{ratio:>12}  {', '.join(f'{a:.4f}' for _, a in runs)}")


if __name__ == "__main__":
    main()
