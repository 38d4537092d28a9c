"""Per-frame time of the runtime against a naive pipeline, side by side on the same frames, one thread.

The naive pipeline is what a user would write in 30 lines: adaptive threshold, connected components,
size filter, each crop scaled into 28x28, one onnxruntime batch with the same model. Frames:
- MNIST digits on blank paper, 640x480, 3-8 digits (the "any frame" budget: not slower than before);
- lined notebook pages, 640x480;
- dense forms, 1280x720, 100+ digits;
- pages with 10 to 160 digits, 1280x720, for the time per digit (linear, not quadratic);
- every runtime backend on the notebook and form frames, with the artifacts in models/ (a backend whose
  runtime is not installed is listed as skipped), and the model call alone on a batch of 12 crops.
Usage: python tools/bench_runtime.py [--frames 100] [--models models] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from edgedigits.core import data
from edgedigits.core.errors import MissingRuntime
from edgedigits.evaluation.scenes import Inks, make_page, render_lines
from edgedigits.runtime import DigitRecognizer, OnnxModel
from edgedigits.runtime.recognizer import softmax
from edgedigits.runtime.segment import to_gray

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"
BACKENDS = (  # (row label, --backend, artifact in models/)
    ("onnxruntime  .onnx", "onnxruntime", "mnist_mlp.onnx"),
    ("onnxruntime  .ort", "onnxruntime", "mnist_mlp.ort"),
    ("opencv       .onnx", "opencv", "mnist_mlp.onnx"),
    ("openvino     .xml", "openvino", "mnist_mlp.xml"),
    ("executorch   .pte", "executorch", "mnist_mlp.pte"),
    ("executorch   .int8.pte", "executorch", "mnist_mlp.int8.pte"),
    ("c            .c", "c", "mnist_mlp.c"),
    ("c            .int8.c", "c", "mnist_mlp.int8.c"),
)


class NaivePipeline:
    """Threshold, connected components, one batch: the baseline the runtime has to beat."""

    def __init__(self, model: OnnxModel) -> None:
        self.model = model

    def __call__(self, frame: np.ndarray) -> list[tuple[tuple[int, int, int, int], int]]:
        gray = to_gray(frame)
        block = max(3, int(min(gray.shape) * 0.12) | 1)
        mask = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 18)
        _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        boxes, crops = [], []
        for x, y, w, h, area in stats[1:]:
            if h < 14 or h > 0.9 * gray.shape[0] or w > 2.2 * h or area < 30:
                continue
            scale = 20 / max(w, h)
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            small = cv2.resize(mask[y : y + h, x : x + w], size)
            crop = np.zeros((28, 28), np.float32)
            top, left = (28 - small.shape[0]) // 2, (28 - small.shape[1]) // 2
            crop[top : top + small.shape[0], left : left + small.shape[1]] = small / 255.0
            boxes.append((int(x), int(y), int(w), int(h)))
            crops.append(crop)
        if not crops:
            return []
        labels_read = softmax(self.model.predict(np.stack(crops)[:, None])).argmax(1)
        return list(zip(boxes, (int(k) for k in labels_read), strict=True))


def median_ms(fn: Callable[[np.ndarray], object], frames: list[np.ndarray]) -> tuple[float, float]:
    for frame in frames[:5]:
        fn(frame)
    times = []
    for frame in frames:
        t0 = time.perf_counter()
        fn(frame)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), float(np.percentile(times, 90))


def digits_page(split: data.Split, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` MNIST digits in rows of 20 on a 1280x720 sheet."""
    digits = "".join(str(d) for d in rng.integers(0, 10, count))
    rows = [digits[i : i + 20] for i in range(0, count, 20)]
    sheet = render_lines(split, rows, digit_px=34, seed=int(rng.integers(1 << 31)))
    page = np.full((720, 1280, 3), 225, np.uint8)
    h, w = min(sheet.shape[0], 720), min(sheet.shape[1], 1280)
    page[:h, :w] = sheet[:h, :w]
    return page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--models", type=Path, default=MODELS, help="an export folder (another network)")
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    args = parser.parse_args()
    cv2.setNumThreads(1)
    test = data.load_split("test", args.data_dir)
    recognizer = DigitRecognizer(args.models / "mnist_mlp.onnx")
    naive = NaivePipeline(recognizer.model)
    inks = Inks(test)
    rng = np.random.default_rng(0)
    sets = {
        "blank 640x480": [make_page("blank", inks, rng).image for _ in range(args.frames)],
        "notebook 640x480": [make_page("notebook", inks, rng).image for _ in range(args.frames)],
        "form 1280x720": [make_page("form", inks, rng, 1280, 720).image for _ in range(args.frames // 2)],
    }
    print(f"{'frames':<22}{'runtime ms p50/p90':>22}{'naive ms p50/p90':>20}{'ratio':>8}")
    for name, frames in sets.items():
        ours, ours90 = median_ms(recognizer.recognize, frames)
        base, base90 = median_ms(naive, frames)
        print(f"{name:<22}{ours:>13.2f} / {ours90:<6.2f}{base:>12.2f} / {base90:<6.2f}{ours / base:>7.2f}x")
    print("\ndigits per 1280x720 frame -> runtime ms (median of 20 frames)")
    counts, times = [], []
    for count in (10, 20, 40, 80, 160):
        frames = [digits_page(test, count, rng) for _ in range(20)]
        ms, _ = median_ms(recognizer.recognize, frames)
        counts.append(count)
        times.append(ms)
        print(f"  {count:>4} digits: {ms:6.2f} ms")
    slope, intercept = np.polyfit(counts, times, 1)
    fit = np.polyval([slope, intercept], counts)
    worst = float(np.max(np.abs(fit - times) / times))
    print(f"  linear fit: {intercept:.2f} ms + {slope * 1000:.0f} us per digit (worst deviation {worst:.0%})")
    compare_backends({k: v for k, v in sets.items() if k != "blank 640x480"}, test, args.models)


def compare_backends(sets: dict[str, list[np.ndarray]], test: data.Split, models: Path) -> None:
    """The same frames read on every backend: whole-frame time, and the model call alone (12 crops)."""
    crops = data.as_model_input(test.images[:12])
    names = list(sets)
    print(f"\n{'backend':<24}" + "".join(f"{n + ' p50':>22}" for n in names) + f"{'model call p50 us':>20}")
    for label, backend, file in BACKENDS:
        if not (models / file).is_file():  # a network the format cannot hold (the C rows and a CNN)
            print(f"{label:<24}skipped: no {file} in {models}")
            continue
        try:
            recognizer = DigitRecognizer(models / file, backend=backend)
        except MissingRuntime as exc:
            print(f"{label:<24}skipped: {exc}")
            continue
        frame_ms = [median_ms(recognizer.recognize, frames)[0] for frames in sets.values()]
        call_ms, _ = median_ms(recognizer.model.predict, [crops] * 500)
        print(f"{label:<24}" + "".join(f"{ms:>22.2f}" for ms in frame_ms) + f"{call_ms * 1e3:>20.1f}")


if __name__ == "__main__":
    main()
