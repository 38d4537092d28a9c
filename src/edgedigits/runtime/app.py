"""The thin shells around ``DigitRecognizer``: ``detect`` over any source and the live ``webcam`` view.

All the work per frame is ``recognize`` (+ ``LabelStabilizer.update`` for video); this module only moves
frames between a source, the recognizer, and the sinks (JSON lines, an output file, a window).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edgedigits.errors import SourceError, UsageError
from edgedigits.runtime.draw import annotate, crops_mosaic
from edgedigits.runtime.recognizer import DigitRecognizer, Recognition
from edgedigits.runtime.segment import POLARITIES
from edgedigits.runtime.sources import IMAGE_SUFFIXES, SourceSpec, open_capture, parse_source, still_frames
from edgedigits.runtime.tracker import LabelStabilizer

VIDEO_CODECS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
WINDOW = "edgedigits"
KEY_CLOSED = 27  # Esc
KEY_QUIT = {ord("q"), KEY_CLOSED}
KEY_PAUSE = ord(" ")
KEY_SNAPSHOT = ord("s")


@dataclass(frozen=True)
class DetectOptions:
    source: str
    model: Path | None = None
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
        if (
            self.output is not None
            and self.output.suffix.lower() not in IMAGE_SUFFIXES | set(VIDEO_CODECS)
            and self.output.suffix
        ):
            raise UsageError(
                f"--output {self.output}: use an image ({', '.join(sorted(IMAGE_SUFFIXES))}), "
                f"a video ({', '.join(VIDEO_CODECS)}) or a folder"
            )
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


def display_available() -> bool:
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class Window:
    """An OpenCV window that turns into a no-op when there is no display to open it on."""

    def __init__(self, wanted: bool, log: Callable[[str], None]) -> None:
        self.enabled = wanted and display_available()
        self.log = log
        if wanted and not self.enabled:
            log("no display found: running headless")

    def show(self, image: np.ndarray, debug: np.ndarray | None = None, wait_ms: int = 1) -> int:
        """Show the frame and return the key pressed (-1 for none or headless)."""
        if not self.enabled:
            return -1
        try:
            cv2.imshow(WINDOW, image)
            if debug is not None:
                cv2.imshow(f"{WINDOW} crops", debug)
            key = cv2.waitKey(wait_ms) & 0xFF
            if cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:  # closed with the mouse: quit
                return KEY_CLOSED
            return key
        except cv2.error as exc:  # an OpenCV build without GUI support
            self.enabled = False
            self.log(f"cannot open a window ({str(exc).strip().splitlines()[-1]}): running headless")
            return -1

    def close(self) -> None:
        if self.enabled:
            cv2.destroyAllWindows()


def frame_record(index: int, result: Recognition, ms: float, name: str | None = None) -> dict:
    return {"frame": index} | ({"source": name} if name else {}) | result.to_json() | {"ms": round(ms, 3)}


def run_detect(
    opts: DetectOptions,
    emit: Callable[[str], None] = print,
    log: Callable[[str], None] = lambda s: print(s, file=sys.stderr),
) -> Summary:
    spec = parse_source(opts.source)
    recognizer = DigitRecognizer(opts.model, polarity=opts.polarity)
    window = Window(opts.display, log)
    try:
        if spec.is_video:
            return _run_video(spec, recognizer, opts, window, emit, log)
        return _run_stills(spec, recognizer, opts, window, emit)
    finally:
        window.close()


def _report(
    i: int, result: Recognition, ms: float, opts: DetectOptions, emit, name: str | None = None
) -> None:
    if opts.json_lines:
        emit(json.dumps(frame_record(i, result, ms, name)))
    elif opts.per_frame_lines:
        numbers = " ".join(line.text for line in result.lines) or "-"
        emit(f"{name or f'frame {i}'}: {numbers}  ({len(result.digits)} digits, {ms:.1f} ms)")


def _run_stills(spec: SourceSpec, recognizer, opts: DetectOptions, window: Window, emit) -> Summary:
    summary = Summary()
    folder_out = opts.output is not None and (spec.kind == "folder" or not opts.output.suffix)
    if spec.kind == "folder" and opts.output is not None:
        if opts.output.suffix:
            raise UsageError(f"--output {opts.output}: a folder of images needs an output folder, not a file")
        if opts.output.resolve() == Path(spec.target).resolve():
            raise UsageError(
                f"--output {opts.output} is the source folder; the input images would be overwritten"
            )
    if folder_out:
        opts.output.mkdir(parents=True, exist_ok=True)
    for i, (name, frame) in enumerate(still_frames(spec)):
        t0 = time.perf_counter()
        result = recognizer.recognize(frame)
        ms = (time.perf_counter() - t0) * 1e3
        summary.add(result, ms)
        _report(i, result, ms, opts, emit, name)
        view = annotate(frame, result)
        if opts.output is not None:
            target = opts.output / name if folder_out else opts.output
            if not cv2.imwrite(str(target), view):
                raise SourceError(f"cannot write {target}")
        if window.show(view, crops_mosaic(result.crops) if opts.debug else None, wait_ms=0) in KEY_QUIT:
            summary.ended = "quit"
            break
        if opts.max_frames and summary.frames >= opts.max_frames:
            break
    return summary


def _run_video(spec: SourceSpec, recognizer, opts: DetectOptions, window: Window, emit, log) -> Summary:
    capture = open_capture(spec)
    stabilizer = LabelStabilizer(window=opts.stabilize_window)
    writer = None
    summary = Summary()
    fps_avg = None
    last = time.perf_counter()
    frames = capture.frames()
    try:
        for i, frame in enumerate(frames):
            t0 = time.perf_counter()
            result = stabilizer.update(recognizer.recognize(frame))
            ms = (time.perf_counter() - t0) * 1e3
            summary.add(result, ms)
            now = time.perf_counter()
            fps_avg = (
                1 / max(now - last, 1e-6) if fps_avg is None else 0.9 * fps_avg + 0.1 / max(now - last, 1e-6)
            )
            last = now
            _report(i, result, ms, opts, emit)
            view = annotate(frame, result, fps=fps_avg)
            if opts.output is not None:
                writer = writer or _open_writer(opts.output, view, capture.fps)
                writer.write(view)
            key = window.show(view, crops_mosaic(result.crops) if opts.debug else None)
            if _handle_key(key, window, view, i, opts, summary, log):
                summary.ended = "quit"
                return summary
            if opts.max_frames and summary.frames >= opts.max_frames:
                summary.ended = f"stopped after {opts.max_frames} frames"
                return summary
        if capture.dropped:
            summary.ended = "the stream ended or dropped a frame"
        return summary
    finally:
        frames.close()  # releases the capture even when we stop early
        if writer is not None:
            writer.release()


def _handle_key(
    key: int, window: Window, view: np.ndarray, index: int, opts: DetectOptions, summary: Summary, log
) -> bool:
    """Act on a key of the live view; True means quit. Space pauses until space again (or q/Esc)."""
    while True:
        if key in KEY_QUIT:
            return True
        if key == KEY_SNAPSHOT:
            path = opts.snapshot_dir / f"snapshot_{time.strftime('%Y%m%d_%H%M%S')}_{index}.png"
            if not cv2.imwrite(str(path), view):
                raise SourceError(f"cannot write snapshot {path}")
            summary.snapshots.append(str(path))
            log(f"saved {path}")
            return False
        if key != KEY_PAUSE or not window.enabled:
            return False
        key = -1
        while key not in KEY_QUIT | {KEY_PAUSE, KEY_SNAPSHOT}:
            if not window.enabled:  # the window went away while paused
                return False
            key = window.show(view, wait_ms=50)
        if key == KEY_PAUSE:
            return False


def _open_writer(path: Path, view: np.ndarray, fps: float) -> cv2.VideoWriter:
    codec = VIDEO_CODECS.get(path.suffix.lower())
    if codec is None:
        raise UsageError(f"--output {path}: a video source needs a video file ({', '.join(VIDEO_CODECS)})")
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (view.shape[1], view.shape[0]))
    if not writer.isOpened():
        raise SourceError(f"cannot write video {path} with codec {codec}")
    return writer
