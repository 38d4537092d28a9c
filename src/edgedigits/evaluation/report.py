"""``edgedigits report``: one self-contained HTML page (and its PNGs) of what the model and runtime do.

Training curves, the confusion matrix and the most confused test digits, the parity table of
``verify``, the size/accuracy/latency table of ``bench``, and annotated synthetic scenes.
Needs the ``report`` extra (matplotlib) besides ``train``.
"""

from __future__ import annotations

import base64
import html
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgedigits.core import data
from edgedigits.core.errors import ArtifactError, ParityError, UsageError
from edgedigits.core.files import writable_dir_problem, write_bytes_atomic

GALLERY_PAIRS = 6
GALLERY_PER_PAIR = 8
SCENES = 4


@dataclass(frozen=True)
class ReportConfig:
    models: Path = Path("models")
    data_dir: Path | None = None
    out: Path = Path("reports")
    bench_runs: int = 200

    def __post_init__(self) -> None:
        if not self.models.is_dir():
            raise UsageError(f"--models {self.models} is not a folder")
        if problem := writable_dir_problem(self.out):
            raise UsageError(f"--out {problem}")


def _pyplot():
    try:
        import matplotlib
    except ImportError as exc:
        raise UsageError("edgedigits report needs matplotlib: pip install 'edgedigits[report]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    _pyplot().close(fig)
    return buf.getvalue()


def curves_png(metrics: dict) -> bytes:
    plt = _pyplot()
    history = metrics["history"]
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
    ax1.plot(epochs, [h["loss"] for h in history], marker="o")
    ax1.set(xlabel="epoch", ylabel="training loss", title="loss")
    ax2.plot(epochs, [100 * h["test_accuracy"] for h in history], marker="o", color="tab:green")
    ax2.set(xlabel="epoch", ylabel="test accuracy (%)", title=f"test accuracy ({metrics['recipe']} recipe)")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    return _png(fig)


def confusion(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    matrix = np.zeros((10, 10), np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def confusion_png(matrix: np.ndarray) -> bytes:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    shown = np.log1p(matrix)
    ax.imshow(shown, cmap="Blues")
    for (i, j), n in np.ndenumerate(matrix):
        ax.text(
            j,
            i,
            str(n),
            ha="center",
            va="center",
            fontsize=7,
            color="white" if shown[i, j] > shown.max() / 2 else "black",
        )
    ax.set(
        xticks=range(10),
        yticks=range(10),
        xlabel="predicted",
        ylabel="true",
        title=f"MNIST test confusion ({np.trace(matrix) / matrix.sum():.2%} correct)",
    )
    return _png(fig)


def gallery_png(
    images: np.ndarray, labels: np.ndarray, predicted: np.ndarray, confidence: np.ndarray
) -> bytes:
    """Misclassified test digits, one row per most-confused (true -> predicted) pair."""
    plt = _pyplot()
    wrong = np.flatnonzero(labels != predicted)
    pairs = Counter(zip(labels[wrong].tolist(), predicted[wrong].tolist(), strict=True)).most_common(
        GALLERY_PAIRS
    )
    fig, axes = plt.subplots(
        max(1, len(pairs)), GALLERY_PER_PAIR, figsize=(GALLERY_PER_PAIR * 1.1, max(1, len(pairs)) * 1.35)
    )
    axes = np.atleast_2d(axes)
    for ax in axes.ravel():
        ax.axis("off")
    for row, ((true, pred), count) in enumerate(pairs):
        idx = wrong[(labels[wrong] == true) & (predicted[wrong] == pred)][:GALLERY_PER_PAIR]
        for col, k in enumerate(idx):
            axes[row, col].imshow(images[k], cmap="gray")
            axes[row, col].set_title(f"{true}→{pred} {confidence[k]:.2f}", fontsize=7)
        axes[row, 0].text(-12, 14, f"{count}×", fontsize=8, ha="right", va="center")
    fig.suptitle("most confused test digits (true→predicted, confidence)", fontsize=9)
    return _png(fig)


def scenes_png(
    data_dir: Path | None, model: Path, seed: int = 0, count: int = SCENES, scale: float = 0.6
) -> bytes:
    """``count`` (1, 2 or 4) annotated synthetic scenes in a grid, shrunk by ``scale``."""
    import cv2

    from edgedigits.evaluation.scenes import make_scene
    from edgedigits.runtime import DigitRecognizer
    from edgedigits.runtime.draw import annotate

    test = data.load_split("test", data_dir)
    rng = np.random.default_rng(seed)
    recognizer = DigitRecognizer(model)
    views = [
        annotate(s.image, recognizer.recognize(s.image))
        for s in (make_scene(test.images, test.labels, rng) for _ in range(count))
    ]
    rows = [np.hstack(views[i : i + 2]) if i + 1 < count else views[i] for i in range(0, count, 2)]
    grid = cv2.resize(np.vstack(rows), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".png", grid)
    if not ok:
        raise ArtifactError("could not encode the scenes picture")
    return buf.tobytes()


def build(config: ReportConfig, log=print) -> Path:
    from edgedigits.core.registry import BY_NAME
    from edgedigits.proof import bench, verify
    from edgedigits.proof.reference import load_reference
    from edgedigits.runtime import OnnxModel
    from edgedigits.runtime.recognizer import softmax
    from edgedigits.train.loop import METRICS_NAME

    ref = load_reference(config.models, config.data_dir)  # the test set, read once for every section
    manifest = ref.manifest
    manifest.check_all(config.models)
    metrics = read_metrics(config.models / METRICS_NAME)
    onnx_path = config.models / BY_NAME["onnx"].filename
    images, labels = ref.inputs.test_images, ref.inputs.test_labels
    probs = softmax(OnnxModel(onnx_path).predict(images))
    predicted = probs.argmax(1)

    pictures = {
        "curves.png": curves_png(metrics),
        "confusion.png": confusion_png(confusion(labels, predicted)),
        "misclassified.png": gallery_png(
            np.rint(images[:, 0] * 255).astype(np.uint8), labels, predicted, probs.max(1)
        ),
        "scenes.png": scenes_png(config.data_dir, onnx_path),
    }
    log("verifying every artifact ...")
    checks = verify.verify(ref)
    log("benchmarking ...")
    rows = bench.bench(ref, runs=config.bench_runs)

    config.out.mkdir(parents=True, exist_ok=True)
    for name, blob in pictures.items():
        write_bytes_atomic(config.out / name, blob)

    def img(name: str, alt: str) -> str:
        return f'<img alt="{alt}" src="data:image/png;base64,{base64.b64encode(pictures[name]).decode()}">'

    parity = verify.table(checks).html()
    speed = bench.table(rows).html()
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>edgedigits report</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0;font-size:13px}}td,th{{border:1px solid #ccc;padding:3px 8px}}
img{{max-width:100%}}</style></head><body>
<h1>edgedigits report</h1>
<p>Model: <code>{html.escape(str(onnx_path))}</code>, recipe <b>{html.escape(str(metrics["recipe"]))}</b>,
test accuracy <b>{metrics["test_accuracy"]:.2%}</b> after {metrics["epochs"]} epochs in
{metrics["train_seconds"]:.1f} s on {html.escape(str(metrics["device"]))}; checkpoint sha256
<code>{html.escape(manifest.checkpoint.sha256[:16])}…</code></p>
<h2>Training</h2>{img("curves.png", "training curves")}
<h2>Errors on the MNIST test set</h2>{img("confusion.png", "confusion matrix")}
{img("misclassified.png", "misclassified digits")}
<h2>Parity (edgedigits verify)</h2>{parity}
<h2>Speed (edgedigits bench, one thread)</h2>{speed}
<h2>Runtime on synthetic camera scenes</h2>{img("scenes.png", "annotated scenes")}
</body></html>
"""
    target = config.out / "index.html"
    write_bytes_atomic(target, page.encode())
    failed = [c.backend for c in checks if c.status == "fail"]
    if failed:
        raise ParityError(f"wrote {target}, but {len(failed)} parity checks failed: {', '.join(failed)}")
    return target


def read_metrics(path: Path) -> dict:
    """train_metrics.json, checked for what the report draws."""
    try:
        metrics = json.loads(path.read_text())
        history = [(int(h["epoch"]), float(h["loss"]), float(h["test_accuracy"])) for h in metrics["history"]]
        accuracy, _ = float(metrics["test_accuracy"]), float(metrics["train_seconds"])
    except FileNotFoundError as exc:
        raise ArtifactError(f"{path} not found; the report needs the training metrics") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{path} is damaged ({type(exc).__name__}: {exc})") from exc
    if not history or not 0 <= accuracy <= 1 or not isinstance(metrics.get("recipe"), str):
        raise ArtifactError(f"{path} is damaged (no epochs, accuracy outside [0, 1] or no recipe)")
    return metrics
