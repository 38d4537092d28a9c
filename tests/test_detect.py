import json
import os
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import cli, cli_process
from edgedigits.core import data, registry
from edgedigits.core.choices import Polarity, check_polarity
from edgedigits.core.errors import UsageError
from edgedigits.evaluation.scenes import SceneParams, make_scene
from edgedigits.runtime.app import DetectOptions
from edgedigits.runtime.boxes import greedy_matches, iou
from edgedigits.runtime.recognizer import Detection, DigitRecognizer, Recognition
from edgedigits.runtime.segment import resolve_polarity
from edgedigits.runtime.tracker import LabelStabilizer

FRAMES = 24
PAGE = Path(__file__).resolve().parents[1] / "docs" / "notebook_page.jpg"
PAGE_NUMBERS = "2024 17 365 12 48 1990 7 301 86420"


@pytest.fixture(scope="module")
def noisy_video(tmp_path_factory, data_dir):
    """A steady sheet of small digits filmed with heavy sensor noise and a little hand shake."""
    split = data.load_split("test", data_dir)
    rng = np.random.default_rng(11)
    scene = make_scene(
        split.images,
        split.labels,
        rng,
        replace(SceneParams(), digits=(6, 6), digit_px=(28, 40), noise_sigma=(1, 2)),
    )
    path = tmp_path_factory.mktemp("video") / "noisy.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 480))
    assert writer.isOpened()
    for _ in range(FRAMES):
        dx, dy = rng.integers(-2, 3, 2)
        shake = np.float32([[1, 0, dx], [0, 1, dy]])
        frame = cv2.warpAffine(scene.image, shake, (640, 480), borderMode=cv2.BORDER_REPLICATE).astype(
            np.float32
        )
        frame += rng.normal(0, 22, frame.shape)
        writer.write(np.clip(frame, 0, 255).astype(np.uint8))
    writer.release()
    return path, scene


def flicker(records):
    """Label changes of each box between consecutive frames, boxes matched by IoU."""
    changes = 0
    for prev, cur in zip(records, records[1:], strict=False):
        for d in cur["digits"]:
            match = max(prev["digits"], key=lambda p: iou(tuple(p["box"]), tuple(d["box"])), default=None)
            if match and iou(tuple(match["box"]), tuple(d["box"])) > 0.3 and match["label"] != d["label"]:
                changes += 1
    return changes


def test_video_json_lines_and_annotated_output(noisy_video, tmp_path):
    path, scene = noisy_video
    out = tmp_path / "annotated.avi"
    proc = cli("detect", "--source", str(path), "--json", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["frame"] for r in records] == list(range(FRAMES))
    for r in records:
        assert set(r) == {"frame", "digits", "lines", "partial", "rejected", "ms"} and r["ms"] > 0
        for d in r["digits"]:
            assert set(d) == {"label", "confidence", "box"} and len(d["box"]) == 4
    found = np.mean([len(r["digits"]) for r in records])
    assert found == pytest.approx(len(scene.boxes), abs=1)
    cap = cv2.VideoCapture(str(out))
    assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
    assert (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (640, 480)
    summary = proc.stderr.splitlines()[-1]
    assert summary.startswith(f"{FRAMES} frame(s), {sum(len(r['digits']) for r in records)} digit(s), ")
    assert summary.endswith(" ms/frame mean; end of input")


def test_stabilizer_removes_flicker_on_noisy_video(noisy_video):
    path, _ = noisy_video
    raw = [
        json.loads(x)
        for x in cli("detect", "--source", str(path), "--json", "--stabilize", "1").stdout.split("\n")
        if x
    ]
    stable = [json.loads(x) for x in cli("detect", "--source", str(path), "--json").stdout.split("\n") if x]
    assert len(raw) == len(stable) == FRAMES
    assert flicker(raw) >= 3, "the video should make the raw labels flicker"
    assert flicker(stable) <= flicker(raw) // 3


def test_stabilizer_votes_over_the_window():
    stab = LabelStabilizer(window=5, numbers=False)  # the digits' own votes; numbers: below
    seq = [7, 7, 1, 7, 1, 7, 7, 9, 7]
    out = []
    for k, label in enumerate(seq):
        box = (100 + k % 2, 50, 30, 40)  # jitter of a pixel stays the same track
        result = stab.update(Recognition([Detection(label, 0.8, box)], [], np.zeros((1, 28, 28), np.float32)))
        out.append(result.digits[0].label)
    assert out == [7] * len(seq)
    # a digit that really changes wins once it holds the window's majority
    for _ in range(3):
        result = stab.update(Recognition([Detection(3, 0.9, (100, 50, 30, 40))], [], np.zeros((1, 28, 28))))
    assert result.digits[0].label == 3 and result.lines[0].text == "3"


def test_greedy_matching_is_one_to_one_best_pairs_first():
    a = [(0, 0, 10, 10), (100, 0, 10, 10), (5, 0, 10, 10)]
    b = [(4, 0, 10, 10), (300, 0, 10, 10), (0, 0, 10, 10)]
    # IoUs: a0-b2 1.0, a2-b0 0.82, a0-b0 0.43, a2-b2 0.33; the last two come when both sides are taken
    assert greedy_matches(a, b, 0.3) == [(0, 2), (2, 0)]
    assert greedy_matches(a, b, 1.0) == [(0, 2)]
    assert greedy_matches([(0, 0, 10, 10)], [(4, 0, 10, 10)], 0.5) == []  # IoU 0.43
    assert greedy_matches([(0, 0, 10, 10)], [(0, 0, 10, 10)] * 2, 0.5) == [(0, 1)]  # a tie: higher index
    assert greedy_matches([], b, 0.3) == greedy_matches(a, [], 0.3) == []


def test_the_tracker_and_the_scorer_match_boxes_alike():
    """One matcher for a video's tracks and a scene's digits: best pairs first, not each truth in turn
    (which would give truth 0 the box of truth 1, IoU 0.67, and truth 1 the leftover, IoU 0.33)."""
    from edgedigits.evaluation import scenes
    from edgedigits.runtime import tracker

    assert scenes.greedy_matches is tracker.greedy_matches is greedy_matches
    score = scenes.Score()
    truth, found = [(0, 0, 10, 10), (2, 0, 10, 10)], [(2, 0, 10, 10), (-3, 0, 10, 10)]
    score.add(truth, [1, 2], found, [2, 1], min_iou=0.3)
    assert (score.matched, score.correct) == (2, 2)


def test_digits_cut_by_the_frame_are_neither_asked_for_nor_counted():
    """A still page's digit whose ink the border cuts is reported as partial by design: scoring leaves it
    and a reading of it out, and numbers holding it."""
    from edgedigits.evaluation.scenes import Page, Score

    page = Page(
        np.zeros((100, 200, 3), np.uint8),
        [(10, 10, 20, 30), (40, 10, 20, 30), (185, 50, 15, 30)],  # the third reaches the right border
        [1, 2, 3],
        [("12", (10, 10, 50, 30)), ("3", (185, 50, 15, 30))],
        "notebook",
    )
    assert page.cut() == {2} and page.whole_numbers() == [("12", (10, 10, 50, 30))]
    score = Score()
    score.add(
        page.boxes,
        page.labels,
        [(10, 10, 20, 30), (185, 50, 15, 30), (100, 60, 10, 20)],
        [1, 3, 7],
        ignore=page.cut(),
    )
    assert (score.truths, score.predictions, score.matched, score.correct) == (2, 2, 1, 1)


def test_image_folder_and_outputs(noisy_video, tmp_path, data_dir):
    _, scene = noisy_video
    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), scene.image)
    cv2.imwrite(str(folder / "b.jpg"), cv2.cvtColor(scene.image, cv2.COLOR_BGR2GRAY))
    (folder / "notes.txt").write_text("not an image")
    proc = cli("detect", "--source", str(folder), "--json", "--output", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["source"] for r in records] == ["a.png", "b.jpg"]
    assert records[0]["digits"] == records[1]["digits"] or len(records[1]["digits"]) == len(scene.boxes)
    for r in records:  # the colour PNG and the grey JPEG: every written digit found, and read right
        boxes, labels = [tuple(d["box"]) for d in r["digits"]], [d["label"] for d in r["digits"]]
        pairs = greedy_matches(scene.boxes, boxes, 0.5)
        assert len(pairs) == len(boxes) == len(scene.boxes) == 6
        assert [labels[j] for _, j in sorted(pairs)] == scene.labels
    numbers = " ".join(line["text"] for line in records[0]["lines"])
    assert sorted(numbers.replace(" ", "")) == sorted("".join(map(str, scene.labels)))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.jpg"]
    proc = cli("detect", "--source", str(folder / "a.png"), "--output", str(tmp_path / "one.png"))
    assert proc.returncode == 0 and cv2.imread(str(tmp_path / "one.png")).shape == scene.image.shape
    assert proc.stdout.startswith(f"a.png: {numbers}  (6 digits, ") and proc.stdout.endswith(" ms)\n")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["--source", "missing.png"],
            1,
            "source missing.png is not a camera index, device, stream URL, file or folder",
        ),
        (["--source", "7"], 1, "cannot open camera 7"),
        (["--source", "/dev/video9"], 1, "camera device /dev/video9 does not exist"),
        (["--source", "{corrupt}"], 1, "cannot read image {corrupt} (unsupported or corrupt)"),
        (["--source", "{junkvideo}"], 1, "cannot open video file {junkvideo}"),
        # onnxruntime's own reason follows, in its words
        (
            ["--source", "{image}", "--model", "{junkmodel}"],
            1,
            "{junkmodel} is not a loadable ONNX model: ...",
        ),
        (
            ["--source", "{image}", "--output", "out.xyz"],
            2,
            "--output out.xyz: use an image (.bmp, .jpeg, .jpg, .pgm, .png, .ppm, .tif, .tiff, .webp), "
            "a video (.mp4, .avi, .mkv) or a folder",
        ),
        (["--source", "{image}", "--stabilize", "0"], 2, "--stabilize must be >= 1, got 0"),
    ],
)
def test_errors_are_one_line(tmp_path, noisy_video, args, code, message):
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    (tmp_path / "junk.avi").write_bytes(os.urandom(4096))
    (tmp_path / "junk.onnx").write_bytes(b"nope")
    cv2.imwrite(str(tmp_path / "ok.png"), noisy_video[1].image)
    paths = {
        "corrupt": tmp_path / "corrupt.png",
        "junkvideo": tmp_path / "junk.avi",
        "junkmodel": tmp_path / "junk.onnx",
        "image": tmp_path / "ok.png",
    }
    proc = cli("detect", *[a.format(**paths) for a in args])
    assert proc.returncode == code
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1, proc.stderr
    expected = f"error: {message.format(**paths)}"
    if expected.endswith("..."):
        assert lines[0].startswith(expected.removesuffix("...")), proc.stderr
    else:
        assert lines == [expected] and proc.stderr.splitlines() == lines, proc.stderr
    assert "Traceback" not in proc.stderr


def test_webcam_runs_headless_without_a_display(noisy_video, tmp_path):
    path, _ = noisy_video
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = cli_process("webcam", "--camera", str(path), "--max-frames", "5", env=env)
    assert proc.returncode == 0, proc.stderr
    log = proc.stderr.splitlines()
    assert proc.stdout == "" and log[0] == "no display found: running headless" and len(log) == 2
    assert log[1].startswith("5 frame(s), ") and log[1].endswith(" ms/frame mean; stopped after 5 frames")


def test_unopenable_camera_prints_exactly_one_line():
    proc = cli_process("detect", "--source", "7")
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: cannot open camera 7"  # OpenCV's own backend chatter stays quiet


def run_main(monkeypatch, *args: str) -> tuple[int, str, str]:
    """``edgedigits ARGS`` through ``conftest.cli`` with a wide terminal (--help on one line per option)."""
    monkeypatch.setenv("COLUMNS", "200")
    proc = cli(*args)
    return proc.returncode, proc.stdout, proc.stderr


def test_polarity_is_one_enum_checked_in_one_place():
    assert check_polarity("light-on-dark") is Polarity.LIGHT_ON_DARK and str(Polarity.AUTO) == "auto"
    assert [p.value for p in Polarity] == ["dark-on-light", "light-on-dark", "auto"]
    message = "polarity must be one of dark-on-light, light-on-dark, auto, got 'sideways'"
    for check in (
        check_polarity,
        lambda p: resolve_polarity(np.zeros((5, 5), np.uint8), p),
        lambda p: DigitRecognizer(polarity=p),
        lambda p: DetectOptions(source="x", polarity=p),
    ):
        with pytest.raises(UsageError) as err:
            check("sideways")
        assert str(err.value) == message


@pytest.mark.parametrize("command", ["detect", "webcam"])
def test_polarity_and_backend_choices_are_listed_and_checked_by_the_parser(monkeypatch, command):
    code, out, err = run_main(monkeypatch, command, "--help")
    assert code == 0 and err == ""
    options = {
        line.split()[1]: line.split()[2]
        for line in out.splitlines()
        if line.startswith("│ ") and "--" in line
    }
    assert options["--polarity"] == "<dark-on-light|light-on-dark|auto>"
    assert options["--backend"] == "<onnxruntime|opencv|openvino|executorch|c|litert|tflm|mnn|ncnn>"
    code, out, err = run_main(monkeypatch, command, "--polarity", "sideways")
    assert (code, out) == (2, "")
    assert err == (
        "error: Invalid value for '--polarity': Value error, 'sideways' is not one of 'dark-on-light', "
        f"'light-on-dark', 'auto'. (see: edgedigits {command} --help)\n"
    )
    code, out, err = run_main(monkeypatch, command, "--backend", "tflite")
    assert (code, out) == (2, "")
    assert err == (
        "error: Invalid value for '--backend': Value error, 'tflite' is not one of 'onnxruntime', 'opencv', "
        "'openvino', 'executorch', 'c', 'litert', 'tflm', 'mnn', 'ncnn'. "
        f"(see: edgedigits {command} --help)\n"
    )


def test_a_runtime_row_added_to_the_table_is_offered_by_backend(monkeypatch):
    """--backend reads the format table when the command line is parsed: a new runtime row is listed,
    accepted and run, with no word of the CLI changed."""
    copy = registry.Runtime("onnxruntime", "edgedigits.runtime.session:OnnxModel", backend="ort-copy")
    code, _, err = run_main(monkeypatch, "detect", "--source", str(PAGE), "--backend", "ort-copy")
    assert code == 2 and "'ort-copy' is not one of" in err
    monkeypatch.setattr(registry, "RUNTIMES", (*registry.RUNTIMES, copy))
    code, out, err = run_main(monkeypatch, "detect", "--help")
    assert code == 0 and "<onnxruntime|opencv|openvino|executorch|c|litert|tflm|mnn|ncnn|ort-copy>" in out
    code, out, err = run_main(monkeypatch, "detect", "--source", str(PAGE), "--backend", "ort-copy")
    assert code == 0, err
    assert out.startswith(f"notebook_page.jpg: {PAGE_NUMBERS}  (26 digits, ")
    assert err.startswith("1 frame(s), 26 digit(s), ")
