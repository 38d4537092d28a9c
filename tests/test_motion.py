"""The reader in motion: numbers cut by the frame's border are partial, never read; numbers are tracked
and voted as units across frames (the camera's pan taken out); the --debug crops panel for video."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edgedigits.runtime.boxes import Box
from edgedigits.runtime.recognizer import CUT, Detection, DigitRecognizer, Line, Recognition
from edgedigits.runtime.tracker import LabelStabilizer, estimate_shift

PAGE = Path(__file__).resolve().parents[1] / "docs" / "notebook_page.jpg"


@pytest.fixture(scope="module")
def page_and_reading():
    image = cv2.imread(str(PAGE))
    recognizer = DigitRecognizer()
    return image, recognizer, recognizer.recognize(image)


def _overlap(a: Box, b: Box) -> bool:
    return min(a[0] + a[2], b[0] + b[2]) > max(a[0], b[0]) and min(a[1] + a[3], b[1] + b[3]) > max(a[1], b[1])


# (border, how the page is cropped): each crop's edge runs through the middle of a row's digits
CROPS = {
    "left": (slice(None), slice(152, None)),  # through the 2 of 2024
    "right": (slice(None), slice(None, 302)),  # through the last 4 of 2024
    "top": (slice(60, None), slice(None)),  # through the first row: 2024 and 17
    "bottom": (slice(None, 372), slice(None)),  # through 86420
}


@pytest.mark.parametrize("border", CROPS)
def test_a_digit_cut_by_each_border_is_not_in_lines(page_and_reading, border):
    image, recognizer, whole = page_and_reading
    rows, cols = CROPS[border]
    y0, x0 = rows.start or 0, cols.start or 0
    y1 = rows.stop or image.shape[0]
    x1 = cols.stop or image.shape[1]
    cut = []  # the digits the crop's edge runs through, in the crop's coordinates, clipped to it
    for d in whole.digits:
        x, y, w, h = d.box
        if (x < x0 < x + w) or (x < x1 < x + w) or (y < y0 < y + h) or (y < y1 < y + h):
            cx, cy = max(x, x0), max(y, y0)
            cut.append((cx - x0, cy - y0, min(x + w, x1) - cx, min(y + h, y1) - cy))
    assert cut, "the crop must cut through a digit"
    result = recognizer.recognize(np.ascontiguousarray(image[rows, cols]))
    for line in result.lines:
        assert not any(_overlap(line.box, c) for c in cut), f"{line.text} has a cut digit ({border})"
    assert result.partial and all("?" in p.text for p in result.partial)
    assert any(_overlap(p.box, c) for p in result.partial for c in cut)
    assert {"partial"} <= set(result.to_json())


def test_a_whole_digit_a_pixel_from_the_border_is_read(page_and_reading):
    """The margin that catches a stroke the border cuts (it ends 0-2 px inside the frame) must not take a
    whole digit ending a pixel short of the border: the border itself holds no ink beside it."""
    image, recognizer, whole = page_and_reading
    x = min(d.box[0] for d in whole.digits)
    touching = recognizer.recognize(np.ascontiguousarray(image[:, x:]))
    assert {"?024", "?8", "?6420"} <= {p.text for p in touching.partial}
    result = recognizer.recognize(np.ascontiguousarray(image[:, x - 1 :]))
    assert {"2024", "48", "86420"} <= {line.text for line in result.lines}


def _ring(x: int, y: int) -> np.ndarray:
    """A 200x150 mask holding a 10x20 ring (a 0) with a 3 px stroke at (x, y)."""
    mask = np.zeros((150, 200), np.uint8)
    mask[y : y + 20, x : x + 10] = 255
    mask[y + 3 : y + 17, x + 3 : x + 7] = 0
    return mask


# a ring in the margin of each border, and ink on that border beside it (its last row or column)
BESIDE = [
    ((2, 60), (slice(70, 73), slice(0, 2))),
    ((60, 2), (slice(0, 2), slice(65, 68))),
    ((188, 60), (slice(79, 80), slice(198, 200))),
    ((60, 128), (slice(148, 150), slice(69, 70))),
]


@pytest.mark.parametrize(("at", "ink"), BESIDE)
def test_a_piece_in_the_margin_is_cut_only_where_the_border_beside_it_holds_ink(at, ink):
    from edgedigits.runtime.segment import SegmentParams, find_blobs

    params, mask = SegmentParams(), _ring(*at)
    box = [*at, 10, 20]
    assert find_blobs(mask, params, mask).boxes.tolist() == [box]  # a whole digit near the border
    raw = mask.copy()
    raw[ink] = 255  # its stroke reaches the border before the opening
    found = find_blobs(mask, params, raw)
    assert found.boxes.tolist() == [] and found.cut.tolist() == [box]
    assert find_blobs(mask, params).cut.tolist() == [box]  # without the thresholded mask: the margin alone


def test_a_rule_meeting_the_border_under_a_digit_is_not_its_stroke():
    from edgedigits.runtime.segment import SegmentParams, find_blobs

    mask = _ring(2, 60)
    raw = mask.copy()
    raw[80:82, 0:12] = 255  # a ruled line right under the ring, running into the border
    assert find_blobs(mask, SegmentParams(), raw).boxes.tolist() == [[2, 60, 10, 20]]


def test_still_pages_read_as_before(page_and_reading):
    _, _, whole = page_and_reading
    assert " ".join(line.text for line in whole.lines) == "2024 17 365 12 48 1990 7 301 86420"
    assert whole.partial == [] and whole.cut == []
    assert all("votes" not in line.to_json() for line in whole.lines)  # stills are not voted


def _frame(labels: str, x0: int, conf: float = 0.9) -> Recognition:
    digits = [Detection(int(c), conf, (x0 + 40 * i, 100, 30, 40)) for i, c in enumerate(labels)]
    return Recognition(digits, [], np.zeros((len(digits), 28, 28), np.float32))


def test_a_numbers_text_stays_put_while_one_digit_wavers():
    stab = LabelStabilizer(window=7)
    shown = []
    for k in range(12):
        digits = _frame("7389" if k == 6 else "7359", 50 + k % 2).digits  # frame 6: the 5 read as an 8
        if k == 9:  # frame 9: the 3 is not found at all, and the number falls apart at the gap
            digits = [d for i, d in enumerate(digits) if i != 1]
        result = stab.update(Recognition(digits, [], np.zeros((len(digits), 28, 28), np.float32)))
        assert len(result.lines) == 1
        shown.append(result.lines[0].text)
        record = result.lines[0].to_json()
        assert set(record) == {"text", "box", "votes", "frames"} and 1 <= record["votes"] <= record["frames"]
    assert shown == ["7359"] * 12
    assert record["frames"] == 12 and record["votes"] == 11  # the frame with the 3 missing ("759") differs


def _tracked(stab: LabelStabilizer, digits: list[Detection], marks: list[Detection]) -> Recognition:
    """One frame's reading as ``recognize`` returns it, with a crop per digit and per rejected mark."""
    crops = np.zeros((len(digits), 28, 28), np.float32)
    out = stab.update(Recognition(digits, [], crops, marks, rejected_crops=np.zeros((len(marks), 28, 28))))
    assert len(out.crops) == len(out.digits) and len(out.rejected_crops) == len(out.rejected)
    assert len(out.digits) + len(out.rejected) == len(digits) + len(marks)  # shown or rejected, never lost
    return out


def _beside_41(read_as_digit: set[int], reject_vote: float) -> list[str]:
    """Twelve frames of "41" with a mark just right of it that the model rejects, but for the frames in
    ``read_as_digit`` (an 8 at 0.5); the texts shown, by the digits' own votes (the number's: above)."""
    stab, shown = LabelStabilizer(window=7, reject_vote=reject_vote, numbers=False), []
    for k in range(12):
        digits = _frame("41", 50 + k % 2).digits
        mark = Detection(8, 0.5 if k in read_as_digit else 0.2, (136 + k % 2, 100, 30, 40))
        out = _tracked(stab, *((digits + [mark], []) if k in read_as_digit else (digits, [mark])))
        shown.append(" ".join(line.text for line in out.lines))
    return shown


def test_a_mark_read_as_a_digit_now_and_then_stays_out_of_the_number():
    assert _beside_41({4, 5, 9}, reject_vote=0.5) == ["41"] * 12
    assert _beside_41({4, 5, 9}, reject_vote=0)[4] == "418", "the check above must be able to fail"
    # read as a digit in most of its frames, it is a digit: shown in the frames that reject it too
    mostly = _beside_41(set(range(12)) - {3, 7}, reject_vote=0.5)
    assert mostly == ["418"] * 12
    assert _beside_41(set(range(12)) - {3, 7}, reject_vote=0)[3] == "41"


def test_a_digit_rejected_for_a_frame_keeps_its_place_and_label():
    def shown(reject_vote: float) -> list[str]:
        stab, texts = LabelStabilizer(window=7, reject_vote=reject_vote), []
        for k in range(6):  # first seen rejected (no reading yet: not shown), then rejected once more
            seven = Detection(7 if k != 2 else 1, 0.9 if k != 2 else 0.2, (50, 100, 30, 40))
            out = _tracked(stab, *(([], [seven]) if k in (0, 2) else ([seven], [])))
            texts.append(" ".join(line.text for line in out.lines))
            if k == 2 and reject_vote:
                assert out.digits[0].label == 7 and out.rejected == []  # the 1 it was rejected as: voted away
        return texts

    assert shown(0.5) == ["", "7", "7", "7", "7", "7"]
    assert shown(0) == ["", "7", "", "7", "7", "7"]


def test_without_number_votes_the_wavering_digit_shows(monkeypatch):
    stab = LabelStabilizer(window=7, numbers=False)
    shown = []
    for k in range(8):
        digits = _frame("7359", 50).digits
        if k == 5:
            digits = [d for i, d in enumerate(digits) if i != 1]
        shown.append(
            stab.update(Recognition(digits, [], np.zeros((len(digits), 28, 28), np.float32))).lines[0].text
        )
    assert shown[5] != "7359", "the check above must be able to fail"


def test_the_tracker_associates_numbers_under_a_pan():
    """The camera pans 100 px a frame, more than a number is wide: without the motion taken out, no box
    overlaps its last position and every track starts afresh."""
    stab, plain = LabelStabilizer(window=5), LabelStabilizer(window=5, motion=False)
    texts = {"48": 400, "1990": 100, "7": 700}  # numbers at their x on the first frame
    for k in range(8):
        digits = []
        for text, x in texts.items():
            for i, c in enumerate(text):
                label = 6 if (k == 4 and text == "1990" and i == 1) else int(c)  # one frame: 1690
                digits.append(Detection(label, 0.9, (x - 100 * k + 40 * i, 100 + (k % 3), 30, 40)))
        frame = Recognition(digits, [], np.zeros((len(digits), 28, 28), np.float32))
        out, raw = stab.update(frame), plain.update(frame)
        assert sorted(line.text for line in out.lines) == sorted(texts)
        if k:
            assert stab.shift[0] == pytest.approx(-100, abs=1.5)
            assert {line.frames for line in out.lines} == {min(k + 1, 10)}  # one track each, since frame 0
    assert len(stab.number_tracks) == 3
    assert len(plain.number_tracks) > 3  # without the motion: tracks lost and started afresh
    assert {line.frames for line in raw.lines} != {5}


def test_estimate_shift_finds_the_pan_among_many_like_digits():
    rng = np.random.default_rng(0)
    before = [(int(x), int(y), 30, 40) for x, y in rng.uniform(0, 600, (40, 2))]
    after = [(x + 23, y - 7, w, h) for x, y, w, h in before[5:]] + [(10, 10, 30, 40)]
    dx, dy, support = estimate_shift(before, after)
    assert (dx, dy) == pytest.approx((23, -7), abs=0.5) and support >= 30
    assert estimate_shift(before[:1], after[:1])[2] < 2  # one box is no estimate
    assert estimate_shift([], after) == (0.0, 0.0, 0)


def test_estimate_shift_takes_the_smallest_motion_among_equally_supported_ones():
    before = [(50, 100, 20, 30), (90, 100, 20, 30), (136, 100, 20, 30)]
    after = [(51, 100, 20, 30), (91, 100, 20, 30)]  # two pairs agree on +1, two on about -42
    assert estimate_shift(before, after) == (1.0, 0.0, 2)


def test_partial_numbers_pass_through_the_stabilizer():
    stab = LabelStabilizer()
    digits = [Detection(1, 0.9, (50, 100, 30, 40))]
    cut = [Detection(CUT, 0.0, (0, 100, 34, 40))]  # 16 px from the 1: a piece of its number
    out = stab.update(Recognition(digits, [], np.zeros((1, 28, 28), np.float32), cut=cut))
    assert out.lines == [] and [p.text for p in out.partial] == ["?1"]
    assert isinstance(out.partial[0], Line)
    # half a digit height away or more, a piece at the border is another thing: the 1 is a number
    far = [Detection(CUT, 0.0, (0, 100, 28, 40))]  # 22 px away
    out = LabelStabilizer().update(Recognition(digits, [], np.zeros((1, 28, 28), np.float32), cut=far))
    assert [ln.text for ln in out.lines] == ["1"] and out.partial == []


def test_the_crops_window_image_is_refreshed_for_video_headless(tmp_path, monkeypatch):
    """The --debug crops window of a video shows each frame's crops (the image it would show, computed
    with no display), always at one size so the window keeps its place beside the main one."""
    from edgedigits.runtime import app, window
    from edgedigits.runtime.draw import crops_panel

    image = cv2.imread(str(PAGE))
    video = tmp_path / "pan.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"FFV1"), 10, (400, 300))
    for k in range(4):  # a pan over the page: other digits in each frame
        writer.write(np.ascontiguousarray(image[20 + 60 * k : 320 + 60 * k, 110 + 30 * k : 510 + 30 * k]))
    writer.release()
    shown = []
    monkeypatch.setattr(
        window.Window, "show", lambda self, view, crops=None, wait_ms=1: shown.append(crops) or -1
    )
    opts = app.DetectOptions(source=str(video), display=False, debug=True, per_frame_lines=False)
    app.run_detect(opts, emit=lambda _: None, log=lambda _: None)
    assert len(shown) == 4 and all(c is not None for c in shown)
    assert len({c.shape for c in shown}) == 1, "one size for every frame"
    assert all((a != b).any() for a, b in zip(shown, shown[1:], strict=False)), "refreshed each frame"
    assert (shown[0] == crops_panel(np.zeros((0, 28, 28), np.float32))).mean() < 1  # not an empty panel
    many = crops_panel(np.ones((40, 28, 28), np.float32), [Detection(1, 0.9, (0, 0, 1, 1))] * 40)
    assert many.shape == shown[0].shape  # more crops than cells: still the same window
