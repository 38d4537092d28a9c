"""Frame sources: camera index or device, video file, stream URL, image file, or a folder of images.

``cv2.VideoCapture`` fails silently, so every open is checked and every read's return value too.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgedigits.core.errors import SourceError

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
    path, shown = Path(source), redact_url(source)
    if source.startswith("/dev/"):
        if not path.exists():
            raise SourceError(f"camera device {shown} does not exist")
        return SourceSpec("camera", source)
    if path.is_dir():
        if not any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()):
            raise SourceError(f"folder {shown} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return SourceSpec("folder", source)
    if not path.is_file():
        raise SourceError(f"source {shown} is not a camera index, device, stream URL, file or folder")
    return SourceSpec("image" if path.suffix.lower() in IMAGE_SUFFIXES else "video", source)


def read_image(path: str | Path) -> np.ndarray:
    with quiet_opencv():  # a corrupt PNG makes libpng's decoder log a line of its own
        frame = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if frame is None:
        raise SourceError(f"cannot read image {path} (unsupported or corrupt)")
    if frame.dtype == np.uint16:  # 16-bit PNG/TIFF: keep the top 8 bits
        frame = (frame >> 8).astype(np.uint8)
    elif frame.dtype != np.uint8:
        raise SourceError(f"{path}: {frame.dtype} pixels are not supported; save it as an 8 or 16-bit image")
    return frame


@contextlib.contextmanager
def quiet_opencv() -> Iterator[None]:
    """OpenCV logs every backend it tried and every read timeout; our own one line says the same."""
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


@dataclass
class Capture:
    """An opened video source, read one frame at a time; ``read`` returns None at the end or on a failed
    read, and the caller decides whether that ends the run (``live.Feed``)."""

    spec: SourceSpec
    cap: cv2.VideoCapture

    @property
    def fps(self) -> float:
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        return fps if 0 < fps < 1000 else 30.0

    @property
    def frame_count(self) -> int | None:
        """Frames in a video file (None for live sources, which have no end)."""
        return int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT)) if self.spec.kind == "video" else None

    def read(self) -> np.ndarray | None:
        with quiet_opencv():
            ok, frame = self.cap.read()
        return frame if ok else None

    def release(self) -> None:
        self.cap.release()


def open_capture(
    spec: SourceSpec, buffer_frames: int = 1, open_timeout_s: float = 5.0, read_timeout_s: float = 5.0
) -> Capture:
    """Open and check a video source. A stream goes through FFmpeg with open and read timeouts, so a
    network camera that stops sending is noticed within ``read_timeout_s`` instead of FFmpeg's default
    of waiting (almost) forever; a V4L2 camera's read waits as long (whole seconds; OpenCV's default is
    10 s)."""
    # both read once, when OpenCV first loads FFmpeg / first reads a V4L2 camera; a user's own value is
    # kept. FFmpeg's messages ("Stream ends prematurely") would repeat what our one line says.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    os.environ.setdefault("OPENCV_VIDEOIO_V4L_SELECT_TIMEOUT", str(max(1, math.ceil(read_timeout_s))))
    with quiet_opencv():
        if spec.kind == "stream":
            timeouts = [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                round(open_timeout_s * 1000),
                cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                round(read_timeout_s * 1000),
            ]
            cap = cv2.VideoCapture(spec.target, cv2.CAP_FFMPEG, timeouts)
        else:
            cap = cv2.VideoCapture(spec.target)
    if not cap.isOpened():
        cap.release()
        raise SourceError(f"cannot open {describe(spec)}")
    if spec.kind in ("camera", "stream"):  # a small buffer keeps the live view from lagging behind
        cap.set(cv2.CAP_PROP_BUFFERSIZE, buffer_frames)
    return Capture(spec, cap)


# a parameter whose name holds one of these carries a secret (password=, api_key=, access_token=), in
# the query or, as some cameras take it, in the path (rtsp://cam:554/user=admin&password=x&channel=1)
SECRET_PARAMS = ("pass", "pwd", "token", "key", "secret", "auth", "sig", "credential")
_SECRET_PARAM = re.compile(
    rf"([?&;/][^=&;#/?]*(?:{'|'.join(SECRET_PARAMS)})[^=&;#/?]*=)[^&;#]*", flags=re.IGNORECASE
)
REDACTED = "***"


def redact_url(source: str) -> str:
    """``source`` as it may be printed or recorded: a URL's ``user:password@`` becomes ``***@`` and the
    value of a secret-looking parameter (``password=``, ``token=``, ``key=``, ...) ``***``; scheme,
    host, port and path stay, so cameras can still be told apart. Anything without ``scheme://`` (a
    camera index, a device, a file) is returned as it is, unless it starts ``user:password@`` (a URL
    typed without its scheme). The credentials end at the last ``@`` before the first ``/``, so a
    password with an unescaped ``?`` or ``#`` is hidden too."""
    scheme, sep, rest = source.partition("://")
    if not sep:
        scheme, rest = "", source
        if not re.match(r"[^/@\s]*:[^/@\s]*@", rest):
            return source
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = f"{REDACTED}@{authority.rpartition('@')[2]}"
    return scheme + sep + _SECRET_PARAM.sub(rf"\1{REDACTED}", authority + slash + path)


def describe(spec: SourceSpec) -> str:
    """``camera 0``, ``stream http://...``, ``video file clip.mp4``: how messages name a source, with a
    URL's credentials left out (``redact_url``)."""
    what = {"camera": "camera", "stream": "stream", "video": "video file"}.get(spec.kind, spec.kind)
    return f"{what} {redact_url(str(spec.target))}"


def still_frames(spec: SourceSpec) -> Iterator[tuple[str, np.ndarray]]:
    """(name, frame) of an image file or each image of a folder, in name order."""
    if spec.kind == "image":
        yield Path(spec.target).name, read_image(spec.target)
        return
    for path in sorted(Path(spec.target).iterdir()):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            yield path.name, read_image(path)
