"""The thin shells around ``DigitRecognizer``: ``detect`` over any source and the live ``webcam`` view.

All the work per frame is ``recognize`` (+ ``LabelStabilizer.update`` for video); this module only moves
frames between a source, the recognizer, and the sinks (JSON lines, an output file, a window). Stills and
video go through the same ``FrameStep``, so they report, draw and write alike; where ``--output`` may go
is decided once, by ``check_output``, before any frame is read. Reconnecting and stopping on a signal
are ``live``'s; files that survive a kill are ``recording``'s.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import numpy as np

from edgedigits.core.choices import Polarity, check_polarity
from edgedigits.core.errors import SourceError, UsageError
from edgedigits.runtime.backends import check_backend
from edgedigits.runtime.draw import annotate, crops_panel
from edgedigits.runtime.live import LIVE_KINDS, Feed, ReconnectOptions, StopSignals
from edgedigits.runtime.recognizer import DigitRecognizer, Recognition
from edgedigits.runtime.recording import VIDEO_CODECS, JsonLines, SegmentedVideo, write_image_atomic
from edgedigits.runtime.sources import IMAGE_SUFFIXES, Capture, SourceSpec, parse_source, still_frames
from edgedigits.runtime.tracker import LabelStabilizer
from edgedigits.runtime.window import KEY_CLOSED, Window, frame_wait_ms

LIVE_SEGMENT_SECONDS = 60.0  # --segment-seconds for cameras and streams unless asked otherwise
KEY_QUIT = {ord("q"), KEY_CLOSED}
KEY_PAUSE = ord(" ")
KEY_SNAPSHOT = ord("s")


@dataclass(frozen=True)
class DetectOptions:
    source: str
    model: Path | None = None
    backend: str = "onnxruntime"
    polarity: str = Polarity.DARK_ON_LIGHT
    json_lines: bool = False
    per_frame_lines: bool = True  # a text line per frame when not --json (the live view keeps quiet)
    output: Path | None = None
    display: bool = True
    debug: bool = False
    stabilize_window: int = 7
    snapshot_dir: Path = Path(".")
    max_frames: int | None = None
    jsonl: Path | None = None  # also append the JSON lines here (a service's record)
    segment_seconds: float | None = None  # None: 60 for cameras and streams, one file for video files
    reconnect: ReconnectOptions = ReconnectOptions()

    def __post_init__(self) -> None:
        check_backend(self.backend)
        check_polarity(self.polarity)
        if self.stabilize_window < 1:
            raise UsageError(f"--stabilize must be >= 1, got {self.stabilize_window}")
        if self.max_frames is not None and self.max_frames < 1:
            raise UsageError(f"--max-frames must be >= 1, got {self.max_frames}")
        if self.segment_seconds is not None and not (
            self.segment_seconds >= 0 and math.isfinite(self.segment_seconds)
        ):
            raise UsageError(f"--segment-seconds must be >= 0 (0: one file), got {self.segment_seconds}")
        if self.jsonl is not None and self.jsonl.is_dir():
            raise UsageError(f"--jsonl {self.jsonl} is a folder; give a file to append the lines to")


@dataclass
class Summary:
    frames: int = 0
    digits: int = 0
    total_ms: float = 0.0
    ended: str = "end of input"
    snapshots: list[str] = field(default_factory=list)
    reconnects: int = 0
    segments: int = 0  # video segments closed
    exit_code: int = 0  # 0, 130 after Ctrl-C, or failure's code
    failure: SourceError | None = None  # the source did not come back in time

    def add(self, result: Recognition, ms: float) -> None:
        self.frames += 1
        self.digits += len(result.digits)
        self.total_ms += ms

    def line(self) -> str:
        mean = self.total_ms / self.frames if self.frames else 0.0
        extra = f"; {self.reconnects} reconnect(s)" if self.reconnects else ""
        extra += f"; {self.segments} segment(s) written" if self.segments else ""
        return (
            f"{self.frames} frame(s), {self.digits} digit(s), {mean:.1f} ms/frame mean; {self.ended}{extra}"
        )


class Output:
    """Where annotated views go: one image file, a folder of images (named as the stills), or a video
    recorded in segments of ``segment_seconds`` (0: one file). Every file appears complete or not at
    all (``recording``)."""

    def __init__(self, path: Path, kind: str, segment_seconds: float = 0.0, by_frames: bool = True) -> None:
        self.path, self.kind = path, kind  # kind: "image", "folder" or "video"
        self.segment_seconds, self.by_frames = segment_seconds, by_frames
        self.video: SegmentedVideo | None = None

    def start(self, log: Callable[[str], None]) -> None:
        """Before the first frame: a video output removes what a killed run left and finds its numbers."""
        if self.kind == "video":
            self.video = SegmentedVideo(self.path, self.segment_seconds, self.by_frames, log)

    def write(self, view: np.ndarray, name: str | None, fps: float | None) -> None:
        """``name``: the still's file name; ``fps``: the video's frame rate (None for stills)."""
        if self.video is not None:
            self.video.write(view, fps)
            return
        target = self.path / name if self.kind == "folder" else self.path
        write_image_atomic(target, view)

    def end_segment(self) -> None:
        if self.video is not None:
            self.video.end_segment()

    @property
    def segments(self) -> int:
        return len(self.video.closed) if self.video is not None and self.segment_seconds else 0

    def close(self) -> None:
        self.end_segment()


def check_output(spec: SourceSpec, path: Path | None, segment_seconds: float | None = None) -> Output | None:
    """The one ``--output`` check: from the source's kind and the path alone, so a wrong choice stops the
    run before any frame is read (or any model loaded). ``segment_seconds`` None: segments of a minute
    for cameras and streams, one file for a video file."""
    if segment_seconds is not None and (path is None or not spec.is_video):
        raise UsageError("--segment-seconds needs a video source and --output with a video file")
    if path is None:
        return None
    suffix = path.suffix.lower()
    if suffix and suffix not in IMAGE_SUFFIXES | set(VIDEO_CODECS):
        raise UsageError(
            f"--output {path}: use an image ({', '.join(sorted(IMAGE_SUFFIXES))}), "
            f"a video ({', '.join(VIDEO_CODECS)}) or a folder"
        )
    if spec.is_video:
        if suffix not in VIDEO_CODECS:
            raise UsageError(
                f"--output {path}: a video source needs a video file ({', '.join(VIDEO_CODECS)})"
            )
        live = spec.kind in LIVE_KINDS
        default = LIVE_SEGMENT_SECONDS if live else 0.0
        return Output(path, "video", default if segment_seconds is None else segment_seconds, not live)
    if spec.kind == "folder":
        if suffix:
            raise UsageError(f"--output {path}: a folder of images needs an output folder, not a file")
        if path.resolve() == Path(spec.target).resolve():
            raise UsageError(f"--output {path} is the source folder; the input images would be overwritten")
        return Output(path, "folder")
    if suffix in VIDEO_CODECS:
        raise UsageError(f"--output {path}: an image source needs an image file or a folder, not a video")
    return Output(path, "image" if suffix else "folder")


def frame_record(
    index: int, result: Recognition, ms: float, name: str | None = None, at: float | None = None
) -> dict:
    """One frame's JSON; ``at`` (seconds since the epoch) is when a live frame was read: a service's
    records outlive its runs, whose frame numbers start at 0 each time."""
    when = (
        {}
        if at is None
        else {"time": datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds")}
    )
    return (
        {"frame": index} | when | ({"source": name} if name else {}) | result.to_json() | {"ms": round(ms, 3)}
    )


class FrameStep:
    """All the work on one frame, the same for stills and video: recognize (video: vote labels over the
    last frames), time, report, annotate, write, show, act on the key. Calling it returns False to stop;
    ``summary.ended`` then says why.

    A still stays on screen until a key is pressed; a video file plays at its own frame rate; a camera or
    stream, and any headless run, go as fast as frames come. A stop signal ends the run after the frame
    in hand."""

    def __init__(
        self,
        opts: DetectOptions,
        recognizer: DigitRecognizer,
        window: Window,
        output: Output | None,
        emit: Callable[[str], None],
        log: Callable[[str], None],
        capture: Capture | None = None,
        *,
        jsonl: JsonLines | None = None,
        stop: StopSignals | None = None,
    ) -> None:
        self.opts, self.recognizer, self.window, self.output = opts, recognizer, window, output
        self.emit, self.log, self.jsonl, self.stop = emit, log, jsonl, stop
        self.summary = Summary()
        self.still = capture is None
        self.video_fps = None if capture is None else capture.fps
        self.paced = capture is not None and capture.spec.kind == "video"
        self.live = capture is not None and capture.spec.kind in LIVE_KINDS
        self.stabilizer = None if capture is None else LabelStabilizer(window=opts.stabilize_window)
        self.shown_fps: float | None = None
        self.crops_view: np.ndarray | None = None  # --debug: this frame's crops window image (headless too)
        self.last_start: float | None = None  # of the previous frame's step, for the FPS shown
        self.shown_at = time.perf_counter()

    def __call__(self, index: int, frame: np.ndarray, name: str | None = None) -> bool:
        t0 = time.perf_counter()
        result = self.recognizer.recognize(frame)
        if self.stabilizer is not None:
            result = self.stabilizer.update(result)
        ms = (time.perf_counter() - t0) * 1e3
        self.summary.add(result, ms)
        self._report(index, result, ms, name)
        view = annotate(frame, result, fps=self._measure_fps(t0), show_rejected=self.opts.debug)
        if self.output is not None:
            self.output.write(view, name, self.video_fps)
        self.crops_view = crops_panel(result.crops, result.digits) if self.opts.debug else None
        key = self.window.show(view, self.crops_view, wait_ms=self._wait_ms())
        self.shown_at = time.perf_counter()
        if self._handle_key(key, view, index):
            self.summary.ended = "quit"
            return False
        if self.opts.max_frames and self.summary.frames >= self.opts.max_frames:
            self.summary.ended = f"stopped after {self.opts.max_frames} frames"
            return False
        return not self.stopped()

    def stopped(self) -> bool:
        """Whether a stop signal came; the summary then says which and carries its exit code."""
        if self.stop is None or self.stop.received is None:
            return False
        self.summary.ended = f"stopped by {self.stop.received}"
        self.summary.exit_code = self.stop.exit_code
        return True

    def gap(self) -> None:
        """Frames stopped and the source is reconnecting: close the open segment (a long outage must not
        keep it unfinished), and start tracks and the FPS meter afresh, since the scene may have moved."""
        if self.output is not None:
            self.output.end_segment()
        self.stabilizer = LabelStabilizer(window=self.opts.stabilize_window)
        self.last_start, self.shown_fps = None, None

    def _report(self, index: int, result: Recognition, ms: float, name: str | None) -> None:
        record = frame_record(index, result, ms, name, time.time() if self.live else None)
        if self.jsonl is not None:
            self.jsonl.write(record)
        if self.opts.json_lines:
            self.emit(json.dumps(record))
        elif self.opts.per_frame_lines:
            numbers = " ".join(line.text for line in result.lines) or "-"
            self.emit(f"{name or f'frame {index}'}: {numbers}  ({len(result.digits)} digits, {ms:.1f} ms)")

    def _measure_fps(self, now: float) -> float | None:
        """Frames per second actually shown (video only, from the second frame), smoothed."""
        previous, self.last_start = self.last_start, now
        if self.still or previous is None:
            return None
        rate = 1 / max(now - previous, 1e-6)
        self.shown_fps = rate if self.shown_fps is None else 0.9 * self.shown_fps + 0.1 * rate
        return self.shown_fps

    def _wait_ms(self) -> int:
        if self.still:
            return 0  # wait for a key
        if self.paced:
            return frame_wait_ms(self.video_fps, time.perf_counter() - self.shown_at)
        return 1

    def _handle_key(self, key: int, view: np.ndarray, index: int) -> bool:
        """Act on a key of the view; True means quit. Space pauses a video until space again (or q/Esc); a
        still is already waiting for a key."""
        while True:
            if key in KEY_QUIT:
                return True
            if key == KEY_SNAPSHOT:
                path = self.opts.snapshot_dir / f"snapshot_{time.strftime('%Y%m%d_%H%M%S')}_{index}.png"
                write_image_atomic(path, view)
                self.summary.snapshots.append(str(path))
                self.log(f"saved {path}")
                return False
            if key != KEY_PAUSE or not self.window.enabled or self.still:
                return False
            key = -1
            while key not in KEY_QUIT | {KEY_PAUSE, KEY_SNAPSHOT}:
                if not self.window.enabled:  # the window went away while paused
                    return False
                key = self.window.show(view, wait_ms=50)
            if key == KEY_PAUSE:
                return False


def run_detect(
    opts: DetectOptions,
    emit: Callable[[str], None] = print,
    log: Callable[[str], None] = lambda s: print(s, file=sys.stderr),
) -> Summary:
    """Run detect to its end: the input's end, ``--max-frames``, q, a stop signal, or a source that did
    not come back (``summary.failure``). Outputs are closed as complete files in every case."""
    spec = parse_source(opts.source)
    output = check_output(spec, opts.output, opts.segment_seconds)
    opts.reconnect.applies_to(spec)  # a usage error before the model loads
    recognizer = DigitRecognizer(opts.model, polarity=opts.polarity, backend=opts.backend)
    window = Window(opts.display, log)
    jsonl = None
    with StopSignals() as stop:
        try:
            jsonl = JsonLines(opts.jsonl, log) if opts.jsonl is not None else None
            if output is not None:
                output.start(log)
            make_step = partial(
                FrameStep, opts, recognizer, window, output, emit, log, jsonl=jsonl, stop=stop
            )
            if spec.is_video:
                summary = _run_video(Feed(spec, opts.reconnect, stop, log), make_step)
            else:
                summary = _run_stills(spec, make_step)
        finally:
            window.close()
            if output is not None:
                output.close()
            if jsonl is not None:
                jsonl.close()
    summary.segments = output.segments if output is not None else 0
    return summary


def _run_stills(spec: SourceSpec, make_step: Callable[[], FrameStep]) -> Summary:
    step = make_step()
    for i, (name, frame) in enumerate(still_frames(spec)):
        if not step(i, frame, name):
            break
    return step.summary


def _run_video(feed: Feed, make_step: Callable[[Capture], FrameStep]) -> Summary:
    step = make_step(feed.capture)
    frames = feed.frames()
    index = 0
    try:
        for frame in frames:
            if frame is None:
                step.gap()
                continue
            if not step(index, frame):
                break
            index += 1
        else:
            if not step.stopped():
                step.summary.ended, step.summary.failure = feed.ended, feed.failure
                step.summary.exit_code = feed.failure.exit_code if feed.failure is not None else 0
    finally:
        frames.close()  # releases the capture even when we stop early
    step.summary.reconnects = feed.reconnects
    return step.summary
