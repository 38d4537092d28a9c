"""The reader's tunable constants as one JSON-able dict, so the browser reader reads them from its web
export instead of keeping a copy: the defaults of the Python dataclasses and module constants, read
here, are the only place they are written down."""

from __future__ import annotations

import inspect
from dataclasses import asdict

from edgedigits.core.contract import IMAGE_SIZE, INPUT_NAME, OUTPUT_NAME
from edgedigits.runtime import segment, tracker
from edgedigits.runtime.normalize import NormalizeParams
from edgedigits.runtime.recognizer import SHIFTS, DigitRecognizer, LineParams
from edgedigits.runtime.session import ModelInfo


def _defaults(func, *names: str) -> dict:
    params = inspect.signature(func).parameters
    return {name: params[name].default for name in names}


def reader_settings() -> dict:
    """Every constant a frame goes through on its way to numbers, keyed as in the Python code."""
    stabilizer = _defaults(
        tracker.LabelStabilizer,
        "window",
        "min_iou",
        "max_missed",
        "switch_ratio",
        "number_switch",
        "number_window",
        "reject_vote",
    )
    shift = _defaults(
        tracker.estimate_shift, "max_shift_px", "size_ratio", "bin_frac", "min_bin_px", "inlier_bins"
    )
    return {
        "segment": asdict(segment.SegmentParams())
        | {
            "cut_line_aspect": segment.CUT_LINE_ASPECT,
            "max_fragment_width": segment.MAX_FRAGMENT_WIDTH,
            "rule_fit_px": list(segment.RULE_FIT_PX),
            "rule_reach_px": segment.RULE_REACH_PX,
        },
        "normalize": asdict(NormalizeParams()),
        "lines": asdict(LineParams()),
        "classify": _defaults(DigitRecognizer, "vote_below", "min_confidence")
        | {"shifts": [list(s) for s in SHIFTS]},
        "tracker": stabilizer | shift | {"join_inside": tracker.JOIN_INSIDE},
    }


def web_contract(info: ModelInfo, model_file: str = "mnist_mlp.onnx") -> dict:
    """``contract.json`` of the web export: what the model file says about itself (labels, polarity,
    rejection rule, all its metadata) and the reader's settings, for the browser reader to read."""
    return {
        "model": model_file,
        "input": INPUT_NAME,
        "output": OUTPUT_NAME,
        "image_size": IMAGE_SIZE,
        "labels": list(info.labels),
        "input_polarity": info.polarity,
        "reject": {"score": info.reject.score, "threshold": info.reject.threshold},
        "metadata": dict(info.metadata),
        "reader": reader_settings(),
    }
