"""Rebuild the shipped release model: train (default recipe, seed 0, CPU) -> export every format, int8
included -> verify --require-all.

Writes models/ (checkpoint, every artifact, manifest, metrics) and copies the fp32 ONNX into the package
as the runtime's default model. Exits non-zero if any step fails or any artifact's runtime is missing
(install with `pip install -e ".[dev]"`), so a bad or unproven model is never shipped.
Usage: python tools/release.py [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from edgedigits.core.registry import FORMATS

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"
PACKAGED = REPO / "src" / "edgedigits" / "runtime" / "model" / "mnist_mlp.onnx"


def run(*args: str) -> None:
    print("+ edgedigits", " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "edgedigits", *args], check=True, cwd=REPO)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    args = parser.parse_args()
    run(
        "train",
        "--recipe",
        "default",
        "--seed",
        "0",
        "--device",
        "cpu",
        "--data-dir",
        args.data_dir,
        "--out",
        str(MODELS),
    )
    run(
        "export",
        "--checkpoint",
        str(MODELS / "mnist_mlp.pt"),
        "--out",
        str(MODELS),
        "--formats",
        ",".join(f.name for f in FORMATS),
        "--data-dir",
        args.data_dir,
    )
    run("verify", "--models", str(MODELS), "--data-dir", args.data_dir, "--require-all")
    shutil.copyfile(MODELS / "mnist_mlp.onnx", PACKAGED)
    print(f"copied {MODELS / 'mnist_mlp.onnx'} -> {PACKAGED}")


if __name__ == "__main__":
    main()
