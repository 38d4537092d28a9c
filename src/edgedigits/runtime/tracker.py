"""Label stabilization over video: track each digit box across frames and vote over its last labels."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

from edgedigits.runtime.boxes import iou
from edgedigits.runtime.recognizer import Detection, LineParams, Recognition, group_lines


@dataclass
class _Track:
    box: tuple[int, int, int, int]
    votes: deque = field(default_factory=deque)  # (label, confidence) of the last frames
    missed: int = 0


class LabelStabilizer:
    """Greedy IoU tracking; each track's label is the confidence-weighted vote of its last ``window``
    frames, so a steady digit read as 7, 7, 1, 7 stays 7."""

    def __init__(
        self, window: int = 7, min_iou: float = 0.3, max_missed: int = 5, lines: LineParams = LineParams()
    ) -> None:
        if window < 1 or max_missed < 0 or not 0 < min_iou <= 1:
            raise ValueError("need window >= 1, max_missed >= 0 and 0 < min_iou <= 1")
        self.window, self.min_iou, self.max_missed, self.lines = window, min_iou, max_missed, lines
        self.tracks: list[_Track] = []

    def update(self, result: Recognition) -> Recognition:
        pairs = sorted(
            (
                (iou(t.box, d.box), ti, di)
                for ti, t in enumerate(self.tracks)
                for di, d in enumerate(result.digits)
            ),
            reverse=True,
        )
        track_of: dict[int, _Track] = {}
        used = set()
        for overlap, ti, di in pairs:
            if overlap < self.min_iou:
                break
            if ti in used or di in track_of:
                continue
            used.add(ti)
            track_of[di] = self.tracks[ti]
        for ti, track in enumerate(self.tracks):
            if ti not in used:
                track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        stable = []
        for di, d in enumerate(result.digits):
            track = track_of.get(di)
            if track is None:
                track = _Track(d.box, deque(maxlen=self.window))
                self.tracks.append(track)
            track.box, track.missed = d.box, 0
            track.votes.append((d.label, d.confidence))
            stable.append(_vote(d, track.votes))
        lines = group_lines(stable, self.lines)
        return replace(result, digits=[d for ln in lines for d in ln.digits], lines=lines)


def _vote(d: Detection, votes: deque) -> Detection:
    totals: dict[int, float] = {}
    for label, conf in votes:
        totals[label] = totals.get(label, 0.0) + conf
    label = max(totals, key=totals.__getitem__)
    return Detection(label, totals[label] / len(votes), d.box)
