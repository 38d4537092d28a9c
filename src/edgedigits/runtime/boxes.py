"""Box geometry shared by the tracker and the scene scorer."""

from __future__ import annotations

Box = tuple[int, int, int, int]  # x, y, w, h in frame pixels


def iou(a: Box, b: Box) -> float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter) if inter else 0.0
