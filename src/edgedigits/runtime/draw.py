"""Annotated views of a recognition: boxes, labels with confidence, the numbers read, FPS."""

from __future__ import annotations

import cv2
import numpy as np

from edgedigits.runtime.recognizer import Recognition

BOX_COLOR = (0, 200, 0)
LOW_COLOR = (0, 140, 255)  # orange for detections below LOW_CONFIDENCE
LINE_COLOR = (255, 90, 0)
LOW_CONFIDENCE = 0.6
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _bgr(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 1:
        return cv2.cvtColor(frame[:, :, 0], cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return frame.copy()


def annotate(frame: np.ndarray, result: Recognition, fps: float | None = None) -> np.ndarray:
    """A BGR copy of ``frame`` with every detection boxed and labelled and every number written above."""
    out = _bgr(frame)
    scale = max(0.4, min(out.shape[:2]) / 900)
    thick = max(1, round(scale * 2))
    for line in result.lines:
        x, y, w, h = line.box
        cv2.rectangle(out, (x - 4, y - 4), (x + w + 4, y + h + 4), LINE_COLOR, 1)
        cv2.putText(
            out, line.text, (x, max(12, y - 8)), FONT, scale * 1.2, LINE_COLOR, thick + 1, cv2.LINE_AA
        )
    for d in result.digits:
        x, y, w, h = d.box
        color = BOX_COLOR if d.confidence >= LOW_CONFIDENCE else LOW_COLOR
        cv2.rectangle(out, (x, y), (x + w, y + h), color, thick)
        cv2.putText(
            out,
            f"{d.label} {d.confidence:.2f}",
            (x, y + h + int(16 * scale) + 4),
            FONT,
            scale * 0.7,
            color,
            thick,
            cv2.LINE_AA,
        )
    if fps is not None:
        cv2.putText(
            out, f"{fps:5.1f} FPS", (8, int(24 * scale) + 8), FONT, scale, (0, 0, 255), thick, cv2.LINE_AA
        )
    return out


def crops_mosaic(crops: np.ndarray, cell: int = 56, columns: int = 10) -> np.ndarray:
    """The normalized 28x28 model inputs side by side (for --debug), as a BGR image."""
    if len(crops) == 0:
        return np.zeros((cell, cell, 3), np.uint8)
    rows = -(-len(crops) // columns)
    mosaic = np.zeros((rows * cell, min(len(crops), columns) * cell), np.uint8)
    for i, crop in enumerate(crops):
        r, c = divmod(i, columns)
        mosaic[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell] = cv2.resize(
            (crop * 255).astype(np.uint8), (cell, cell), interpolation=cv2.INTER_NEAREST
        )
    return cv2.cvtColor(mosaic, cv2.COLOR_GRAY2BGR)
