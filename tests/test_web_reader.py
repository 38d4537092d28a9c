"""The browser reader's steps after segmentation (src/edgedigits/web/reader/) against the Python reader's,
on generated pages and a hand-held video: tools/web_cases.py writes the Python results, and
tests/web/parity_reader.mjs runs the JS port (onnxruntime-web in node) on the same blobs and per-frame
recognitions. normalize.js repeats OpenCV's and numpy's arithmetic (INTER_AREA, the elliptical dilate,
the contours' lengths, float32 sums), so its crops must be Python's bit for bit."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess

import pytest

from conftest import REPO


def _web_cases():
    spec = importlib.util.spec_from_file_location("web_cases", REPO / "tools" / "web_cases.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def parity(tmp_path_factory, data_dir) -> dict:
    if shutil.which("node") is None or not (REPO / "node_modules" / "onnxruntime-web").is_dir():
        pytest.skip("needs node and `npm ci` (onnxruntime-web) in the checkout")
    out = tmp_path_factory.mktemp("web_reader")
    cases = _web_cases()
    from edgedigits.core import data
    from edgedigits.evaluation.scenes import Inks
    from edgedigits.runtime.recognizer import DigitRecognizer

    inks, reader = Inks(data.load_split("test", data_dir), "tune"), DigitRecognizer()
    cases.write_cases(out, ["notebook", "clutter", "form", "blank", "hands", "words"], 1, inks, reader)
    cases.write_videos(out, ["notebook-pan"], 30, inks, reader)
    run = subprocess.run(
        ["node", "tests/web/parity_reader.mjs", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_crops_are_pythons_bit_for_bit(parity):
    crops = parity["crops"]
    assert crops["n"] > 50
    assert (crops["exact"], crops["max_abs"]) == (crops["n"], 0), crops


def test_the_reader_reads_what_python_reads(parity):
    digits, cases = parity["digits"], parity["cases"]
    assert digits["n"] > 50
    assert digits["agreement"] >= 0.995, digits
    assert digits["confidence_max_abs"] <= 2e-4, digits  # 4-decimal rounding of two runtimes' floats
    n = cases["n"]
    assert (cases["lines_equal"], cases["partial_equal"], cases["rejected_equal"]) == (n, n, n), cases


def test_the_stabilizer_follows_pythons_frame_by_frame(parity):
    videos = parity["videos"]
    assert videos["frames"] == 30
    assert videos["stable_equal"] == videos["shift_equal"] == 30, videos
