"""Training progress as people expect it: on a terminal, rich's bar per epoch with the phase (teacher,
student), images per second and time left; in a log (not a terminal), one line per epoch; under
``--nproc``, only rank 0 says anything."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress


class Progress:
    def __init__(self, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = enabled and self.stream.isatty()
        self._bar: RichProgress | None = None
        self._task = None
        self._images = 0
        self._t0 = 0.0

    def start(self, phase: str, epoch: int, epochs: int, steps: int) -> None:
        if not self.tty:
            return
        self._bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=Console(file=self.stream),
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task(f"{phase} epoch {epoch}/{epochs}", total=steps, loss="-", rate="")
        self._images, self._t0 = 0, time.perf_counter()

    def advance(self, images: int, loss: float | None = None) -> None:
        """One step of ``images`` images; ``loss`` when it is cheap to read (it syncs a GPU)."""
        if self._bar is None:
            return
        self._images += images
        rate = self._images / max(time.perf_counter() - self._t0, 1e-9)
        fields = {"rate": f"{rate:,.0f} img/s"} | ({"loss": f"{loss:.4f}"} if loss is not None else {})
        self._bar.update(self._task, advance=1, **fields)

    def close(self) -> None:
        """Stop a bar that is still drawing (an epoch cut short); the cursor comes back."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def epoch(self, line: str) -> None:
        """The epoch's summary line, the one thing a log keeps."""
        self.close()
        if self.enabled:
            self.stream.write(line + "\n")
            self.stream.flush()
