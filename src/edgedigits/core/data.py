"""MNIST as numpy arrays, read straight from the IDX files (torch-free, so tools and the runtime can use it).

The files live in the torchvision layout ``<root>/MNIST/raw/`` either raw or gzipped. The root comes
from ``--data-dir``, else ``$EDGEDIGITS_DATA``, else a per-user cache folder. Only when files are
missing do we try torchvision's real download; a folder that holds the files is never written to.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgedigits.core.errors import DataError

ENV_VAR = "EDGEDIGITS_DATA"
IMAGE_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
LABEL_MAGIC = 0x00000801  # unsigned byte, 1 dimension
SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60_000),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10_000),
}


@dataclass(frozen=True)
class Split:
    """One MNIST split: ``images`` uint8 ``[N, 28, 28]``, ``labels`` uint8 ``[N]``."""

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        if len(self.images) != len(self.labels):
            raise DataError(f"{len(self.images)} images but {len(self.labels)} labels")


def as_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 ``[N, 28, 28]`` -> float32 ``[N, 1, 28, 28]`` in [0, 1]: the exported models' input."""
    return (images.astype(np.float32) / 255)[:, None]


def default_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "edgedigits" / "data"


def resolve_root(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """``data_dir`` if given, else ``$EDGEDIGITS_DATA``, else the per-user default."""
    if data_dir:
        return Path(data_dir).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return default_root()


def raw_dir(root: Path) -> Path:
    return root / "MNIST" / "raw"


def _find(root: Path, name: str) -> Path | None:
    for candidate in (raw_dir(root) / name, raw_dir(root) / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc


def parse_idx(data: bytes, *, magic: int, source: str = "IDX data") -> np.ndarray:
    """Parse one IDX file's bytes, checking the magic number and that the payload is exactly complete."""
    if len(data) < 4:
        raise DataError(f"{source}: {len(data)} bytes is too short for an IDX header")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise DataError(f"{source}: magic number {found:#010x}, expected {magic:#010x} (not this IDX kind)")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{source}: truncated header")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise DataError(f"{source}: {what} ({len(data)} bytes, header {dims} needs {expected})")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _missing_message(root: Path, reason: str) -> str:
    names = ", ".join(f"{img}/{lbl}" for img, lbl, _ in SPLITS.values())
    return (
        f"MNIST not found in {raw_dir(root)} (looked for {names}, raw or .gz) and the download failed "
        f"({reason}); copy the four IDX files there, or point --data-dir / ${ENV_VAR} at a folder "
        "holding MNIST/raw/"
    )


def download(root: Path) -> None:
    """Fetch MNIST with torchvision's real downloader (needs the ``train`` extra and a network)."""
    try:
        from torchvision.datasets import MNIST
    except ImportError as exc:
        raise DataError(_missing_message(root, f"torchvision is not installed: {exc}")) from exc
    try:
        for train in (True, False):
            MNIST(str(root), train=train, download=True)
    except Exception as exc:  # torchvision raises bare RuntimeError/URLError/OSError on network failure
        raise DataError(_missing_message(root, f"{type(exc).__name__}: {exc}".splitlines()[0])) from exc


def load_split(
    split: str, data_dir: str | os.PathLike[str] | None = None, *, allow_download: bool = True
) -> Split:
    """Load and validate one split ("train" or "test")."""
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose one of {sorted(SPLITS)}")
    root = resolve_root(data_dir)
    image_name, label_name, count = SPLITS[split]
    paths = [_find(root, image_name), _find(root, label_name)]
    if None in paths:
        if not allow_download:
            raise DataError(_missing_message(root, "download disabled"))
        download(root)
        paths = [_find(root, image_name), _find(root, label_name)]
        if None in paths:
            raise DataError(_missing_message(root, "files still missing after download"))
    image_path, label_path = paths
    images = parse_idx(_read_bytes(image_path), magic=IMAGE_MAGIC, source=str(image_path))
    labels = parse_idx(_read_bytes(label_path), magic=LABEL_MAGIC, source=str(label_path))
    if images.shape != (count, 28, 28):
        raise DataError(f"{image_path}: shape {images.shape}, expected ({count}, 28, 28)")
    if labels.shape != (count,):
        raise DataError(f"{label_path}: {labels.shape[0]} labels, expected {count}")
    if labels.max() > 9:
        raise DataError(f"{label_path}: label {int(labels.max())} is out of range 0..9")
    return Split(images=images, labels=labels)
