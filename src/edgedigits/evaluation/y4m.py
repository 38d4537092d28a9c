"""Frames as a YUV4MPEG2 (.y4m) file: what Chromium's fake camera plays
(``--use-file-for-fake-video-capture=FILE.y4m``), looping, for the browser reader's tests and pictures."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np


def write_y4m(path: Path, frames: Iterable[np.ndarray], fps: int = 15) -> int:
    """Write BGR uint8 frames (even width and height, all the same size) as 4:2:0; returns the count."""
    count = 0
    with open(path, "wb") as out:
        for frame in frames:
            h, w = frame.shape[:2]
            if count == 0:
                if w % 2 or h % 2:
                    raise ValueError(f"4:2:0 needs an even frame size, got {w}x{h}")
                out.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
            count += 1
    return count
