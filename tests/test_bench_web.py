"""tools/bench_web.py runs end to end on one page of each kind: every engine's figures are there, the
first load's size is measured, and the browser reads a still alike in a fresh page and a warm one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TESSERACT = REPO / "tools" / "web_bench" / "node_modules" / "tesseract.js"  # `npm ci` in tools/web_bench


@pytest.mark.slow
def test_bench_web_runs(web_export):
    command = [sys.executable, str(REPO / "tools" / "bench_web.py"), "--pages", "1", "--runs", "1"]
    command += ["--models", str(web_export), "--json"]
    if not TESSERACT.is_dir():
        command.append("--no-tesseract")
    else:
        command += ["--psm", "11"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout)
    assert set(out["kinds"]) == {"notebook 640x480", "form 1280x720"}
    for row in out["kinds"].values():
        browser, python = row["browser"], row["python"]
        assert browser["ms_p50"] > 0 and browser["cold_wall_ms_p50"] > 0 and python["ms_p50"] > 0
        assert browser["numbers"] == python["numbers"] > 0
        assert browser["numbers_read_warm"] == browser["numbers_read"]
        if TESSERACT.is_dir():
            assert row["tesseract.js psm 11"]["ms_p50"] > 0
    transfer = out["transfer"]
    paths = {f["path"] for f in transfer["files"]}
    assert {"export/web/index.html", "export/web/mnist_mlp.onnx"} <= paths
    assert 1e6 < transfer["gzip_bytes"] < transfer["raw_bytes"]
