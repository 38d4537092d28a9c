"""The detect/webcam shell: one per-frame step for stills and video, one --output check, the window's
pacing and placement, and the --debug drawing of rejected marks. In-process and without a display."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from edgedigits.core import data
from edgedigits.core.errors import UsageError
from edgedigits.runtime import app, window
from edgedigits.runtime.draw import BOX_COLOR, REJECTED_COLOR, annotate, crops_mosaic
from edgedigits.runtime.recognizer import Detection, Recognition
from edgedigits.runtime.sources import SourceSpec

KEYS = {"frame", "digits", "lines", "partial", "rejected", "ms"}


@pytest.fixture(scope="module")
def sheet(data_dir) -> np.ndarray:
    """Four MNIST test digits, dark ink on light paper, in a row."""
    split = data.load_split("test", data_dir)
    page = np.full((160, 400, 3), 235, np.uint8)
    for i in range(4):
        ink = cv2.resize(split.images[i], (56, 56), interpolation=cv2.INTER_LINEAR)
        page[50:106, 40 + 90 * i : 96 + 90 * i] -= (ink[..., None] * 0.9).astype(np.uint8)
    return page


@pytest.fixture
def media(sheet, tmp_path) -> SimpleNamespace:
    """The sheet as an image and as a 10 fps, 3-frame lossless video."""
    image, video = tmp_path / "sheet.png", tmp_path / "sheet.avi"
    cv2.imwrite(str(image), sheet)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"FFV1"), 10, sheet.shape[1::-1])
    assert writer.isOpened()
    for _ in range(3):
        writer.write(sheet)
    writer.release()
    return SimpleNamespace(image=image, video=video)


def detect(source: Path, **options) -> tuple[list[dict], app.Summary]:
    lines: list[str] = []
    opts = app.DetectOptions(source=str(source), json_lines=True, display=False, **options)
    summary = app.run_detect(opts, emit=lines.append, log=lambda _: None)
    return [json.loads(line) for line in lines], summary


def test_stills_and_video_go_through_one_step_with_one_schema(media, monkeypatch):
    calls = []
    step = app.FrameStep.__call__
    monkeypatch.setattr(
        app.FrameStep, "__call__", lambda self, *a, **k: calls.append(1) or step(self, *a, **k)
    )
    stills, _ = detect(media.image)
    video, summary = detect(media.video)
    assert len(calls) == len(stills) + len(video) == 1 + 3
    assert set(stills[0]) == KEYS | {"source"} and stills[0]["source"] == "sheet.png"
    assert all(set(r) == KEYS for r in video) and [r["frame"] for r in video] == [0, 1, 2]
    assert [d["label"] for d in stills[0]["digits"]] == [7, 2, 1, 0]  # MNIST test images 0-3
    assert [line["text"] for line in stills[0]["lines"]] == ["7", "2", "1", "0"]  # 34 px apart: 4 numbers
    same = [(d["label"], d["box"]) for d in stills[0]["digits"]]
    assert [(d["label"], d["box"]) for d in video[0]["digits"]] == same  # a lossless frame reads alike
    assert summary.frames == 3 and summary.ended == "end of input"


def test_max_frames_stops_stills_and_video_alike(media, tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(folder / name), cv2.imread(str(media.image)))
    for source in (folder, media.video):
        records, summary = detect(source, max_frames=1)
        assert len(records) == 1 and summary.ended == "stopped after 1 frames"
        assert summary.frames == 1 and summary.digits == len(records[0]["digits"]) == 4


@pytest.mark.parametrize(
    ("kind", "output", "expected"),
    [
        ("image", "out.png", "image"),
        ("image", "annotated", "folder"),
        ("folder", "annotated", "folder"),
        ("video", "out.mp4", "video"),
        ("camera", "out.avi", "video"),
        ("stream", "out.mkv", "video"),
        ("image", "out.xyz", "--output out.xyz: use an image (.bmp, .jpeg"),
        ("video", "out.xyz", "--output out.xyz: use an image"),
        ("folder", "one.png", "--output one.png: a folder of images needs an output folder, not a file"),
        ("video", "frame.png", "--output frame.png: a video source needs a video file (.mp4, .avi, .mkv)"),
        ("camera", "annotated", "--output annotated: a video source needs a video file"),
        ("image", "clip.mp4", "--output clip.mp4: an image source needs an image file or a folder"),
    ],
)
def test_the_one_output_check(tmp_path, kind, output, expected):
    spec = SourceSpec(kind, str(tmp_path / "src"))
    if expected in ("image", "folder", "video"):
        checked = app.check_output(spec, Path(output))
        assert checked is not None and checked.kind == expected and checked.path == Path(output)
    else:
        with pytest.raises(UsageError) as err:
            app.check_output(spec, Path(output))
        assert str(err.value).startswith(expected)
    assert app.check_output(spec, None) is None


def test_output_into_the_source_folder_is_refused(tmp_path):
    with pytest.raises(UsageError, match="is the source folder; the input images would be overwritten"):
        app.check_output(SourceSpec("folder", str(tmp_path)), tmp_path / "." / "")


def test_a_wrong_output_stops_before_the_model_or_any_frame(media, monkeypatch):
    def never(*_, **__):
        raise AssertionError("reached past the --output check")

    monkeypatch.setattr(app, "DigitRecognizer", never)
    monkeypatch.setattr(app, "Feed", never)
    emitted: list[str] = []
    opts = app.DetectOptions(source=str(media.video), output=Path("frame.png"), display=False)
    with pytest.raises(UsageError, match="a video source needs a video file"):
        app.run_detect(opts, emit=emitted.append, log=emitted.append)
    assert emitted == []
    app.DetectOptions(source="anything", output=Path("out.xyz"))  # options alone no longer judge --output


@pytest.mark.parametrize(
    ("fps", "elapsed_s", "wait"),
    [(10, 0.0, 100), (10, 0.03, 70), (30, 0.0, 33), (25, 0.0395, 1), (25, 0.2, 1), (60, 0.010, 7)],
)
def test_frame_wait_ms(fps, elapsed_s, wait):
    assert window.frame_wait_ms(fps, elapsed_s) == wait


def _step(kind: str | None) -> app.FrameStep:
    capture = None if kind is None else SimpleNamespace(fps=10.0, spec=SourceSpec(kind, "x"))
    opts = app.DetectOptions(source="x", display=False)
    return app.FrameStep(opts, None, window.Window(False, print), None, print, print, capture)


def test_only_video_files_are_paced():
    still, camera, stream, video = _step(None), _step("camera"), _step("stream"), _step("video")
    assert still._wait_ms() == 0  # a still waits for a key
    assert camera._wait_ms() == stream._wait_ms() == 1  # live sources: as fast as frames come
    video.shown_at = time.perf_counter() - 0.03
    assert 69 <= video._wait_ms() <= 70  # 100 ms a frame at 10 fps, 30 of them already spent


class FakeGui:
    """Stands in for OpenCV's highgui: records what the window asked for."""

    def __init__(self, monkeypatch) -> None:
        self.calls: list[tuple] = []
        for name in ("imshow", "namedWindow", "moveWindow", "destroyAllWindows"):
            monkeypatch.setattr(window.cv2, name, lambda *a, _n=name: self.calls.append((_n, *a)))
        monkeypatch.setattr(window.cv2, "waitKey", lambda ms: self.calls.append(("waitKey", ms)) or -1)
        monkeypatch.setattr(window.cv2, "getWindowProperty", lambda *_: 1.0)
        monkeypatch.setattr(window, "display_available", lambda: True)

    def named(self, name: str) -> list[tuple]:
        return [c[1:] for c in self.calls if c[0] == name]


def test_video_file_in_a_window_plays_at_its_frame_rate(media, monkeypatch):
    gui = FakeGui(monkeypatch)
    opts = app.DetectOptions(source=str(media.video), display=True, per_frame_lines=False)
    app.run_detect(opts, emit=lambda _: None, log=lambda _: None)
    waits = [ms for (ms,) in gui.named("waitKey")]
    assert len(waits) == 3 and all(ms <= 100 for ms in waits) and max(waits) > 50, waits  # 10 fps, less work


def test_debug_crops_window_opens_beside_the_main_one(media, sheet, monkeypatch):
    monkeypatch.setenv("QT_LOGGING_RULES", "")  # restored after the test, then unset for it
    monkeypatch.delenv("QT_LOGGING_RULES")
    gui = FakeGui(monkeypatch)
    opts = app.DetectOptions(source=str(media.video), display=True, debug=True, per_frame_lines=False)
    app.run_detect(opts, emit=lambda _: None, log=lambda _: None)
    assert gui.named("moveWindow") == [
        (window.WINDOW, 0, 0),
        (window.CROPS_WINDOW, sheet.shape[1] + window.CROPS_GAP, 0),
    ]
    first_show = next(i for i, c in enumerate(gui.calls) if c[0] == "imshow")
    assert max(i for i, c in enumerate(gui.calls) if c[0] == "moveWindow") < first_show  # placed, then shown
    shown = [name for name, _ in gui.named("imshow")]
    assert shown == [window.WINDOW, window.CROPS_WINDOW] * 3
    assert window.os.environ["QT_LOGGING_RULES"] == window.QT_QUIET_RULES


def test_a_users_qt_logging_rules_are_kept(monkeypatch):
    monkeypatch.setenv("QT_LOGGING_RULES", "qt.*=true")
    FakeGui(monkeypatch)
    window.Window(True, print)
    assert window.os.environ["QT_LOGGING_RULES"] == "qt.*=true"


def _recognition() -> Recognition:
    digit = Detection(7, 0.95, (20, 30, 40, 50))
    rejected = Detection(1, 0.2, (140, 30, 40, 50))
    return Recognition([digit], [], np.zeros((1, 28, 28), np.float32), [rejected])


def test_rejected_marks_are_drawn_grey_and_only_with_debug():
    frame = np.full((120, 220, 3), 255, np.uint8)
    result = _recognition()
    plain, debug = annotate(frame, result), annotate(frame, result, show_rejected=True)
    x, y, w, h = result.rejected[0].box
    region = (slice(y - 2, y + h + 3), slice(x - 2, x + w + 3))
    assert (plain[region] == 255).all(), "without --debug a rejected mark is not drawn"
    edge = debug[y, x + 1 : x + w]  # the box's top edge
    assert (edge == REJECTED_COLOR).all(axis=1).mean() > 0.9
    for digit_colour in (BOX_COLOR, (0, 140, 255)):
        assert not (debug[region] == digit_colour).all(axis=2).any(), "a rejected mark looks like a digit"
    dx, dy, _, _ = result.digits[0].box
    assert tuple(plain[dy, dx + 5]) == tuple(debug[dy, dx + 5]) == BOX_COLOR  # digits drawn either way


def test_crops_mosaic_is_readable():
    crops = np.zeros((8, 28, 28), np.float32)
    crops[:, 10:18, 12:16] = 1.0
    digits = [Detection(i, 0.9, (0, 0, 1, 1)) for i in range(8)]
    mosaic = crops_mosaic(crops, digits)
    assert mosaic.shape == (2 * (84 + 22 + 4) + 4, 6 * (84 + 4) + 4, 3)  # 3x cells, 6 a row, captions
    caption = mosaic[4 + 84 : 4 + 84 + 22, 4 : 4 + 84]
    assert (caption == BOX_COLOR).all(axis=2).any(), "each crop carries its label, coloured like its box"
    empty = crops_mosaic(np.zeros((0, 28, 28), np.float32))
    assert empty.std() > 0  # "no digits", not a black square
    assert empty.shape == (84, 3 * 84, 3) and set(np.unique(empty)) >= {40, 200}  # grey text on dark grey
