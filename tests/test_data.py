import gzip
import shutil

import numpy as np
import pytest

from conftest import cli
from edgedigits.core import data
from edgedigits.core.errors import DataError

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.parametrize(("split", "counts"), [("train", TRAIN_COUNTS), ("test", TEST_COUNTS)])
def test_real_files_shapes_and_label_histogram(data_dir, split, counts):
    s = data.load_split(split, data_dir)
    assert s.images.shape == (sum(counts), 28, 28)
    assert s.images.dtype == np.uint8 and s.labels.dtype == np.uint8
    assert np.bincount(s.labels, minlength=10).tolist() == counts
    assert s.images.max() == 255 and s.images.min() == 0


def _fake_root(tmp_path, data_dir, mutate=None, gz=False):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        blob = (data_dir / "MNIST" / "raw" / name).read_bytes()
        if mutate and name.startswith("t10k-images"):
            blob = mutate(blob)
        if gz:
            (raw / f"{name}.gz").write_bytes(gzip.compress(blob, compresslevel=1))
        else:
            (raw / name).write_bytes(blob)
    return tmp_path


def test_gzipped_files_read_the_same(tmp_path, data_dir):
    root = _fake_root(tmp_path, data_dir, gz=True)
    a, b = data.load_split("test", root), data.load_split("test", data_dir)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b[: len(b) // 2], "truncated"),
        (lambda b: b + b"\0" * 7, "trailing bytes"),
        (lambda b: b"\0\0\x08\x01" + b[4:], "magic number"),
        (lambda b: b[:2], "too short"),
    ],
)
def test_corrupt_or_truncated_files_are_clear_errors(tmp_path, data_dir, mutate, message):
    root = _fake_root(tmp_path, data_dir, mutate=mutate)
    with pytest.raises(DataError, match=message):
        data.load_split("test", root, allow_download=False)


def test_corrupt_gzip_is_a_data_error(tmp_path, data_dir):
    root = _fake_root(tmp_path, data_dir, gz=True)
    (root / "MNIST/raw/t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b\x08garbage")
    with pytest.raises(DataError, match="cannot read"):
        data.load_split("test", root, allow_download=False)


def test_root_resolution_order(tmp_path, monkeypatch):
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "env"))
    assert data.resolve_root(tmp_path / "flag") == tmp_path / "flag"
    assert data.resolve_root(None) == tmp_path / "env"
    monkeypatch.delenv(data.ENV_VAR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data.resolve_root(None) == tmp_path / "cache" / "edgedigits" / "data"


def test_missing_data_offline_is_one_line_without_traceback(tmp_path, monkeypatch):
    import urllib.error

    import torchvision.datasets

    def offline(*_args, **_kwargs):  # what torchvision raises with no network, whatever the machine has
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    empty = tmp_path / "nowhere"
    proc = cli("train", "--data-dir", str(empty), "--out", str(tmp_path / "o"))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"error: MNIST not found in {empty / 'MNIST' / 'raw'} (looked for "
        "train-images-idx3-ubyte/train-labels-idx1-ubyte, t10k-images-idx3-ubyte/t10k-labels-idx1-ubyte, "
        "raw or .gz) and the download failed (URLError: <urlopen error [Errno -3] Temporary failure in name "
        "resolution>); copy the four IDX files there, or point --data-dir / $EDGEDIGITS_DATA at a folder "
        "holding MNIST/raw/"
    ]
    assert not (tmp_path / "o" / "mnist_mlp.pt").exists()


def test_reading_never_writes_into_the_data_folder(tmp_path, data_dir):
    root = tmp_path / "ro"
    shutil.copytree(data_dir / "MNIST", root / "MNIST")
    before = sorted(p.name for p in (root / "MNIST/raw").iterdir())
    (root / "MNIST/raw").chmod(0o555)
    try:
        data.load_split("test", root)
        assert sorted(p.name for p in (root / "MNIST/raw").iterdir()) == before
    finally:
        (root / "MNIST/raw").chmod(0o755)
