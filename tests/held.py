"""Commands held at a known point (``hold/sitecustomize.py``) for the tests that signal them: the test
waits for the process to say it is held, an event, not for a guessed time, and what it races cannot end
on its own before the signal comes."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

HOLD_DIR = Path(__file__).resolve().parent / "hold"
SAFETY_S = 600  # only for a run that hangs; the events come in seconds


class Held:
    """``edgedigits ARGS`` in its own session, held at ``hold`` (``train:EPOCH:STEP`` or ``export:N``)."""

    def __init__(self, *args: str, hold: str) -> None:
        path = os.pathsep.join(p for p in (str(HOLD_DIR), os.environ.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edgedigits", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ | {"EDGEDIGITS_TEST_HOLD": hold, "PYTHONPATH": path},
            start_new_session=True,  # the test's Ctrl-C goes to its group; cleanup kills all of it
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        self._stdout: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stderr, self._stderr, True), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stdout, self._stdout, False), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream, into: list[str], events: bool) -> None:
        for line in stream:
            into.append(line)
            if events:
                self._lines.put(line)
        if events:
            self._lines.put(None)

    def wait_until_held(self, timeout: float = SAFETY_S) -> str:
        """Block until a process of the command says "held at ..." (returned); fail if it ends first."""
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"not held within {timeout}s:\n{''.join(self._stderr)}") from None
            if line is None:
                self.proc.wait()
                raise AssertionError(
                    f"ended (exit {self.proc.returncode}) before it was held:\n{''.join(self._stderr)}"
                )
            if line.startswith("held at "):
                return line.strip()

    def signal_group(self, sig: int) -> None:
        """What a terminal's Ctrl-C does: every process of the command's group gets ``sig``."""
        os.killpg(self.proc.pid, sig)

    def finish(self, timeout: float = SAFETY_S) -> tuple[int, str, str]:
        """(exit code, stdout, stderr) once the command has ended."""
        self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=timeout)
        return self.proc.returncode, "".join(self._stdout), "".join(self._stderr)

    def __enter__(self) -> Held:
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:  # a failed test: leave no held process behind
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
