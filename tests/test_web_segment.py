"""The browser segmenter (src/edgedigits/web/reader/segment.js) against runtime/segment.py, on generated
pages of the tune and the held-out style: tools/web_cases.py writes the Python masks and boxes, and
tests/web/parity_segment.mjs runs the JS port on the same frames. segment.js repeats OpenCV's borders,
anchors and rounding, so the masks should be Python's; a box counts as found at IoU >= 0.9."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess

import cv2
import numpy as np
import pytest

from conftest import REPO

KINDS = ["notebook", "clutter", "form", "blank", "hands", "pencil", "column"]
JUDGED = ["notebook", "clutter", "form", "blank"]  # the pages the figures below are promised for


def _web_cases():
    spec = importlib.util.spec_from_file_location("web_cases", REPO / "tools" / "web_cases.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _node(*args: str) -> subprocess.CompletedProcess:
    if shutil.which("node") is None:
        pytest.skip("needs node")
    return subprocess.run(["node", *args], cwd=REPO, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module", params=["tune", "heldout"])
def parity(request, tmp_path_factory, data_dir) -> dict:
    out = tmp_path_factory.mktemp(f"web_segment_{request.param}")
    _web_cases().write_cases(out, KINDS, 2, request.param)
    run = _node("tests/web/parity_segment.mjs", str(out))
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_masks_are_pythons(parity):
    total = parity["total"]
    assert total["cases"] == 2 * len(KINDS)
    assert total["ink"] >= 0.999, total
    assert total["clean"] >= 0.999 and total["clean_chain"] >= 0.999, total


def test_masks_and_boxes_are_pythons_bit_for_bit(parity):
    # what the port reaches with this OpenCV: a threshold off by one grey level, or a rule's centre
    # rounded half up instead of numpy's half to even, shows here and nowhere above
    total = parity["total"]
    assert (total["ink"], total["clean"], total["clean_chain"]) == (1, 1, 1), total
    assert all(total[key]["same"] == 1 for key in ("boxes", "boxes_chain", "cut", "cut_chain")), total


@pytest.mark.parametrize("kind", JUDGED)
def test_boxes_are_pythons(parity, kind):
    figures = parity["kinds"][kind]
    for key in ("boxes", "boxes_chain", "cut", "cut_chain"):
        assert figures[key]["py_matched"] >= 0.99 and figures[key]["js_matched"] >= 0.99, (key, figures)
    assert kind == "blank" or figures["boxes"]["py"] >= 20, figures  # pages with something to find


def test_gray_is_opencvs(tmp_path):
    rgba = np.random.default_rng(0).integers(0, 256, (1, 65536, 4), dtype=np.uint8)
    (tmp_path / "rgba.raw").write_bytes(rgba.tobytes())
    script = (
        "import { readFileSync } from 'node:fs';"
        "import { toGrayRGBA } from './src/edgedigits/web/reader/segment.js';"
        f"const rgba = readFileSync({json.dumps(str(tmp_path / 'rgba.raw'))});"
        "process.stdout.write(JSON.stringify(Array.from(toGrayRGBA(rgba, 65536, 1).data)));"
    )
    run = _node("--input-type=module", "-e", script)
    assert run.returncode == 0, run.stderr
    gray = np.array(json.loads(run.stdout), np.uint8)
    assert np.array_equal(gray, cv2.cvtColor(rgba, cv2.COLOR_RGBA2GRAY)[0])
    assert np.array_equal(gray, cv2.cvtColor(np.ascontiguousarray(rgba[:, :, 2::-1]), cv2.COLOR_BGR2GRAY)[0])
