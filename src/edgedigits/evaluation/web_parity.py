"""How alike two frame results are (``detect --json`` records): the browser reader's against the
Python reader's on the same frame. Digits pair up by box (IoU >= ``min_iou``); labels are compared
on pairs; numbers are compared line by line, in reading order; rejected marks by box."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from edgedigits.runtime.boxes import greedy_matches


@dataclass
class Parity:
    frames: int = 0
    digits: int = 0  # the Python reader's digits
    found: int = 0  # ... the browser found too (IoU >= min_iou)
    extra: int = 0  # browser digits with no Python partner
    same_label: int = 0  # of the pairs
    numbers: int = 0  # the Python reader's numbers (lines) ...
    same_numbers: int = 0  # ... the browser read with the same text at the same place (IoU >= 0.5)
    frames_same: int = 0  # frames whose numbers (texts, in reading order) are all the same
    rejected: int = 0
    same_rejected: int = 0  # Python's rejected marks the browser rejected too
    partial: int = 0
    same_partial: int = 0  # frames with the same partial numbers

    def add(self, python: dict, browser: dict, min_iou: float = 0.9) -> None:
        self.frames += 1
        py, br = python["digits"], browser["digits"]
        pairs = greedy_matches(_boxes(py), _boxes(br), min_iou)
        self.digits += len(py)
        self.found += len(pairs)
        self.extra += len(br) - len(pairs)
        self.same_label += sum(py[i]["label"] == br[j]["label"] for i, j in pairs)
        lines = greedy_matches(_boxes(python["lines"]), _boxes(browser["lines"]), 0.5)
        self.numbers += len(python["lines"])
        self.same_numbers += sum(python["lines"][i]["text"] == browser["lines"][j]["text"] for i, j in lines)
        self.frames_same += _texts(python["lines"]) == _texts(browser["lines"])
        self.partial += 1
        self.same_partial += _texts(python["partial"]) == _texts(browser["partial"])
        rejected = greedy_matches(_boxes(python["rejected"]), _boxes(browser["rejected"]), min_iou)
        self.rejected += len(python["rejected"])
        self.same_rejected += len(rejected)

    def rates(self) -> dict:
        def rate(a: int, b: int) -> float:
            return a / b if b else 1.0

        return asdict(self) | {
            "found_rate": rate(self.found, self.digits),
            "label_rate": rate(self.same_label, self.found),
            "number_rate": rate(self.same_numbers, self.numbers),
            "frames_same_rate": rate(self.frames_same, self.frames),
            "rejected_rate": rate(self.same_rejected, self.rejected),
            "partial_rate": rate(self.same_partial, self.partial),
        }


def _boxes(items: list[dict]) -> list[tuple]:
    return [tuple(d["box"]) for d in items]


def _texts(lines: list[dict]) -> list[str]:
    return [ln["text"] for ln in lines]
