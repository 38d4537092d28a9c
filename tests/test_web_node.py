"""The browser reader's JavaScript on its own: its JSDoc types checked by TypeScript (strict) and its
unit tests run by node (tests/web/*.test.mjs)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import REPO


def _run(*cmd: str) -> subprocess.CompletedProcess:
    if shutil.which(cmd[0]) is None:
        pytest.fail(f"{cmd[0]} is not on PATH: the browser reader's checks need Node.js (>= 20)")
    if not (REPO / "node_modules" / "typescript").is_dir():
        pytest.fail("node_modules is missing: run `npm ci` in the checkout")
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)


def test_the_javascript_type_checks():
    result = _run("node", "node_modules/typescript/bin/tsc", "-p", "jsconfig.json")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_node_unit_tests_pass():
    tests = sorted(str(p.relative_to(REPO)) for p in (REPO / "tests" / "web").glob("*.test.mjs"))
    assert len(tests) >= 3, tests
    result = _run("node", "--test", *tests)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout
