"""Box geometry shared by the reading order, the tracker and the scene scorer."""

from __future__ import annotations

from collections.abc import Sequence

Box = tuple[int, int, int, int]  # x, y, w, h in frame pixels


def intersection(a: Box, b: Box) -> int:
    """The area two boxes share."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy


def union(boxes: Sequence[Box]) -> Box:
    """The smallest box holding every one of ``boxes`` (at least one)."""
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
    return (x0, y0, x1 - x0, y1 - y0)


def inside(a: Box, b: Box) -> float:
    """The fraction of ``a``'s area inside ``b``."""
    return intersection(a, b) / max(1, a[2] * a[3])


def iou(a: Box, b: Box) -> float:
    inter = intersection(a, b)
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter) if inter else 0.0


def greedy_matches(a: Sequence[Box], b: Sequence[Box], min_iou: float) -> list[tuple[int, int]]:
    """Greedy one-to-one matching by IoU, best pairs first (ties: the higher indices first): (index in
    ``a``, index in ``b``) pairs overlapping by at least ``min_iou``, best first."""
    pairs = sorted(((iou(x, y), i, j) for i, x in enumerate(a) for j, y in enumerate(b)), reverse=True)
    used_a, used_b, out = set(), set(), []
    for overlap, i, j in pairs:
        if overlap < min_iou:
            break
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            out.append((i, j))
    return out
