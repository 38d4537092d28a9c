"""``DigitRecognizer``: frame -> digits (label, confidence, box) in reading order, and the numbers read."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from edgedigits.core.errors import FrameError, UsageError
from edgedigits.core.registry import backend_example, backend_suffixes
from edgedigits.runtime.backends import check_backend, open_model
from edgedigits.runtime.boxes import Box, union
from edgedigits.runtime.normalize import NormalizeParams, to_mnist
from edgedigits.runtime.segment import (
    Polarity,
    SegmentParams,
    check_polarity,
    segment_frame,
    to_gray,
)


@dataclass(frozen=True)
class Detection:
    label: int
    confidence: float
    box: Box

    def to_json(self) -> dict:
        return {"label": self.label, "confidence": round(self.confidence, 4), "box": list(self.box)}


CUT = -1  # the label of a piece cut by the frame's border: never read, shown as "?" in its number's text


@dataclass(frozen=True)
class Line:
    text: str
    box: Box
    digits: tuple[Detection, ...]  # this frame's digits (and, in a partial number, its cut pieces)
    votes: int | None = None  # video: how many of the number's last ``frames`` frames read ``text``
    frames: int | None = None

    def to_json(self) -> dict:
        voted = {} if self.votes is None else {"votes": self.votes, "frames": self.frames}
        return {"text": self.text, "box": list(self.box)} | voted


@dataclass(frozen=True)
class Recognition:
    digits: list[Detection]
    lines: list[Line]
    crops: np.ndarray = field(repr=False)  # float32 [N, 28, 28], the model's inputs, for --debug views
    # marks the model's contract calls non-digits (in video: and pieces whose track votes them so)
    rejected: list[Detection] = field(default_factory=list)
    partial: list[Line] = field(default_factory=list)  # numbers with a piece cut by the frame's border
    cut: list[Detection] = field(default_factory=list)  # those pieces (label CUT), never read
    # the model's inputs of ``rejected``: video votes may show a mark its track has read as a digit
    rejected_crops: np.ndarray = field(default_factory=lambda: np.zeros((0, 28, 28), np.float32), repr=False)

    def __post_init__(self) -> None:
        if len(self.crops) != len(self.digits) or len(self.rejected_crops) not in (0, len(self.rejected)):
            raise UsageError("a Recognition holds one crop per digit (and none or one per rejected mark)")

    def to_json(self) -> dict:
        return {
            "digits": [d.to_json() for d in self.digits],
            "lines": [ln.to_json() for ln in self.lines],
            "partial": [ln.to_json() for ln in self.partial],
            "rejected": [d.to_json() for d in self.rejected],
        }


@dataclass(frozen=True)
class LineParams:
    same_line_overlap: float = (
        0.5  # vertical overlap (fraction of the shorter box) that puts two digits on a line
    )
    word_gap: float = 0.9  # a horizontal gap wider than this many mean digit heights starts a new number
    cut_gap: float = 0.5  # a piece cut by the border belongs to a number only this close to it: digits of
    # one number sit well under half a height apart, while marks and other numbers near the border
    # (within word_gap) would make a whole number in view partial
    word_letters: float = 0.5  # a word (digits and rejected marks on a line, no gap over word_gap) whose
    # rejected marks are more than this fraction of it is written in letters: its digit-like letters (the
    # o and l of "Total") are rejected too; "$25", "x3" or "5%" keep their digits (1 for "off")


def default_model_path() -> Path:
    """The release model shipped inside the package (a copy of ``models/mnist_mlp.onnx``)."""
    return Path(str(resources.files("edgedigits.runtime") / "model" / "mnist_mlp.onnx"))


class DigitRecognizer:
    """Find and read handwritten digits in BGR or grayscale uint8 frames of any size."""

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        polarity: str = Polarity.DARK_ON_LIGHT,
        segment: SegmentParams = SegmentParams(),
        normalize: NormalizeParams = NormalizeParams(),
        lines: LineParams = LineParams(),
        min_confidence: float = 0.0,
        vote_below: float = 0.98,
        backend: str = "onnxruntime",
    ) -> None:
        """``backend``: the runtime that runs the model (see ``runtime.backends``); the shipped model is
        ONNX, so any other backend needs ``model_path`` to the artifact it runs."""
        polarity = check_polarity(polarity)
        if not 0.0 <= vote_below <= 1.0:
            raise UsageError(f"vote_below must be in [0, 1], got {vote_below}")
        if model_path is None:
            runtime = check_backend(backend)
            if ".onnx" not in backend_suffixes(runtime):
                raise UsageError(
                    f"--backend {backend} needs --model (e.g. {backend_example(runtime)}); "
                    "the shipped model is ONNX"
                )
            model_path = default_model_path()
        self.model = open_model(Path(model_path), backend)
        self.labels = self.model.info.labels
        self.reject = self.model.info.reject
        self.polarity, self.segment, self.normalize, self.lines = polarity, segment, normalize, lines
        self.min_confidence = min_confidence
        self.vote_below = vote_below

    def probabilities(self, crops: np.ndarray) -> np.ndarray:
        """Class probabilities of ``crops`` [N, 28, 28]. Crops the model is less than ``vote_below`` sure
        of are read again shifted by one pixel four ways, in one batch, and the five readings averaged:
        centring by mass quantizes to whole pixels, and borderline digits then flip. Sure crops skip
        it, so the extra batch grows with the doubtful crops, not with all of them (0 turns it off)."""
        probs = softmax(self.model.predict(crops[:, None]))
        doubtful = np.flatnonzero(probs.max(1) < self.vote_below)
        if len(doubtful):
            unsure = crops[doubtful]
            batch = np.concatenate([np.roll(unsure, shift, axis=(1, 2)) for shift in SHIFTS[1:]])
            shifted = softmax(self.model.predict(batch[:, None])).reshape(len(SHIFTS) - 1, len(unsure), -1)
            probs[doubtful] = (probs[doubtful] + shifted.sum(0)) / len(SHIFTS)
        return probs

    def recognize(self, frame: np.ndarray) -> Recognition:
        gray = to_gray(np.asarray(frame))
        if gray.dtype != np.uint8:
            raise FrameError(f"frame must be uint8, got {gray.dtype}")
        if gray.size == 0:
            return Recognition([], [], np.zeros((0, 28, 28), np.float32))
        found = segment_frame(gray, self.polarity, self.segment)
        cut = [Detection(CUT, 0.0, tuple(int(v) for v in box)) for box in found.cut]
        if not len(found):
            return arrange([], np.zeros((0, 28, 28), np.float32), self.lines, [], cut)
        boxes = [tuple(int(v) for v in box) for box in found.boxes]
        crops = np.stack([to_mnist(ink, self.normalize) for ink in found.inks])
        probs = self.probabilities(crops)
        labels = probs.argmax(1)
        top = probs[np.arange(len(probs)), labels]
        rejected = self.reject.rejects(top)
        keep = ~rejected & (top >= self.min_confidence)
        found_as = [
            Detection(int(self.labels[k]), float(p), b) for b, p, k in zip(boxes, top, labels, strict=True)
        ]
        rejected |= in_letter_words(found_as, rejected, self.lines)
        keep &= ~rejected
        digits = [d for d, kept in zip(found_as, keep, strict=True) if kept]
        others = [d for d, r in zip(found_as, rejected, strict=True) if r]
        return arrange(digits, crops[keep], self.lines, others, cut, crops[rejected])


def in_letter_words(found: list[Detection], rejected: np.ndarray, params: LineParams) -> np.ndarray:
    """Which of ``found`` (every read crop; ``rejected`` marks those the model rejected) sit in a word of
    letters: grouped into words like numbers are, a word whose rejected marks are more than
    ``params.word_letters`` of it; each crop is judged by the model's own rejection alone first, so a word
    is never what the rule itself made of it."""
    out = np.zeros(len(found), bool)
    if params.word_letters >= 1 or not rejected.any() or rejected.all():
        return out
    index = {id(d): i for i, d in enumerate(found)}
    for word in group_lines(found, params):
        members = [index[id(d)] for d in word.digits]
        if rejected[members].mean() > params.word_letters:
            out[members] = True
    return out & ~rejected


SHIFTS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))  # (dy, dx) of the crops whose votes are averaged


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def arrange(
    digits: list[Detection],
    crops: np.ndarray,
    params: LineParams = LineParams(),
    rejected: list[Detection] | None = None,
    cut: list[Detection] | None = None,
    rejected_crops: np.ndarray | None = None,
) -> Recognition:
    """Group ``digits`` into lines and put them, and their crops (``crops[i]`` belongs to ``digits[i]``),
    in reading order; ``rejected`` marks pass through unchanged. ``cut``: pieces cut by the frame's
    border; a number with one of them goes to ``partial``, never to ``lines``, so a digit half out of
    view is never read as another digit of a whole number. ``rejected_crops``: the marks' crops, if kept."""
    cut = list(cut or [])
    position = {id(d): i for i, d in enumerate(digits)}
    grouped = group_lines(digits + cut, params)
    ordered = [d for line in grouped for d in line.digits if d.label != CUT]
    crops = crops[[position[id(d)] for d in ordered]].reshape(-1, 28, 28)
    lines = [ln for ln in grouped if all(d.label != CUT for d in ln.digits)]
    partial = [ln for ln in grouped if any(d.label == CUT for d in ln.digits) and len(ln.digits) > 1]
    none = np.zeros((0, 28, 28), np.float32)
    kept = none if rejected_crops is None else rejected_crops.reshape(-1, 28, 28)
    return Recognition(ordered, lines, crops, list(rejected or []), partial, cut, kept)


def group_lines(digits: list[Detection], params: LineParams = LineParams()) -> list[Line]:
    """Reading order: text lines top to bottom, digits left to right, split into numbers at wide gaps.

    Digits are taken left to right and each joins the line whose rightmost digit it overlaps most
    vertically, so a line written along a tilted rule stays one line; the cost grows with digits times
    lines, never with all pairs of digits."""
    rows: list[list[Detection]] = []
    for d in sorted(digits, key=lambda d: d.box[0]):
        overlaps = [_v_overlap(d.box, row[-1].box) for row in rows]
        best = int(np.argmax(overlaps)) if overlaps else -1
        if best >= 0 and overlaps[best] >= params.same_line_overlap:
            rows[best].append(d)
        else:
            rows.append([d])
    out: list[Line] = []
    for row in sorted(rows, key=lambda r: float(np.median([d.box[1] + d.box[3] / 2 for d in r]))):
        read = [d for d in row if d.label != CUT] or row  # a cut piece's height says nothing of the digits'
        mean_h = sum(d.box[3] for d in read) / len(read)
        group = [row[0]]
        for d in row[1:]:
            prev = group[-1]
            gap = params.cut_gap if CUT in (d.label, prev.label) else params.word_gap
            if d.box[0] - (prev.box[0] + prev.box[2]) > gap * mean_h:
                out.append(_line(group))
                group = []
            group.append(d)
        out.append(_line(group))
    return out


def _v_overlap(a: Box, b: Box) -> float:
    overlap = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return overlap / min(a[3], b[3])


def _line(group: list[Detection]) -> Line:
    text = "".join("?" if d.label == CUT else str(d.label) for d in group)
    return Line(text, union([d.box for d in group]), tuple(group))
