"""Score the runtime on synthetic camera-like scenes of MNIST test digits (see edgedigits.synth).

Prints box recall / precision at IoU >= 0.5, label accuracy and end-to-end accuracy; optionally writes
a few scenes and their annotated views.
Usage: python tools/scenes.py [--scenes 300] [--seed 0] [--model PATH] [--save DIR] [--gray]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from edgedigits import data
from edgedigits.runtime import DigitRecognizer
from edgedigits.runtime.draw import annotate
from edgedigits.synth import SceneParams, Score, make_scene

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default=None)
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--gray", action="store_true", help="single-channel scenes")
    parser.add_argument("--save", type=Path, default=None, help="write the first 8 scenes, annotated, here")
    args = parser.parse_args()

    test = data.load_split("test", args.data_dir)
    params = replace(SceneParams(), width=args.width, height=args.height, color=not args.gray)
    rng = np.random.default_rng(args.seed)
    recognizer = DigitRecognizer(args.model)
    score = Score()
    for i in range(args.scenes):
        scene = make_scene(test.images, test.labels, rng, params)
        result = recognizer.recognize(scene.image)
        score.add(scene.boxes, scene.labels, [d.box for d in result.digits], [d.label for d in result.digits])
        if args.save and i < 8:
            args.save.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(args.save / f"scene{i}.jpg"), scene.image)
            cv2.imwrite(str(args.save / f"scene{i}_annotated.jpg"), annotate(scene.image, result))
    print(json.dumps({"scenes": args.scenes, "seed": args.seed} | score.to_json(), indent=2))


if __name__ == "__main__":
    main()
