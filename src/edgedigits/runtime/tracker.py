"""Stability over video: each digit box, each rejected mark and each number is tracked across frames
(after the camera's own motion is taken out) and voted over its last frames, so what is shown stays put
while it is in view."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from edgedigits.core.errors import UsageError
from edgedigits.runtime.boxes import Box, greedy_matches, inside, union
from edgedigits.runtime.recognizer import Detection, Line, LineParams, Recognition, arrange


@dataclass
class _Track:
    box: tuple[int, int, int, int]
    votes: deque = field(default_factory=deque)  # (label, confidence) of the last frames; None: rejected
    missed: int = 0
    label: int | None = None  # the label shown; changes only when another clearly out-votes it
    digit: bool | None = None  # shown as a digit at all; the same hysteresis against its rejections


@dataclass
class _NumberTrack:
    box: tuple[int, int, int, int]
    votes: deque = field(default_factory=deque)  # (text, weight) of the last frames
    missed: int = 0
    text: str | None = None  # the text shown; changes only when another clearly out-votes it


def estimate_shift(
    before: Sequence[Box],
    after: Sequence[Box],
    max_shift_px: float = 160.0,
    size_ratio: float = 0.35,
    bin_frac: float = 0.25,
    min_bin_px: float = 3.0,
    inlier_bins: float = 1.5,
) -> tuple[float, float, int]:
    """The camera's translation between two frames, from their pieces' boxes: (dx, dy, support), the
    shift most pairs of like-sized boxes agree on (within ``bin_frac`` of a digit's height, at least
    ``min_bin_px``; the pairs within ``inlier_bins`` bins of the best bin vote) and how many pairs
    agree. A pan moves every box alike, while a wrong pairing agrees with nothing, so the mode is the
    motion even among many like-sized digits. Support under 2 (one box, or nothing agrees) is no
    estimate: (0, 0, support). The work grows with pairs within ``max_shift_px``, binned, not sorted."""
    if not len(before) or not len(after):
        return 0.0, 0.0, 0
    a, b = np.asarray(before, np.float64), np.asarray(after, np.float64)
    ca, cb = a[:, :2] + a[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2
    d = cb[None, :, :] - ca[:, None, :]  # [A, B, 2]
    like = (np.abs(b[None, :, 3] - a[:, None, 3]) <= size_ratio * a[:, None, 3]) & (
        np.abs(b[None, :, 2] - a[:, None, 2]) <= size_ratio * np.maximum(a[:, None, 2], a[:, None, 3])
    )
    near = like & (np.abs(d).max(2) <= max_shift_px)
    shifts = d[near]
    if len(shifts) < 2:
        return 0.0, 0.0, len(shifts)
    tol = max(min_bin_px, bin_frac * float(np.median(b[:, 3])))
    bins = np.floor(shifts / tol).astype(np.int64)
    keys, counts = np.unique(bins, axis=0, return_counts=True)
    table = {tuple(k): c for k, c in zip(keys.tolist(), counts.tolist(), strict=True)}
    score = [
        sum(table.get((kx + i, ky + j), 0) for i in (-1, 0, 1) for j in (-1, 0, 1))
        for kx, ky in keys.tolist()
    ]
    # the best-supported bin; among equals the smallest motion (bin k's centre is k + 1/2): where one
    # of three evenly spaced boxes is not found, the two left agree on the spacing as much as on the move
    best = min(range(len(keys)), key=lambda i: (-score[i], int(np.abs(2 * keys[i] + 1).sum())))
    centre = (keys[best] + 0.5) * tol
    inliers = shifts[np.abs(shifts - centre).max(1) <= inlier_bins * tol]
    if len(inliers) < 2:
        return 0.0, 0.0, len(inliers)
    dx, dy = np.median(inliers, axis=0)
    return float(dx), float(dy), len(inliers)


JOIN_INSIDE = 0.8  # a line this much inside a number track's box is a piece of that number


def _join(pieces: list[Line]) -> Line:
    pieces = sorted(pieces, key=lambda ln: ln.box[0])
    digits = tuple(d for p in pieces for d in p.digits)
    return Line("".join(p.text for p in pieces), union([p.box for p in pieces]), digits)


def _moved(box: Box, dx: float, dy: float) -> Box:
    return (int(round(box[0] + dx)), int(round(box[1] + dy)), box[2], box[3])


class LabelStabilizer:
    """Greedy IoU tracking; each track's label is the confidence-weighted vote of its last ``window``
    frames, with hysteresis: a new label takes over only when its votes reach ``switch_ratio`` times the
    shown label's. A steady digit read as 7, 7, 1, 7 stays 7; a 5 read as 8 two frames in five stays 5.

    ``motion``: before matching, the tracks move by the camera's translation since the last frame
    (``estimate_shift`` over the pieces' boxes), so a pan faster than a digit's width keeps its tracks.
    ``numbers``: each number (a line) is a track too, and its text is voted the same way over its last
    ``number_window`` frames (default twice ``window``: a number's text is read from several digits'
    labels, each of which may waver; a frame's vote weighs the sum of its digits' confidences, so a
    reading with a digit missing weighs less), with the same hysteresis (``number_switch``, default
    ``switch_ratio``). "7359" stays "7359" while one of its digits wavers or drops out for a frame;
    its ``votes`` and ``frames`` say how many of the last frames read the text shown.

    ``reject_vote``: the rejected marks are tracked too, each rejection a vote of this weight against
    the piece being a digit (a reading votes its confidence for it), with the same hysteresis: a mark
    beside "41" that passes for an 8 now and then stays out of the number instead of making it "418"
    for a few frames, and a digit its track has read is shown through the frames that reject it (with
    its voted label; it needs the frame's ``rejected_crops``). 0 turns it off."""

    def __init__(
        self,
        window: int = 7,
        min_iou: float = 0.3,
        max_missed: int = 5,
        switch_ratio: float = 1.5,
        lines: LineParams = LineParams(),
        motion: bool = True,
        numbers: bool = True,
        number_switch: float | None = None,
        number_window: int | None = None,
        join_split: bool = True,
        reject_vote: float = 0.5,
    ) -> None:
        if window < 1 or max_missed < 0 or not 0 < min_iou <= 1 or switch_ratio < 1 or not reject_vote >= 0:
            raise UsageError(
                "need window >= 1, max_missed >= 0, 0 < min_iou <= 1, switch_ratio >= 1 and reject_vote >= 0"
            )
        self.window, self.min_iou, self.max_missed, self.lines = window, min_iou, max_missed, lines
        self.switch_ratio = switch_ratio
        self.motion, self.numbers = motion, numbers
        self.number_switch = switch_ratio if number_switch is None else number_switch
        self.number_window = 2 * window if number_window is None else number_window
        self.join_split = join_split
        self.reject_vote = reject_vote
        self.tracks: list[_Track] = []
        self.number_tracks: list[_NumberTrack] = []
        self.shift = (0.0, 0.0)  # the camera's translation estimated at the last update

    def update(self, result: Recognition) -> Recognition:
        marks = result.rejected if self.reject_vote else []
        if marks and len(result.rejected_crops) != len(marks):
            raise UsageError("reject_vote needs the rejected marks' crops (Recognition.rejected_crops)")
        pieces = [*result.digits, *marks]
        mark_crops = result.rejected_crops.reshape(-1, 28, 28)
        crops = np.concatenate([result.crops.reshape(-1, 28, 28), mark_crops[: len(marks)]], dtype=np.float32)
        boxes = [p.box for p in pieces]
        dx, dy = 0.0, 0.0
        if self.motion:
            dx, dy, _ = estimate_shift([t.box for t in self.tracks if t.missed == 0], boxes)
        self.shift = (dx, dy)
        for t in self.tracks:
            t.box = _moved(t.box, dx, dy)
        for n in self.number_tracks:
            n.box = _moved(n.box, dx, dy)
        track_of, self.tracks = self._associate(self.tracks, boxes)
        stable, shown, hidden = [], [], []
        for pi, p in enumerate(pieces):
            track = track_of.get(pi)
            if track is None:
                track = _Track(p.box, deque(maxlen=self.window))
                self.tracks.append(track)
            track.box, track.missed = p.box, 0
            read = pi < len(result.digits)
            track.votes.append((p.label, p.confidence) if read else (None, self.reject_vote))
            if self._is_digit(track):
                shown.append(pi)
                stable.append(self._vote(p, track))
            else:
                hidden.append(pi)
        untracked = result.rejected[len(marks) :]  # all of them with reject_vote 0
        out = arrange(
            stable,
            crops[shown],
            self.lines,
            [*(pieces[i] for i in hidden), *untracked],
            result.cut,
            np.concatenate([crops[hidden], mark_crops[len(marks) :]], dtype=np.float32),
        )
        if not self.numbers:
            return out
        return replace(out, lines=self._vote_numbers(out.lines))

    def _join_split(self, lines: list[Line]) -> list[Line]:
        """A number whose middle digit was not found this frame falls apart at the gap ("7359" as "7"
        and "59"); lines that lie mostly (``JOIN_INSIDE``) within one live number track's box and hold
        fewer digits than its text are that number again, joined for its vote."""
        if len(lines) < 2 or not self.number_tracks:
            return lines
        owner = []
        for line in lines:
            holding = [
                ni
                for ni, n in enumerate(self.number_tracks)
                if n.missed == 0 and inside(line.box, n.box) >= JOIN_INSIDE
            ]
            owner.append(holding[0] if len(holding) == 1 else None)
        groups: dict[int, list[Line]] = {}
        for line, ni in zip(lines, owner, strict=True):
            if ni is not None:
                groups.setdefault(ni, []).append(line)
        # only where a digit is missing: pieces as long as the number are a number read apart again
        split = [
            g
            for ni, g in groups.items()
            if len(g) > 1 and sum(len(ln.text) for ln in g) < len(self.number_tracks[ni].text or "")
        ]
        joined = {id(g[0]): _join(g) for g in split}
        skip = {id(ln) for g in split for ln in g[1:]}
        return [joined.get(id(ln), ln) for ln in lines if id(ln) not in skip]

    def _is_digit(self, track: _Track) -> bool:
        read, rejected = 0.0, 0.0  # summed in order, as the browser reader does (no fsum)
        for label, w in track.votes:
            if label is None:
                rejected += w
            else:
                read += w
        shown, other = (read, rejected) if track.digit else (rejected, read)
        if track.digit is None or other >= self.switch_ratio * shown:
            track.digit = read >= rejected
        return track.digit

    def _vote(self, d: Detection, track: _Track) -> Detection:
        totals: dict[int, float] = {}
        for label, conf in track.votes:
            if label is not None:
                totals[label] = totals.get(label, 0.0) + conf
        best = max(totals, key=totals.__getitem__)
        shown = totals.get(track.label, 0.0)
        if track.label is None or totals[best] >= self.switch_ratio * shown:
            track.label = best
        return Detection(track.label, totals.get(track.label, 0.0) / len(track.votes), d.box)

    def _associate(self, tracks: list, boxes: list[Box]) -> tuple[dict, list]:
        """Match ``tracks`` (digits or numbers) to this frame's ``boxes``: {box index: track}, and the
        tracks kept (an unmatched one ages, and is dropped after ``max_missed`` frames)."""
        matched = greedy_matches([t.box for t in tracks], boxes, self.min_iou)
        used = {ti for ti, _ in matched}
        for ti, track in enumerate(tracks):
            if ti not in used:
                track.missed += 1
        return {bi: tracks[ti] for ti, bi in matched}, [t for t in tracks if t.missed <= self.max_missed]

    def _vote_numbers(self, lines: list[Line]) -> list[Line]:
        lines = self._join_split(lines) if self.join_split else lines
        track_of, self.number_tracks = self._associate(self.number_tracks, [ln.box for ln in lines])
        out = []
        for li, line in enumerate(lines):
            track = track_of.get(li)
            if track is None:
                track = _NumberTrack(line.box, deque(maxlen=self.number_window))
                self.number_tracks.append(track)
            track.box, track.missed = line.box, 0
            weight = 0.0
            for d in line.digits:  # summed in order, as the browser reader does
                weight += d.confidence
            track.votes.append((line.text, max(weight, 1e-3)))
            totals: dict[str, float] = {}
            for text, w in track.votes:
                totals[text] = totals.get(text, 0.0) + w
            best = max(totals, key=totals.__getitem__)
            if track.text is None or totals[best] > self.number_switch * totals.get(track.text, 0.0):
                track.text = best
            votes = sum(text == track.text for text, _ in track.votes)
            out.append(replace(line, text=track.text, votes=votes, frames=len(track.votes)))
        return out
