"""Outputs that survive a kill or a power cut: video in finalized segments, images and JSON lines that
are either complete or absent.

An MP4 is unplayable until it is closed (its index, the moov atom, is written last), so a recording is
cut into segments: the open one is written under a hidden temporary name (``.clip_00003.partial.mp4``:
the container is still chosen by the suffix) and renamed to ``clip_00003.mp4`` only once it is closed
and flushed to disk. A SIGKILL loses at most the open segment; the next run with the same ``--output``
removes such leftovers and numbers its segments after the highest one there, never overwriting.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from edgedigits.core.errors import SourceError
from edgedigits.core.files import write_bytes_atomic

VIDEO_CODECS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
PARTIAL = ".partial"


def segment_path(path: Path, index: int | None) -> Path:
    """The finished name: ``clip_00003.mp4`` (``path`` itself when the recording is one file)."""
    return path if index is None else path.with_name(f"{path.stem}_{index:05d}{path.suffix}")


def partial_path(path: Path, index: int | None) -> Path:
    """The name while writing: hidden, marked partial, with the real suffix last for the container."""
    final = segment_path(path, index)
    return final.with_name(f".{final.stem}{PARTIAL}{final.suffix}")


def _matching(path: Path, pattern: str) -> list[tuple[re.Match, Path]]:
    if not path.parent.is_dir():
        return []
    regex = re.compile(pattern)
    found = ((regex.fullmatch(p.name), p) for p in path.parent.iterdir())
    return [(m, p) for m, p in found if m]


def _numbered(path: Path) -> list[tuple[int, Path]]:
    stem, suffix = re.escape(path.stem), re.escape(path.suffix)
    return sorted((int(m[1]), p) for m, p in _matching(path, rf"{stem}_(\d{{5,}}){suffix}"))


def finished_segments(path: Path) -> list[Path]:
    """This output's closed segments, in recording order."""
    return [p for _, p in _numbered(path)]


def stale_partials(path: Path) -> list[Path]:
    """Temporary files of this output left by a killed run (one file or segments)."""
    stem, suffix = re.escape(path.stem), re.escape(path.suffix)
    return sorted(p for _, p in _matching(path, rf"\.{stem}(_\d{{5,}})?{re.escape(PARTIAL)}{suffix}"))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SegmentedVideo:
    """A video recording in segments of ``seconds`` (0: one file). Segment length counts frames
    (``fps * seconds``) for a video file, so the cut is the same on every run, and wall time for a live
    source, whose frames come as fast as the camera sends them. The writer opens on the first frame
    (the size comes from the frames); ``end_segment`` closes the open one early, e.g. when a stream
    drops, so an outage never keeps a segment open.

    A live source's nominal rate is often not what arrives (an MJPEG camera says 25 and sends 15), and a
    segment labelled 25 fps plays 60 s in 36 s; so each live segment after the first is labelled with
    the rate the previous one actually received."""

    def __init__(
        self,
        path: Path,
        seconds: float,
        by_frames: bool,
        log: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path, self.seconds, self.by_frames, self.clock = path, seconds, by_frames, clock
        path.parent.mkdir(parents=True, exist_ok=True)
        stale = stale_partials(path)
        for leftover in stale:
            leftover.unlink(missing_ok=True)
        if stale:
            log(f"removed {len(stale)} unfinished recording(s) left by a killed run: {stale[0].name}")
        numbered = _numbered(path)
        self.next_index = numbered[-1][0] + 1 if numbered else 0
        self.closed: list[Path] = []
        self.writer: cv2.VideoWriter | None = None
        self.index: int | None = None
        self.frames = 0  # in the open segment
        self.opened_at = 0.0
        self.shape: tuple[int, ...] = ()
        self.measured_fps: float | None = None  # live: frames per second the last segment received

    def write(self, view: np.ndarray, fps: float) -> None:
        # a writer drops frames of another size without a word: a new size starts a new segment
        if self.writer is not None and (self._due(fps) or view.shape != self.shape):
            self.end_segment()
        if self.writer is None:
            self._open(view, fps)
        self.writer.write(view)
        self.frames += 1

    def _due(self, fps: float) -> bool:
        if not self.seconds:
            return False
        if self.by_frames:
            return self.frames >= max(1, round(fps * self.seconds))
        return self.clock() - self.opened_at >= self.seconds

    def _open(self, view: np.ndarray, fps: float) -> None:
        self.index = self.next_index if self.seconds else None
        target = partial_path(self.path, self.index)
        codec = VIDEO_CODECS[self.path.suffix.lower()]
        size = (view.shape[1], view.shape[0])
        if not self.by_frames and self.measured_fps is not None:
            fps = self.measured_fps
        self.writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*codec), fps, size)
        if not self.writer.isOpened():
            self.writer = None
            raise SourceError(f"cannot write video {target} with codec {codec}")
        self.frames, self.opened_at, self.shape = 0, self.clock(), view.shape

    def end_segment(self) -> None:
        """Close the open segment (if any) as a playable file: release, flush to disk, rename."""
        if self.writer is None:
            return
        elapsed = self.clock() - self.opened_at
        if not self.by_frames and self.frames >= 2 and elapsed >= 1.0:
            self.measured_fps = self.frames / elapsed
        self.writer.release()
        self.writer = None
        partial, final = partial_path(self.path, self.index), segment_path(self.path, self.index)
        _fsync(partial)
        os.replace(partial, final)
        _fsync(final.parent)
        self.closed.append(final)
        if self.index is not None:
            self.next_index = self.index + 1


def write_image_atomic(target: Path, view: np.ndarray) -> None:
    """Encode by the target's suffix, then write beside it and rename: a kill leaves the old file or
    the new one, never half an image."""
    ok, data = cv2.imencode(target.suffix, view)
    if not ok:
        raise SourceError(f"cannot write {target}")
    write_bytes_atomic(target, data.tobytes())


class JsonLines:
    """``--jsonl``: one JSON object per frame, appended. Each line is one ``os.write`` of the whole line
    on an O_APPEND file (no user-space buffer), so a kill leaves complete lines; a line cut short by a
    power cut (or one longer than a page cut by a kill) is dropped by the next run before it appends.
    Lines are in the page cache at once and on disk at close; a power cut can lose the last seconds."""

    def __init__(self, path: Path, log: Callable[[str], None]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
        torn = self._drop_torn_tail()
        if torn:
            log(f"--jsonl {path}: dropped an unfinished last line ({torn} bytes) left by a killed run")

    def _drop_torn_tail(self) -> int:
        size = os.fstat(self.fd).st_size
        end = size
        while end > 0:
            start = max(0, end - (1 << 16))
            chunk = os.pread(self.fd, end - start, start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                end = start + newline + 1
                break
            end = start
        if end < size:
            os.ftruncate(self.fd, end)
        return size - end

    def write(self, record: dict) -> None:
        data = (json.dumps(record) + "\n").encode()
        while data:
            data = data[os.write(self.fd, data) :]

    def close(self) -> None:
        os.fsync(self.fd)
        os.close(self.fd)
