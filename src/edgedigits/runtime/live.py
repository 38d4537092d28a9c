"""Running unattended: sources that come back (reconnect with capped exponential backoff) and signals
that stop the frame loop between frames (the handler only sets a flag).

Nothing here reads digits or writes files; ``app`` moves frames, this module only decides when there
are frames to move and when to stop.
"""

from __future__ import annotations

import itertools
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from edgedigits.core.errors import SourceError, UsageError
from edgedigits.runtime.sources import Capture, SourceSpec, describe, open_capture

LIVE_KINDS = ("camera", "stream")
SIGNAL_EXIT_CODES = {"SIGTERM": 0, "SIGINT": 130}  # a service manager's stop is a success; Ctrl-C as a shell


@dataclass(frozen=True)
class ReconnectOptions:
    """When frames stop, reopen the source: waits ``first_delay_s``, doubling up to ``max_delay_s``;
    gives up after ``timeout_s`` without a frame (None: never). ``enabled`` None means on for cameras
    and streams and off for video files, which end instead. The open and read timeouts bound how long
    one attempt, and noticing a source that went quiet, can take (FFmpeg honours both for streams; a
    V4L2 camera only a read timeout, in whole seconds)."""

    enabled: bool | None = None
    timeout_s: float | None = None
    first_delay_s: float = 0.5
    max_delay_s: float = 8.0
    open_timeout_s: float = 5.0
    read_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if self.timeout_s is not None and not (self.timeout_s > 0 and math.isfinite(self.timeout_s)):
            raise UsageError(f"--reconnect-timeout must be a number of seconds > 0, got {self.timeout_s}")
        if not 0 < self.first_delay_s <= self.max_delay_s:
            raise UsageError(
                f"reconnect delays need 0 < first ({self.first_delay_s}) <= max ({self.max_delay_s})"
            )
        if self.open_timeout_s <= 0 or self.read_timeout_s <= 0:
            raise UsageError("stream open and read timeouts must be > 0 seconds")

    def applies_to(self, spec: SourceSpec) -> bool:
        """Whether this source reconnects; asking a file or image to reconnect is a usage error."""
        if self.enabled and spec.kind not in LIVE_KINDS:
            raise UsageError(
                f"--reconnect: only cameras and streams reconnect, not {describe(spec)} "
                "(leave --reconnect out for files)"
            )
        if self.timeout_s is not None and (self.enabled is False or spec.kind not in LIVE_KINDS):
            raise UsageError("--reconnect-timeout needs a camera or stream that reconnects")
        return spec.kind in LIVE_KINDS if self.enabled is None else self.enabled


def backoff_delay(attempt: int, first_s: float, max_s: float) -> float:
    """Seconds to wait before reconnect attempt ``attempt`` (1, 2, ...): first_s, doubling, capped at
    max_s. One client per source, so no jitter."""
    return min(max_s, first_s * 2.0 ** min(attempt - 1, 60))


class StopSignals:
    """SIGTERM and SIGINT set a flag that the frame loop checks between frames, so the current frame is
    finished and the open recording closed as a playable file. A second Ctrl-C while stopping raises
    KeyboardInterrupt at once (a read can block for the stream's read timeout). Outside the main thread,
    where Python cannot install handlers, signals keep their usual effect."""

    def __init__(self) -> None:
        self.received: str | None = None  # "SIGTERM" or "SIGINT"
        self._event = threading.Event()
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *_) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame) -> None:
        if self.received == "SIGINT" and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = self.received or signal.Signals(signum).name
        self._event.set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True as soon as a stop signal came."""
        return self._event.wait(seconds)

    @property
    def exit_code(self) -> int:
        return SIGNAL_EXIT_CODES.get(self.received or "", 0)


class Feed:
    """The frames of a video source, across reconnects. Yields None once when frames stop and a
    reconnect begins (the loop closes its open recording segment and forgets tracks there), then the
    frames after it, so frame numbers stay monotonic. The first open must succeed: a wrong URL or camera
    index is an error at once, not a wait.

    After the last frame, ``ended`` says why and ``failure`` holds the error when the source did not come
    back within the timeout."""

    def __init__(
        self,
        spec: SourceSpec,
        options: ReconnectOptions,
        stop: StopSignals,
        log: Callable[[str], None],
        opener: Callable[..., Capture] = open_capture,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec, self.options, self.stop, self.log = spec, options, stop, log
        self.reconnect = options.applies_to(spec)
        self.opener, self.clock = opener, clock
        self.capture = self._open()
        self.reconnects = 0
        self.ended = "end of input"
        self.failure: SourceError | None = None

    def _open(self) -> Capture:
        return self.opener(
            self.spec, open_timeout_s=self.options.open_timeout_s, read_timeout_s=self.options.read_timeout_s
        )

    def frames(self) -> Iterator[np.ndarray | None]:
        read = 0
        try:
            while True:
                frame = self.capture.read()
                if frame is not None:
                    read += 1
                    yield frame
                    continue
                if read == 0:
                    raise SourceError(f"{describe(self.spec)}: opened but no frame could be read")
                if not self.reconnect:
                    total = self.capture.frame_count
                    if total is None or read < total:
                        self.ended = "the stream ended or dropped a frame"
                    return
                yield None
                frame = self._come_back()
                if frame is None:
                    return
                yield frame
        finally:
            self.capture.release()

    def _come_back(self) -> np.ndarray | None:
        """Reopen until a frame is read (returned), a stop signal comes or the timeout passes (None)."""
        self.capture.release()
        lost = self.clock()
        name = describe(self.spec)
        self.log(f"{name}: frames stopped; reconnecting")
        for attempt in itertools.count(1):
            delay = backoff_delay(attempt, self.options.first_delay_s, self.options.max_delay_s)
            if self.options.timeout_s is not None:
                delay = min(delay, max(0.0, lost + self.options.timeout_s - self.clock()))
            if self.stop.wait(delay):
                self.ended = "stopped while reconnecting"
                return None
            frame, why = self._attempt()
            if frame is not None:
                self.reconnects += 1
                self.log(f"{name}: back after {self.clock() - lost:.1f} s ({attempt} attempt(s))")
                return frame
            waited = self.clock() - lost
            if self.options.timeout_s is not None and waited >= self.options.timeout_s:
                self.failure = SourceError(
                    f"{name} did not come back within {self.options.timeout_s:g} s ({attempt} attempt(s), "
                    f"last: {why}); giving up"
                )
                self.ended = "source lost"
                return None
            self.log(f"{name}: reconnect attempt {attempt} failed after {waited:.1f} s ({why})")

    def _attempt(self) -> tuple[np.ndarray | None, str]:
        try:
            capture = self._open()
        except SourceError:
            return None, "cannot open"
        frame = capture.read()
        if frame is None:
            capture.release()
            return None, "opened but no frame came"
        self.capture = capture
        return frame, ""
