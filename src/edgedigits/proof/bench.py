"""``edgedigits bench``: size, accuracy, batch-1 latency and batch-N throughput per artifact, one thread.

Like ``yolo benchmark``, but every row runs the same test images on one thread, so the numbers compare
backends rather than thread pools; where flash and RAM matter (the C targets) they are measured from
the compiled object. Correctness oracles (onnx.reference) are not timed; a runtime that is not
installed is a skipped row, not an error.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from edgedigits.core import registry
from edgedigits.core.errors import ArtifactError, MissingRuntime, UsageError
from edgedigits.core.registry import TRAIN
from edgedigits.core.tables import Row, Table, cell
from edgedigits.proof.reference import Reference

WARMUP = 50
EAGER = "torch eager"


@dataclass(frozen=True)
class BenchRow:
    backend: str
    artifact: str
    bytes: int | None
    accuracy: float | None = None
    latency_ms_median: float | None = None
    latency_ms_p90: float | None = None
    throughput_per_s: float | None = None
    throughput_batch: int | None = None
    flash_bytes: int | None = None
    ram_bytes: int | None = None
    skipped: str | None = None


def _latencies(predict, image: np.ndarray, runs: int) -> list[float]:
    for _ in range(WARMUP):
        predict(image)
    out = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        predict(image)
        out.append((time.perf_counter_ns() - t0) / 1e6)
    return out


def _timed(
    backend: str, artifact: str, size: int | None, predict, ref: Reference, runs: int, clock=None, **extra
) -> BenchRow:
    """``clock``: a model that times itself where it runs (``latencies``, ``batch_seconds``), when
    timing its calls from here would measure the way there (a browser behind WebDriver)."""
    images, labels = ref.inputs.test_images, ref.inputs.test_labels
    lat = clock.latencies(images[:1], runs) if clock is not None else _latencies(predict, images[:1], runs)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        logits = predict(images)
        best = min(best, clock.batch_seconds() if clock is not None else time.perf_counter() - t0)
    return BenchRow(
        backend,
        artifact,
        size,
        float((logits.argmax(1) == labels).mean()),
        statistics.median(lat),
        float(np.percentile(lat, 90)),
        len(images) / best,
        len(images),
        **extra,
    )


MIN_RUNS = 10  # fewer timed runs give no median worth printing; the CLI's options say so too


def bench(ref: Reference, runs: int = 500) -> list[BenchRow]:
    if runs < MIN_RUNS:  # a library caller's slip; on the command line the option refuses it
        raise UsageError(f"runs must be >= {MIN_RUNS}, got {runs}")
    cv2.setNumThreads(1)
    ref.manifest.check_all(ref.models)
    rows = [_eager_row(ref, runs)]
    for artifact in ref.manifest.artifacts:
        fmt, path = registry.BY_NAME.get(artifact.format), ref.models / artifact.file
        if fmt is None:
            raise ArtifactError(f"{ref.models / 'manifest.json'} lists an unknown format {artifact.format!r}")
        size = artifact.total_bytes
        for runtime in fmt.consumers:
            if runtime.oracle:
                continue
            name = f"{fmt.name}/{runtime.name}"
            try:
                if missing := runtime.missing():
                    raise MissingRuntime(missing)
                model = runtime.open(path)
                footprint = fmt.measure_footprint(path)
            except (MissingRuntime, ArtifactError) as exc:  # not installed, or from another tool release
                rows.append(BenchRow(name, artifact.file, size, skipped=str(exc)))
                continue
            extra = {"flash_bytes": footprint.flash, "ram_bytes": footprint.ram} if footprint else {}
            clock = model if runtime.self_timed else None
            rows.append(_timed(name, artifact.file, size, model.predict, ref, runs, clock, **extra))
    return rows


def _eager_row(ref: Reference, runs: int) -> BenchRow:
    """The eager model on one thread, where torch is installed (a device without it skips the row)."""
    if missing := TRAIN.missing():
        return BenchRow(EAGER, "checkpoint", None, skipped=missing)
    import torch

    from edgedigits.proof.eager import eager_model

    torch.set_num_threads(1)
    return _timed(EAGER, "checkpoint", None, eager_model(ref.models, ref.manifest).predict, ref, runs)


def goals(rows: list[BenchRow]) -> list[tuple[bool, str]]:
    """The targets the issues set, checked on this run's own figures."""
    by = {r.backend: r for r in rows if r.skipped is None}
    out = []
    ort, eager, dnn = by.get("onnx/onnxruntime"), by.get(EAGER), by.get("onnx/cv2.dnn")
    if ort and eager:
        ratio = ort.latency_ms_median / eager.latency_ms_median
        out.append((ratio <= 0.5, f"onnxruntime batch-1 latency {ratio:.2f}x torch eager (goal <= 0.5x)"))
    if ort and dnn:
        ratio = ort.latency_ms_median / dnn.latency_ms_median
        out.append((ratio <= 1.2, f"onnxruntime batch-1 latency {ratio:.2f}x cv2.dnn (goal <= 1.2x)"))
    for fp32, int8, what in (
        ("onnx/onnxruntime", "onnx_int8/onnxruntime", "int8 ONNX size"),
        ("c/ctypes", "c_int8/ctypes", "int8 C flash"),
    ):
        a, b = by.get(fp32), by.get(int8)
        if a and b:
            ratio = (b.flash_bytes or b.bytes) / (a.flash_bytes or a.bytes)
            out.append((ratio <= 0.3, f"{what} {ratio:.0%} of fp32 (goal <= 30%)"))
    return out


def table(rows: list[BenchRow]) -> Table:
    batch = next((r.throughput_batch for r in rows if r.throughput_batch), 0)
    out = Table(
        (
            "backend",
            "artifact",
            "size KiB",
            "flash KiB",
            "RAM B",
            "accuracy",
            "b1 p50 ms",
            "b1 p90 ms",
            f"b{batch} img/s",
        ),
        frozenset(range(2, 9)),
    )
    for r in rows:
        out.rows.append(
            Row(
                (
                    r.backend,
                    r.artifact,
                    cell(None if r.bytes is None else r.bytes / 1024, ".1f"),
                    cell(None if r.flash_bytes is None else r.flash_bytes / 1024, ".1f"),
                    cell(r.ram_bytes, ","),
                    cell(r.accuracy, ".2%"),
                    cell(r.latency_ms_median, ".4f"),
                    cell(r.latency_ms_p90, ".4f"),
                    cell(r.throughput_per_s, ",.0f"),
                ),
                "skip" if r.skipped else "",
                (f"skipped: {r.skipped}",) if r.skipped else (),
            )
        )
    out.footer.extend(("pass" if ok else "fail", text) for ok, text in goals(rows))
    return out


def to_json(rows: list[BenchRow]) -> str:
    return json.dumps(
        {
            "threads": 1,
            "rows": [asdict(r) for r in rows],
            "goals": [{"met": ok, "text": text} for ok, text in goals(rows)],
        },
        indent=2,
    )
