"""Label stabilization over video: track each digit box across frames and vote over its last labels."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from edgedigits.core.errors import UsageError
from edgedigits.runtime.boxes import greedy_matches
from edgedigits.runtime.recognizer import Detection, LineParams, Recognition, arrange


@dataclass
class _Track:
    box: tuple[int, int, int, int]
    votes: deque = field(default_factory=deque)  # (label, confidence) of the last frames
    missed: int = 0
    label: int | None = None  # the label shown; changes only when another clearly out-votes it


class LabelStabilizer:
    """Greedy IoU tracking; each track's label is the confidence-weighted vote of its last ``window``
    frames, with hysteresis: a new label takes over only when its votes reach ``switch_ratio`` times the
    shown label's. A steady digit read as 7, 7, 1, 7 stays 7; a 5 read as 8 two frames in five stays 5."""

    def __init__(
        self,
        window: int = 7,
        min_iou: float = 0.3,
        max_missed: int = 5,
        switch_ratio: float = 1.5,
        lines: LineParams = LineParams(),
    ) -> None:
        if window < 1 or max_missed < 0 or not 0 < min_iou <= 1 or switch_ratio < 1:
            raise UsageError("need window >= 1, max_missed >= 0, 0 < min_iou <= 1 and switch_ratio >= 1")
        self.window, self.min_iou, self.max_missed, self.lines = window, min_iou, max_missed, lines
        self.switch_ratio = switch_ratio
        self.tracks: list[_Track] = []

    def update(self, result: Recognition) -> Recognition:
        matched = greedy_matches([t.box for t in self.tracks], [d.box for d in result.digits], self.min_iou)
        track_of = {di: self.tracks[ti] for ti, di in matched}
        used = {ti for ti, _ in matched}
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
            stable.append(self._vote(d, track))
        return arrange(stable, result.crops, self.lines, result.rejected)

    def _vote(self, d: Detection, track: _Track) -> Detection:
        totals: dict[int, float] = {}
        for label, conf in track.votes:
            totals[label] = totals.get(label, 0.0) + conf
        best = max(totals, key=totals.__getitem__)
        shown = totals.get(track.label, 0.0)
        if track.label is None or totals[best] >= self.switch_ratio * shown:
            track.label = best
        return Detection(track.label, totals.get(track.label, 0.0) / len(track.votes), d.box)
