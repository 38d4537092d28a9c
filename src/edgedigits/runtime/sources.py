"""Frame sources: camera index or device, video file, stream URL, image file, or a folder of images.

``cv2.VideoCapture`` fails silently, so every open is checked and every read's return value too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgedigits.errors import SourceError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"})


@dataclass(frozen=True)
class SourceSpec:
    kind: str  # "camera", "video", "stream", "image", "folder"
    target: str | int

    @property
    def is_video(self) -> bool:
        return self.kind in ("camera", "video", "stream")


def parse_source(source: str) -> SourceSpec:
    """Classify a --source value; a missing file or an empty folder is an error here, before any work."""
    if re.fullmatch(r"[0-9]+", source):
        return SourceSpec("camera", int(source))
    if "://" in source:
        return SourceSpec("stream", source)
    path = Path(source)
    if source.startswith("/dev/"):
        if not path.exists():
            raise SourceError(f"camera device {source} does not exist")
        return SourceSpec("camera", source)
    if path.is_dir():
        if not any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()):
            raise SourceError(f"folder {source} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return SourceSpec("folder", source)
    if not path.is_file():
        raise SourceError(f"source {source} is not a camera index, device, stream URL, file or folder")
    return SourceSpec("image" if path.suffix.lower() in IMAGE_SUFFIXES else "video", source)


def read_image(path: str | Path) -> np.ndarray:
    frame = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if frame is None:
        raise SourceError(f"cannot read image {path} (unsupported or corrupt)")
    if frame.dtype == np.uint16:  # 16-bit PNG/TIFF: keep the top 8 bits
        frame = (frame >> 8).astype(np.uint8)
    elif frame.dtype != np.uint8:
        raise SourceError(f"{path}: {frame.dtype} pixels are not supported; save it as an 8 or 16-bit image")
    return frame


@dataclass
class Capture:
    """An opened video source; ``frames()`` ends at the stream's end or at the first failed read."""

    spec: SourceSpec
    cap: cv2.VideoCapture
    dropped: bool = False  # True when a read failed before a known end

    @property
    def fps(self) -> float:
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        return fps if 0 < fps < 1000 else 30.0

    def frames(self) -> Iterator[np.ndarray]:
        total = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT)) if self.spec.kind == "video" else -1
        read = 0
        try:
            while True:
                ok, frame = self.cap.read()
                if not ok or frame is None:
                    self.dropped = total < 0 or read < total
                    if read == 0:
                        raise SourceError(f"{self.spec.target}: opened but no frame could be read")
                    return
                read += 1
                yield frame
        finally:
            self.cap.release()


def open_capture(spec: SourceSpec, buffer_frames: int = 1) -> Capture:
    # OpenCV logs every backend it tried; the one line below says the same, so keep those quiet
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        cap = cv2.VideoCapture(spec.target)
    finally:
        cv2.utils.logging.setLogLevel(previous)
    if not cap.isOpened():
        cap.release()
        what = {"camera": "camera", "stream": "stream", "video": "video file"}[spec.kind]
        raise SourceError(f"cannot open {what} {spec.target}")
    if spec.kind in ("camera", "stream"):  # a small buffer keeps the live view from lagging behind
        cap.set(cv2.CAP_PROP_BUFFERSIZE, buffer_frames)
    return Capture(spec, cap)


def still_frames(spec: SourceSpec) -> Iterator[tuple[str, np.ndarray]]:
    """(name, frame) of an image file or each image of a folder, in name order."""
    if spec.kind == "image":
        yield Path(spec.target).name, read_image(spec.target)
        return
    for path in sorted(Path(spec.target).iterdir()):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            yield path.name, read_image(path)
