"""``edgedigits bench``: size, accuracy, batch-1 latency and batch-N throughput per artifact, one thread.

Like ``yolo benchmark``, but every row runs the same test images on one thread, so the numbers compare
backends rather than thread pools. onnx.reference is a correctness oracle, not a runtime: not timed.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from edgedigits.errors import ArtifactError, UsageError
from edgedigits.formats import BY_NAME
from edgedigits.manifest import check_all, read_manifest
from edgedigits.verify import eager_predict, make_inputs, reference_model

NOT_TIMED = frozenset({"onnx.reference"})
WARMUP = 50


@dataclass(frozen=True)
class BenchRow:
    backend: str
    artifact: str
    bytes: int | None
    accuracy: float
    latency_ms_median: float
    latency_ms_p90: float
    throughput_per_s: float
    throughput_batch: int


def _latencies(predict, image: np.ndarray, runs: int) -> list[float]:
    for _ in range(WARMUP):
        predict(image)
    out = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        predict(image)
        out.append((time.perf_counter_ns() - t0) / 1e6)
    return out


def _row(backend: str, artifact: str, size: int | None, predict, images, labels, runs: int) -> BenchRow:
    lat = _latencies(predict, images[:1], runs)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        logits = predict(images)
        best = min(best, time.perf_counter() - t0)
    return BenchRow(
        backend,
        artifact,
        size,
        float((logits.argmax(1) == labels).mean()),
        statistics.median(lat),
        float(np.percentile(lat, 90)),
        len(images) / best,
        len(images),
    )


def bench(models: Path, data_dir: Path | None = None, runs: int = 500) -> list[BenchRow]:
    if runs < 10:
        raise UsageError(f"--runs must be >= 10, got {runs}")
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    manifest = read_manifest(models)
    check_all(models, manifest)
    reference = reference_model(models, manifest)
    inputs = make_inputs(data_dir)
    images, labels = inputs.test_images, inputs.test_labels

    rows = [_row("torch eager", "checkpoint", None, eager_predict(reference), images, labels, runs)]
    for entry in manifest["artifacts"]:
        fmt, path = BY_NAME.get(entry["format"]), models / entry["file"]
        if fmt is None:
            raise ArtifactError(f"{models / 'manifest.json'} lists an unknown format {entry['format']!r}")
        for backend, loader in fmt.loaders.items():
            if backend not in NOT_TIMED:
                rows.append(
                    _row(
                        f"{fmt.name}/{backend}",
                        entry["file"],
                        entry["bytes"],
                        loader(path),
                        images,
                        labels,
                        runs,
                    )
                )
    return rows


def goals(rows: list[BenchRow]) -> list[tuple[bool, str]]:
    """The issue's targets, checked on this run's own figures."""
    by = {r.backend: r for r in rows}
    out = []
    ort, eager, dnn = by.get("onnx/onnxruntime"), by.get("torch eager"), by.get("onnx/cv2.dnn")
    if ort and eager:
        ratio = ort.latency_ms_median / eager.latency_ms_median
        out.append((ratio <= 0.5, f"onnxruntime batch-1 latency {ratio:.2f}x torch eager (goal <= 0.5x)"))
    if ort and dnn:
        ratio = ort.latency_ms_median / dnn.latency_ms_median
        out.append((ratio <= 1.2, f"onnxruntime batch-1 latency {ratio:.2f}x cv2.dnn (goal <= 1.2x)"))
    q = by.get("onnx_int8/onnxruntime")
    if ort and q:
        ratio = q.bytes / ort.bytes
        out.append((ratio <= 0.3, f"int8 ONNX size {ratio:.0%} of fp32 ONNX (goal <= 30%)"))
    return out


def format_table(rows: list[BenchRow]) -> str:
    batch = rows[0].throughput_batch
    lines = [
        f"{'backend':<30} {'artifact':<21} {'size KiB':>9} {'accuracy':>9} {'b1 p50 ms':>10} "
        f"{'b1 p90 ms':>10} {f'b{batch} img/s':>12}"
    ]
    for r in rows:
        size = "-" if r.bytes is None else f"{r.bytes / 1024:.1f}"
        lines.append(
            f"{r.backend:<30} {r.artifact:<21} {size:>9} {r.accuracy:>9.2%} {r.latency_ms_median:>10.4f} "
            f"{r.latency_ms_p90:>10.4f} {r.throughput_per_s:>12,.0f}"
        )
    lines += [f"{'✓' if ok else '✗'} {text}" for ok, text in goals(rows)]
    return "\n".join(lines)


def to_json(rows: list[BenchRow]) -> str:
    return json.dumps(
        {
            "threads": 1,
            "rows": [asdict(r) for r in rows],
            "goals": [{"met": ok, "text": text} for ok, text in goals(rows)],
        },
        indent=2,
    )
