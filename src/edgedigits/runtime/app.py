"""The thin shells around ``DigitRecognizer``: ``detect`` over any source and the live ``webcam`` view.

All the work per frame is ``recognize`` (+ ``LabelStabilizer.update`` for video); this module only moves
frames between a source, the recognizer, and the sinks (JSON lines, an output file, a window). Stills and
video go through the same ``FrameStep``, so they report, draw and write alike; where ``--output`` may go
is decided once, by ``check_output``, before any frame is read.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from edgedigits.errors import SourceError, UsageError
from edgedigits.runtime.backends import BACKENDS
from edgedigits.runtime.draw import annotate, crops_mosaic
from edgedigits.runtime.recognizer import DigitRecognizer, Recognition
from edgedigits.runtime.segment import POLARITIES
from edgedigits.runtime.sources import (
    IMAGE_SUFFIXES,
    Capture,
    SourceSpec,
    open_capture,
    parse_source,
    still_frames,
)
from edgedigits.runtime.tracker import LabelStabilizer
from edgedigits.runtime.window import KEY_CLOSED, Window, frame_wait_ms

VIDEO_CODECS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
KEY_QUIT = {ord("q"), KEY_CLOSED}
KEY_PAUSE = ord(" ")
KEY_SNAPSHOT = ord("s")


@dataclass(frozen=True)
class DetectOptions:
    source: str
    model: Path | None = None
    backend: str = "onnxruntime"
    polarity: str = "dark-on-light"
    json_lines: bool = False
    per_frame_lines: bool = True  # a text line per frame when not --json (the live view keeps quiet)
    output: Path | None = None
    display: bool = True
    debug: bool = False
    stabilize_window: int = 7
    snapshot_dir: Path = Path(".")
    max_frames: int | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise UsageError(f"--backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.polarity not in POLARITIES:
            raise UsageError(f"--polarity must be one of {', '.join(POLARITIES)}, got {self.polarity!r}")
        if self.stabilize_window < 1:
            raise UsageError(f"--stabilize must be >= 1, got {self.stabilize_window}")
        if self.max_frames is not None and self.max_frames < 1:
            raise UsageError(f"--max-frames must be >= 1, got {self.max_frames}")


@dataclass
class Summary:
    frames: int = 0
    digits: int = 0
    total_ms: float = 0.0
    ended: str = "end of input"
    snapshots: list[str] = field(default_factory=list)

    def add(self, result: Recognition, ms: float) -> None:
        self.frames += 1
        self.digits += len(result.digits)
        self.total_ms += ms

    def line(self) -> str:
        mean = self.total_ms / self.frames if self.frames else 0.0
        return f"{self.frames} frame(s), {self.digits} digit(s), {mean:.1f} ms/frame mean; {self.ended}"


class Output:
    """Where annotated views go: one image file, a folder of images (named as the stills), or a video
    file, which opens on the first frame because its size comes from the frames."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path, self.kind = path, kind  # kind: "image", "folder" or "video"
        self.writer: cv2.VideoWriter | None = None

    def write(self, view: np.ndarray, name: str | None, fps: float | None) -> None:
        """``name``: the still's file name; ``fps``: the video's frame rate (None for stills)."""
        if self.kind == "video":
            self.writer = self.writer or _open_writer(self.path, view, fps)
            self.writer.write(view)
            return
        target = self.path / name if self.kind == "folder" else self.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(target), view):
            raise SourceError(f"cannot write {target}")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()


def check_output(spec: SourceSpec, path: Path | None) -> Output | None:
    """The one ``--output`` check: from the source's kind and the path alone, so a wrong choice stops the
    run before any frame is read (or any model loaded)."""
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
        return Output(path, "video")
    if spec.kind == "folder":
        if suffix:
            raise UsageError(f"--output {path}: a folder of images needs an output folder, not a file")
        if path.resolve() == Path(spec.target).resolve():
            raise UsageError(f"--output {path} is the source folder; the input images would be overwritten")
        return Output(path, "folder")
    if suffix in VIDEO_CODECS:
        raise UsageError(f"--output {path}: an image source needs an image file or a folder, not a video")
    return Output(path, "image" if suffix else "folder")


def frame_record(index: int, result: Recognition, ms: float, name: str | None = None) -> dict:
    return {"frame": index} | ({"source": name} if name else {}) | result.to_json() | {"ms": round(ms, 3)}


class FrameStep:
    """All the work on one frame, the same for stills and video: recognize (video: vote labels over the
    last frames), time, report, annotate, write, show, act on the key. Calling it returns False to stop;
    ``summary.ended`` then says why.

    A still stays on screen until a key is pressed; a video file plays at its own frame rate; a camera or
    stream, and any headless run, go as fast as frames come."""

    def __init__(
        self,
        opts: DetectOptions,
        recognizer: DigitRecognizer,
        window: Window,
        output: Output | None,
        emit: Callable[[str], None],
        log: Callable[[str], None],
        capture: Capture | None = None,
    ) -> None:
        self.opts, self.recognizer, self.window, self.output = opts, recognizer, window, output
        self.emit, self.log = emit, log
        self.summary = Summary()
        self.still = capture is None
        self.video_fps = None if capture is None else capture.fps
        self.paced = capture is not None and capture.spec.kind == "video"
        self.stabilizer = None if capture is None else LabelStabilizer(window=opts.stabilize_window)
        self.shown_fps: float | None = None
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
        crops = crops_mosaic(result.crops, result.digits) if self.opts.debug and self.window.enabled else None
        key = self.window.show(view, crops, wait_ms=self._wait_ms())
        self.shown_at = time.perf_counter()
        if self._handle_key(key, view, index):
            self.summary.ended = "quit"
            return False
        if self.opts.max_frames and self.summary.frames >= self.opts.max_frames:
            self.summary.ended = f"stopped after {self.opts.max_frames} frames"
            return False
        return True

    def _report(self, index: int, result: Recognition, ms: float, name: str | None) -> None:
        if self.opts.json_lines:
            self.emit(json.dumps(frame_record(index, result, ms, name)))
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
                if not cv2.imwrite(str(path), view):
                    raise SourceError(f"cannot write snapshot {path}")
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
    spec = parse_source(opts.source)
    output = check_output(spec, opts.output)
    recognizer = DigitRecognizer(opts.model, polarity=opts.polarity, backend=opts.backend)
    window = Window(opts.display, log)
    make_step = partial(FrameStep, opts, recognizer, window, output, emit, log)
    try:
        return _run_video(spec, make_step) if spec.is_video else _run_stills(spec, make_step)
    finally:
        window.close()
        if output is not None:
            output.close()


def _run_stills(spec: SourceSpec, make_step: Callable[[], FrameStep]) -> Summary:
    step = make_step()
    for i, (name, frame) in enumerate(still_frames(spec)):
        if not step(i, frame, name):
            break
    return step.summary


def _run_video(spec: SourceSpec, make_step: Callable[[Capture], FrameStep]) -> Summary:
    capture = open_capture(spec)
    step = make_step(capture)
    frames = capture.frames()
    try:
        for i, frame in enumerate(frames):
            if not step(i, frame):
                return step.summary
    finally:
        frames.close()  # releases the capture even when we stop early
    if capture.dropped:
        step.summary.ended = "the stream ended or dropped a frame"
    return step.summary


def _open_writer(path: Path, view: np.ndarray, fps: float | None) -> cv2.VideoWriter:
    codec = VIDEO_CODECS[path.suffix.lower()]
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (view.shape[1], view.shape[0]))
    if not writer.isOpened():
        raise SourceError(f"cannot write video {path} with codec {codec}")
    return writer
