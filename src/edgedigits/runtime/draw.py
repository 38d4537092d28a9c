"""Annotated views of a recognition: boxes, labels with confidence, the numbers read, FPS; --debug views."""

from __future__ import annotations

import cv2
import numpy as np

from edgedigits.runtime.recognizer import Detection, Recognition

BOX_COLOR = (0, 200, 0)
LOW_COLOR = (0, 140, 255)  # orange for detections below LOW_CONFIDENCE
LINE_COLOR = (255, 90, 0)
REJECTED_COLOR = (150, 150, 150)  # grey: a mark the model called "not a digit" must never look like one
PARTIAL_COLOR = (170, 160, 150)  # muted blue-grey: a number cut by the frame's border, not a reading
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


def annotate(
    frame: np.ndarray, result: Recognition, fps: float | None = None, show_rejected: bool = False
) -> np.ndarray:
    """A BGR copy of ``frame`` with every detection boxed and labelled and every number written above.
    ``show_rejected`` (--debug) also marks what was found but rejected as not a digit: thin grey boxes
    tagged "x", drawn first so a digit's box always stays on top."""
    out = _bgr(frame)
    scale = max(0.5, min(out.shape[:2]) / 900)
    thick = max(1, round(scale * 2))
    if show_rejected:
        for d in result.rejected:
            _rejected_mark(out, d, scale)
    muted = set()
    for line in result.partial:  # thin and muted, under everything read: cut by the border, not a number
        x, y, w, h = line.box
        cv2.rectangle(out, (x - 4, y - 4), (x + w + 4, y + h + 4), PARTIAL_COLOR, 1)
        cv2.putText(out, line.text, (x, max(12, y - 8)), FONT, scale * 0.8, PARTIAL_COLOR, 1, cv2.LINE_AA)
        for d in line.digits:
            cv2.rectangle(out, d.box[:2], (d.box[0] + d.box[2], d.box[1] + d.box[3]), PARTIAL_COLOR, 1)
            muted.add(d.box)
    for line in result.lines:
        x, y, w, h = line.box
        cv2.rectangle(out, (x - 4, y - 4), (x + w + 4, y + h + 4), LINE_COLOR, 1)
        cv2.putText(
            out, line.text, (x, max(12, y - 8)), FONT, scale * 1.2, LINE_COLOR, thick + 1, cv2.LINE_AA
        )
    for d in result.digits:
        if d.box in muted:
            continue
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


def _rejected_mark(out: np.ndarray, d: Detection, scale: float) -> None:
    x, y, w, h = d.box
    cv2.rectangle(out, (x, y), (x + w, y + h), REJECTED_COLOR, 1)
    cv2.putText(out, "x", (x + 2, y + h - 3), FONT, scale * 0.7, REJECTED_COLOR, 1, cv2.LINE_AA)


def crops_mosaic(
    crops: np.ndarray, digits: list[Detection] | None = None, cell: int = 84, columns: int = 6
) -> np.ndarray:
    """The normalized 28x28 model inputs (--debug) as a BGR grid: each one 3x, on a separated cell, its
    label and confidence under it when ``digits`` (``digits[i]`` read from ``crops[i]``) is given."""
    caption, gap = 22, 4
    if len(crops) == 0:
        empty = np.full((cell, 3 * cell, 3), 40, np.uint8)
        cv2.putText(empty, "no digits", (10, cell // 2 + 6), FONT, 0.6, (200, 200, 200), 1, cv2.LINE_AA)
        return empty
    rows, cols = -(-len(crops) // columns), min(len(crops), columns)
    step_x, step_y = cell + gap, cell + caption + gap
    mosaic = np.full((rows * step_y + gap, cols * step_x + gap, 3), 40, np.uint8)
    digits = digits or []
    for i, crop in enumerate(crops):
        r, c = divmod(i, columns)
        x, y = gap + c * step_x, gap + r * step_y
        big = cv2.resize((crop * 255).astype(np.uint8), (cell, cell), interpolation=cv2.INTER_NEAREST)
        mosaic[y : y + cell, x : x + cell] = big[:, :, None]
        if i < len(digits):
            d = digits[i]
            color = BOX_COLOR if d.confidence >= LOW_CONFIDENCE else LOW_COLOR
            cv2.putText(mosaic, f"{d.label} {d.confidence:.2f}", (x + 2, y + cell + 16), FONT, 0.5, color, 1)
    return mosaic


PANEL_ROWS = 4  # rows of crops in the --debug crops window: 24 crops, ~470 px tall, fits beside a frame


def crops_panel(
    crops: np.ndarray, digits: list[Detection] | None = None, rows: int = PANEL_ROWS, columns: int = 6
) -> np.ndarray:
    """The image of the --debug crops window for one frame: ``crops_mosaic`` on a canvas of the same size
    every frame (``rows`` x ``columns`` cells), so a video's window keeps its size and place while its
    content changes; crops beyond the canvas are counted in its last line."""
    cell, caption, gap, footer = 84, 22, 4, 24
    height, width = rows * (cell + caption + gap) + gap + footer, columns * (cell + gap) + gap
    panel = np.full((height, width, 3), 40, np.uint8)
    shown = min(len(crops), rows * columns)
    mosaic = crops_mosaic(crops[:shown], (digits or [])[:shown], cell, columns)
    mh, mw = min(mosaic.shape[0], height - footer), min(mosaic.shape[1], width)
    panel[:mh, :mw] = mosaic[:mh, :mw]
    note = f"{len(crops)} crop(s)" + (f", first {shown} shown" if shown < len(crops) else "")
    cv2.putText(panel, note, (gap + 2, height - 8), FONT, 0.5, (200, 200, 200), 1, cv2.LINE_AA)
    return panel
