"""Real paper: rules, columns, marks that are not digits, and the rejection contract (issue: read digits
on real paper). Every test here failed on the blank-paper pipeline it replaced."""

import json
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from edgedigits.core.contract import META_REJECT
from edgedigits.core.errors import ArtifactError
from edgedigits.evaluation.scenes import notebook_page, render_lines
from edgedigits.runtime import DigitRecognizer, OnnxModel, default_model_path
from edgedigits.runtime.boxes import iou
from edgedigits.runtime.segment import SegmentParams, remove_rules
from edgedigits.train.marks import hershey_alpha, shape_alpha

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_ROWS = [["2024", "17"], ["365", "12"], ["48", "1990"], ["7", "301"], ["86420"]]
INK = (150, 115, 100)  # a blue-grey BGR rule or pen line


def matched(result, boxes, min_iou):
    return [max((iou(d.box, b) for d in result.digits), default=0.0) >= min_iou for b in boxes]


def test_lined_notebook_page_is_read_to_its_exact_numbers(recognizer, test_split):
    page = notebook_page(test_split, NOTEBOOK_ROWS, seed=0)
    result = recognizer.recognize(page.image)
    assert [line.text for line in result.lines] == [n for row in NOTEBOOK_ROWS for n in row]
    assert all(matched(result, page.boxes, 0.7)), "a box took in its rule or lost part of its digit"


def test_the_shipped_sample_page_reads_as_its_file_says(recognizer):
    """The README's quickstart page (docs/notebook_page.jpg, made by tools/make_demo_image.py)."""
    image = cv2.imread(str(REPO / "docs" / "notebook_page.jpg"))
    assert image is not None
    assert [line.text for line in recognizer.recognize(image).lines] == [
        n for row in NOTEBOOK_ROWS for n in row
    ]


def test_a_column_of_numbers_stays_apart(recognizer, test_split):
    """Digits right above one another, a few pixels apart: never joined into one blob."""
    image = render_lines(test_split, ["12", "34", "56", "78", "90"], digit_px=60, line_pitch=0.9)
    result = recognizer.recognize(image)
    assert [line.text for line in result.lines] == ["12", "34", "56", "78", "90"]
    heights = [d.box[3] for d in result.digits]
    assert max(heights) < 1.3 * np.median(heights)


def test_a_digit_touching_a_rule_gets_a_box_of_its_own(recognizer, test_split):
    sheet = render_lines(test_split, ["3587"], digit_px=80)
    clean = recognizer.recognize(sheet)
    bottom = max(d.box[1] + d.box[3] for d in clean.digits)
    ruled = sheet.copy()
    cv2.line(ruled, (0, bottom - 2), (ruled.shape[1], bottom + 4), INK, 3, cv2.LINE_AA)
    result = recognizer.recognize(ruled)
    assert [d.label for d in result.digits] == [d.label for d in clean.digits] == [3, 5, 8, 7]
    assert all(matched(result, [d.box for d in clean.digits], 0.75))
    assert all(d.box[3] < 1.15 * c.box[3] for d, c in zip(result.digits, clean.digits, strict=True))


def test_ruled_lines_across_a_clean_frame_leave_the_digits_unchanged(recognizer, test_split):
    sheet = render_lines(test_split, ["2024", "17"])
    clean = recognizer.recognize(sheet)
    h, w = sheet.shape[:2]
    crossed = sheet.copy()
    cv2.line(crossed, (0, int(0.2 * h)), (w, int(0.24 * h)), INK, 2, cv2.LINE_AA)  # through "2024"
    cv2.line(crossed, (int(0.3 * w), 0), (int(0.32 * w), h), INK, 2, cv2.LINE_AA)  # a margin, tilted
    result = recognizer.recognize(crossed)
    assert [line.text for line in result.lines] == [line.text for line in clean.lines] == ["2024", "17"]
    assert all(matched(result, [d.box for d in clean.digits], 0.8))


def test_rules_are_taken_out_of_the_mask_and_digits_are_not():
    """On a mask: a tilted dashed rule, a margin line and a solid rule go; a tall 1, a 7's bar and a
    column of stacked strokes stay."""
    mask = np.zeros((480, 640), np.uint8)
    for x in range(0, 640, 14):  # a faint rule thresholded into dashes, tilted 2 degrees
        cv2.line(mask, (x, 100 + int(x * 0.035)), (x + 9, 100 + int((x + 9) * 0.035)), 255, 2)
    cv2.line(mask, (0, 300), (639, 300), 255, 3)
    cv2.line(mask, (70, 0), (74, 479), 255, 2)
    cv2.line(mask, (300, 160), (300, 296), 255, 12)  # a tall, thick 1 standing on the rule
    cv2.line(mask, (400, 180), (520, 180), 255, 10)  # a 7's top bar
    for y in range(330, 470, 28):  # strokes stacked in a column
        cv2.line(mask, (600, y), (600, y + 20), 255, 5)
    clean, rules = remove_rules(mask, SegmentParams())
    assert not clean[95:130].any() and rules[95:130].any()  # the dashed rule and the margin it crosses
    assert not clean[296:305, 100:290].any() and not clean[:, 66:80].any()
    assert clean[165:285, 300].all() and clean[180, 405:515].all() and clean[335:345, 600].all()
    contours, _ = cv2.findContours(clean, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    one = [cv2.boundingRect(c) for c in contours if cv2.pointPolygonTest(c, (300, 200), False) >= 0]
    assert len(one) == 1 and one[0][3] >= 130 and one[0][1] + one[0][3] <= 304  # its foot, not the rule


def test_marks_that_are_not_digits_are_rejected_not_read(recognizer):
    rng = np.random.default_rng(5)
    marks = [hershey_alpha(c, 70, rng, by_side=True) for c in "#@*AWK"]
    marks += [shape_alpha(kind, 70, rng) for kind in ("box", "circled_cross", "zigzag")]
    page = np.full((300, 1000), 225, np.float32)
    x = 20
    for alpha in marks:
        ah, aw = alpha.shape
        page[60 : 60 + ah, x : x + aw] *= 1 - 0.8 * alpha
        x += aw + 30
    result = recognizer.recognize(page.astype(np.uint8))
    assert result.digits == [] and result.lines == []
    assert len(result.rejected) == len(marks)
    assert json.loads(json.dumps(result.to_json()))["rejected"][0].keys() == {"label", "confidence", "box"}


def test_rejection_rule_is_read_from_the_model_metadata(tmp_path, recognizer):
    info = OnnxModel(default_model_path()).info
    manifest = json.loads((REPO / "models" / "manifest.json").read_text())
    rule = json.loads(manifest["metadata"][META_REJECT])
    assert info.reject.score == rule["score"] == "max_softmax"
    assert info.reject.threshold == pytest.approx(rule["threshold"]) and 0 < info.reject.threshold < 1
    assert recognizer.reject == info.reject

    def with_rule(text: str) -> Path:
        model = onnx.load(str(default_model_path()))
        for prop in model.metadata_props:
            if prop.key == META_REJECT:
                prop.value = text
        path = tmp_path / f"model{len(list(tmp_path.iterdir()))}.onnx"
        onnx.save(model, str(path))
        return path

    sheet = np.full((120, 200), 220, np.uint8)
    cv2.putText(sheet, "7", (70, 100), cv2.FONT_HERSHEY_SIMPLEX, 3, 40, 8)
    shipped = recognizer.recognize(sheet)
    assert len(shipped.digits) == 1 and shipped.digits[0].confidence < 1.0  # what a rule of 1.0 rejects
    everything = DigitRecognizer(with_rule('{"score": "max_softmax", "threshold": 1.0}')).recognize(sheet)
    assert everything.digits == [] and len(everything.rejected) == 1
    nothing = DigitRecognizer(with_rule('{"score": "none"}'))
    assert nothing.reject.score == "none" and len(nothing.recognize(sheet).digits) == 1
    for bad, why in (
        ('{"score": "max_softmax", "threshold": 2}', "threshold in"),
        ('{"score": "energy"}', "'energy' is not one this runtime knows"),
        ("not json", "unreadable rejection rule"),
    ):
        with pytest.raises(ArtifactError, match=why):
            OnnxModel(with_rule(bad))


def test_a_bare_tutorial_state_dict_promises_no_rejection(tmp_path, test_split):
    """Exported with --checkpoint, the tutorial's own weights carry rejection "none" and still run."""
    import torch

    from edgedigits.export.exporter import ExportConfig, export
    from edgedigits.train.model import SimpleNN

    torch.manual_seed(0)
    torch.save(SimpleNN().state_dict(), tmp_path / "tutorial.pt")
    export(ExportConfig(checkpoint=tmp_path / "tutorial.pt", out=tmp_path / "out"), log=lambda _: None)
    recognizer = DigitRecognizer(tmp_path / "out" / "mnist_mlp.onnx")
    assert recognizer.reject.score == "none"
    result = recognizer.recognize(render_lines(test_split, ["2024"]))
    assert len(result.digits) == 4 and result.rejected == []


def test_one_frame_wide_piece_does_not_pair_every_piece():
    """The fragment sweep looks at each host's own reach: a frame-wide stroke that is no rule (too
    wavy) must not make the pairing quadratic, and small fragments still find their digit."""
    from edgedigits.runtime.segment import _fragment_hosts

    rng = np.random.default_rng(0)
    boxes = np.stack(
        [rng.integers(0, 1200, 400), rng.integers(0, 700, 400), np.full(400, 20), np.full(400, 30)], 1
    )
    boxes = np.vstack([boxes, [[0, 710, 1280, 8]], [[500, 0, 20, 30]], [[502, 33, 12, 6]]])
    hosts = _fragment_hosts(boxes.astype(np.int64), SegmentParams())
    assert hosts[-1] == len(boxes) - 2  # the small bar right under a digit joins it
    assert hosts[-3] == len(boxes) - 3  # the wide stroke joins nothing
