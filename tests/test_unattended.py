"""Running unattended: segmented recordings that survive SIGKILL, JSON lines that are whole, streams that
come back (a real loopback MJPEG server read through OpenCV), and SIGTERM/SIGINT that stop cleanly.
The pure pieces (backoff, naming, rotation, the feed's reconnect loop, the signal flag) run in-process
with fake clocks; the rest runs ``python -m edgedigits detect`` as a service would."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from edgedigits.cli import app as cli_app
from edgedigits.core import data
from edgedigits.core.errors import SourceError, UsageError
from edgedigits.evaluation.mjpeg_server import MjpegServer
from edgedigits.runtime import app, live, recording
from edgedigits.runtime.recognizer import Detection, Recognition
from edgedigits.runtime.sources import SourceSpec, describe, redact_url
from edgedigits.runtime.window import Window


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "edgedigits", "detect", "--no-display", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(condition, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def playable_frames(path: Path) -> int:
    """Frames actually decoded from a video file, after checking the container's own count agrees."""
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"{path.name} does not open"
    claimed = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    read = 0
    while cap.read()[0]:
        read += 1
    cap.release()
    assert read == claimed, (path.name, read, claimed)
    return read


@pytest.fixture(scope="module")
def sheets(data_dir) -> dict[str, np.ndarray]:
    """Two pages of four MNIST test digits each: what the camera shows before and after it reboots."""
    split = data.load_split("test", data_dir)

    def sheet(indices: list[int]) -> np.ndarray:
        page = np.full((160, 400, 3), 235, np.uint8)
        for k, i in enumerate(indices):
            ink = cv2.resize(split.images[i], (56, 56), interpolation=cv2.INTER_LINEAR)
            page[50:106, 40 + 90 * k : 96 + 90 * k] -= (ink[..., None] * 0.9).astype(np.uint8)
        return page

    return {"before": sheet([0, 1, 2, 3]), "after": sheet([4, 5, 6, 7])}  # 7 2 1 0 and 4 1 4 9


# --- pure pieces -------------------------------------------------------------------------------------


def test_backoff_doubles_and_is_capped():
    assert [live.backoff_delay(n, 0.5, 8.0) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 8, 8, 8]
    assert live.backoff_delay(10_000, 0.5, 8.0) == 8.0  # no overflow after weeks of retrying


def test_reconnect_is_on_for_live_sources_and_refused_for_files():
    camera, stream, video = (
        SourceSpec("camera", 0),
        SourceSpec("stream", "rtsp://x"),
        SourceSpec("video", "a.avi"),
    )
    auto = live.ReconnectOptions()
    assert auto.applies_to(camera) and auto.applies_to(stream) and not auto.applies_to(video)
    assert not live.ReconnectOptions(enabled=False).applies_to(stream)
    with pytest.raises(UsageError, match="only cameras and streams reconnect, not video file a.avi"):
        live.ReconnectOptions(enabled=True).applies_to(video)
    with pytest.raises(UsageError, match="--reconnect-timeout needs a camera or stream that reconnects"):
        live.ReconnectOptions(timeout_s=5).applies_to(video)
    for bad in (0, -1, float("inf")):
        with pytest.raises(UsageError, match="--reconnect-timeout must be a number of seconds > 0"):
            live.ReconnectOptions(timeout_s=bad)


def test_segment_names_never_mistake_a_partial_for_a_segment(tmp_path):
    out = tmp_path / "rec.mp4"
    assert recording.segment_path(out, 3).name == "rec_00003.mp4"
    assert recording.partial_path(out, 3).name == ".rec_00003.partial.mp4"
    assert recording.partial_path(out, None).name == ".rec.partial.mp4"
    names = ["rec_00001.mp4", "rec_00010.mp4", "rec_00002.mp4", ".rec_00011.partial.mp4", ".rec.partial.mp4"]
    names += ["rec_00003.mp4.bak", "rec_extra_00004.mp4", "other_00005.mp4", "rec_00006.avi", "rec.mp4"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in recording.finished_segments(out)] == [
        "rec_00001.mp4",
        "rec_00002.mp4",
        "rec_00010.mp4",
    ]
    assert [p.name for p in recording.stale_partials(out)] == [".rec.partial.mp4", ".rec_00011.partial.mp4"]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_segments_by_frame_count_for_files_and_by_wall_time_for_live(tmp_path):
    logged: list[str] = []
    out = tmp_path / "clip.mp4"
    view = np.full((48, 64, 3), 128, np.uint8)
    video = recording.SegmentedVideo(out, seconds=1.0, by_frames=True, log=logged.append)
    for _ in range(25):
        video.write(view, fps=10.0)
    assert [p.name for p in video.closed] == ["clip_00000.mp4", "clip_00001.mp4"]
    assert [p.name for p in recording.stale_partials(out)] == [".clip_00002.partial.mp4"]  # still open
    video.end_segment()
    assert [playable_frames(p) for p in video.closed] == [10, 10, 5]
    assert recording.stale_partials(out) == [] and logged == []

    # a killed run left a partial behind: the next run removes it, says so, and numbers after the last
    recording.partial_path(out, 3).write_bytes(b"half an mp4")
    clock = Clock()
    video = recording.SegmentedVideo(out, seconds=2.0, by_frames=False, log=logged.append, clock=clock)
    assert logged == ["removed 1 unfinished recording(s) left by a killed run: .clip_00003.partial.mp4"]
    for _ in range(9):  # a frame every 0.5 s of wall time, whatever the fps claims
        video.write(view, fps=30.0)
        clock.now += 0.5
    video.end_segment()
    assert [p.name for p in video.closed] == ["clip_00003.mp4", "clip_00004.mp4", "clip_00005.mp4"]
    assert [playable_frames(p) for p in video.closed] == [4, 4, 1]


def test_live_segments_after_the_first_play_at_the_rate_received(tmp_path):
    clock = Clock()
    video = recording.SegmentedVideo(
        tmp_path / "cam.avi", seconds=2.0, by_frames=False, log=print, clock=clock
    )
    for _ in range(20):  # the camera claims 25 fps and sends 4
        video.write(np.zeros((48, 64, 3), np.uint8), fps=25.0)
        clock.now += 0.25
    video.end_segment()
    rates = []
    for path in video.closed:
        cap = cv2.VideoCapture(str(path))
        rates.append(round(cap.get(cv2.CAP_PROP_FPS)))
        cap.release()
    assert rates == [25, 4, 4]  # the first segment has only the claim to go by


def test_a_new_frame_size_starts_a_new_segment(tmp_path):
    video = recording.SegmentedVideo(tmp_path / "cam.avi", seconds=60.0, by_frames=False, log=print)
    for shape in [(48, 64, 3)] * 2 + [(96, 128, 3)] * 3:  # the camera came back at another resolution
        video.write(np.zeros(shape, np.uint8), fps=10.0)
    video.end_segment()
    assert [playable_frames(p) for p in video.closed] == [2, 3]


def test_one_file_recording_appears_only_when_closed(tmp_path):
    out = tmp_path / "clip.avi"
    video = recording.SegmentedVideo(out, seconds=0.0, by_frames=True, log=print)
    for _ in range(3):
        video.write(np.zeros((32, 32, 3), np.uint8), fps=10.0)
    assert not out.exists() and recording.partial_path(out, None).exists()
    video.end_segment()
    assert video.closed == [out] and playable_frames(out) == 3 and not recording.stale_partials(out)


def test_jsonl_appends_whole_lines_and_drops_a_torn_tail(tmp_path):
    path = tmp_path / "log" / "frames.jsonl"
    logged: list[str] = []
    sink = recording.JsonLines(path, logged.append)
    sink.write({"frame": 0})
    assert path.read_text() == '{"frame": 0}\n'  # on the file at once, not in a buffer
    sink.close()
    with open(path, "a") as fh:
        fh.write('{"frame": 1}\n{"frame": 2, "dig')  # what a power cut mid-line leaves
    sink = recording.JsonLines(path, logged.append)
    sink.write({"frame": 0, "big": "x" * 100_000})
    sink.close()
    assert [r["frame"] for r in records(path)] == [0, 1, 0]
    assert logged == [f"--jsonl {path}: dropped an unfinished last line (17 bytes) left by a killed run"]


class FakeCapture:
    def __init__(self, spec: SourceSpec, frames: list[int]) -> None:
        self.spec, self.left, self.released = spec, list(frames), False
        self.fps, self.frame_count = 10.0, None

    def read(self):
        return np.full((2, 2), self.left.pop(0), np.uint8) if self.left else None

    def release(self) -> None:
        self.released = True


class FakeStop:
    """Waiting advances the fake clock instead of sleeping."""

    def __init__(self, clock: Clock, signal_at: float | None = None) -> None:
        self.clock, self.signal_at, self.waits = clock, signal_at, []

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.clock.now += seconds
        return self.signal_at is not None and self.clock.now >= self.signal_at


def fake_feed(opens: list, options: live.ReconnectOptions, signal_at: float | None = None):
    """A feed whose opens return the next FakeCapture (a list of frame values) or fail (None)."""
    clock, logged, spec = Clock(), [], SourceSpec("stream", "http://cam")
    plan = iter(opens)

    def opener(spec, **_):
        frames = next(plan)
        if frames is None:
            clock.now += 1.0  # an open that fails takes a while
            raise SourceError("cannot open stream http://cam")
        return FakeCapture(spec, frames)

    stop = FakeStop(clock, signal_at)
    return live.Feed(spec, options, stop, logged.append, opener=opener, clock=clock), stop, logged


def test_feed_reconnects_with_backoff_and_numbers_go_on():
    feed, stop, logged = fake_feed([[1, 2], None, [], [3, 4]], live.ReconnectOptions())
    got = list(itertools.islice(feed.frames(), 6))
    assert [None if f is None else int(f[0, 0]) for f in got] == [1, 2, None, 3, 4, None]
    assert stop.waits[:3] == [0.5, 1.0, 2.0] and feed.reconnects == 1
    assert logged[:4] == [
        "stream http://cam: frames stopped; reconnecting",
        "stream http://cam: reconnect attempt 1 failed after 1.5 s (cannot open)",
        "stream http://cam: reconnect attempt 2 failed after 2.5 s (opened but no frame came)",
        "stream http://cam: back after 4.5 s (3 attempt(s))",
    ]


def test_feed_gives_up_after_the_timeout_and_stops_on_a_signal():
    feed, stop, logged = fake_feed([[1], None, None, None, None, None], live.ReconnectOptions(timeout_s=4))
    assert len(list(feed.frames())) == 2  # the frame and the gap
    assert feed.ended == "source lost" and stop.waits == [0.5, 1.0, 0.5]  # the last one up to the deadline
    assert str(feed.failure) == (
        "stream http://cam did not come back within 4 s (3 attempt(s), last: cannot open); giving up"
    )
    feed, stop, _ = fake_feed([[1], None, None, None], live.ReconnectOptions(), signal_at=1.0)
    assert (
        len(list(feed.frames())) == 2 and feed.ended == "stopped while reconnecting" and feed.failure is None
    )
    with pytest.raises(SourceError, match="cannot open stream"):  # the first open is never retried
        fake_feed([None], live.ReconnectOptions())


def test_feed_of_a_file_ends_and_says_whether_it_was_complete():
    spec = SourceSpec("video", "a.avi")
    capture = FakeCapture(spec, [1, 2])
    capture.frame_count = 3
    feed = live.Feed(spec, live.ReconnectOptions(), None, print, opener=lambda *_, **__: capture)
    assert len(list(feed.frames())) == 2 and feed.ended == "the stream ended or dropped a frame"
    assert capture.released


def test_stop_signals_set_a_flag_and_restore_the_handlers():
    before = signal.getsignal(signal.SIGTERM)
    with live.StopSignals() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(5) and stop.received == "SIGTERM" and stop.exit_code == 0
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.received == "SIGTERM"  # the first signal says how it ended
    assert signal.getsignal(signal.SIGTERM) is before
    with live.StopSignals() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.received == "SIGINT" and stop.exit_code == 130
        with pytest.raises(KeyboardInterrupt):  # a second Ctrl-C does not wait for a blocked read
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)


def test_a_gap_forgets_tracks_and_closes_the_segment(tmp_path):
    capture = FakeCapture(SourceSpec("stream", "x"), [])
    output = app.Output(tmp_path / "r.mp4", "video", segment_seconds=60.0, by_frames=False)
    output.start(print)
    step = app.FrameStep(
        app.DetectOptions(source="x", display=False),
        None,
        Window(False, print),
        output,
        print,
        print,
        capture,
    )
    output.write(np.zeros((32, 32, 3), np.uint8), None, 10.0)
    seen = step.stabilizer.update(Recognition([Detection(7, 0.9, (1, 1, 9, 9))], [], np.zeros((1, 28, 28))))
    assert len(step.stabilizer.tracks) == 1 and seen.digits[0].label == 7
    step.gap()
    assert step.stabilizer.tracks == [] and [p.name for p in output.video.closed] == ["r_00000.mp4"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "{video}", "--reconnect"], "--reconnect: only cameras and streams reconnect"),
        (["--source", "{video}", "--reconnect-timeout", "5"], "--reconnect-timeout needs a camera or stream"),
        (
            ["--source", "{video}", "--segment-seconds", "5"],
            "--segment-seconds needs a video source and --output",
        ),
        (["--source", "{video}", "--output", "{tmp}/a.mp4", "--segment-seconds", "-1"], "must be >= 0"),
        (["--source", "{video}", "--jsonl", "{tmp}"], "is a folder; give a file"),
    ],
)
def test_unattended_options_are_checked_before_any_work(tmp_path, args, message):
    video = tmp_path / "v.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    proc = start(*[a.format(video=video, tmp=tmp_path) for a in args])
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert [ln for ln in stderr.splitlines() if ln.startswith("error: ")] == [
        ln for ln in stderr.splitlines()
    ]
    assert len(stderr.splitlines()) == 1 and message in stderr, stderr


# --- against a real loopback stream ------------------------------------------------------------------


@pytest.mark.slow
def test_stream_comes_back_after_a_restart_then_gives_up(sheets, tmp_path):
    jsonl = tmp_path / "frames.jsonl"
    first = MjpegServer([sheets["before"]], fps=20).start()
    proc = start("--source", first.url, "--json", "--jsonl", str(jsonl), "--reconnect-timeout", "3")
    try:
        wait_until(lambda: len(records(jsonl)) >= 10, proc)
        first.stop()
        time.sleep(1.0)  # the camera reboots
        second = MjpegServer([sheets["after"]], fps=20, port=first.port).start()
        seen = len(records(jsonl))
        wait_until(lambda: len(records(jsonl)) >= seen + 15, proc)
        second.stop()  # and now it is gone for good
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = [json.loads(line) for line in stdout.splitlines()]
    assert out == records(jsonl)  # --jsonl holds what --json printed
    assert [r["frame"] for r in out] == list(range(len(out)))  # numbering goes on across the gap
    stamps = [datetime.fromisoformat(r["time"]) for r in out]  # live frames say when they were read
    assert stamps == sorted(stamps) and stamps[0].tzinfo is not None
    texts = [" ".join(line["text"] for line in r["lines"]) for r in out]
    runs = [(text, len(list(group))) for text, group in itertools.groupby(texts)]
    # the frames after the restart are read, and at once: no votes carried over from before the gap
    assert [text for text, _ in runs] == ["7 2 1 0", "4 1 4 9"] and runs[1][1] >= 15, runs
    lines = stderr.strip().splitlines()
    assert proc.returncode == 1 and "Traceback" not in stderr
    assert sum("back after" in ln for ln in lines) == 1
    assert lines[-1].startswith(f"error: stream {first.url} did not come back within 3 s"), stderr
    assert "source lost; 1 reconnect(s)" in lines[-2] and f"{len(out)} frame(s)" in lines[-2]


@pytest.mark.slow
def test_sigkill_loses_at_most_the_open_segment(sheets, tmp_path):
    out, jsonl = tmp_path / "rec" / "cam.mp4", tmp_path / "frames.jsonl"
    with MjpegServer([sheets["before"]], fps=20) as server:
        proc = start(
            "--source", server.url, "--output", str(out), "--segment-seconds", "0.5", "--jsonl", str(jsonl)
        )
        try:
            wait_until(lambda: len(recording.finished_segments(out)) >= 2, proc)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
    closed = recording.finished_segments(out)
    assert [playable_frames(p) > 0 for p in closed] == [True] * len(closed)
    assert sum(playable_frames(p) for p in closed) <= len(records(jsonl))  # every line parses, too
    left = recording.stale_partials(out)
    assert all(p.name.startswith(".") for p in left) and len(left) <= 1
    # the next run removes the leftover and numbers its segments after the last one, overwriting nothing
    video = tmp_path / "v.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for _ in range(3):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    proc = start("--source", str(video), "--output", str(out), "--segment-seconds", "10")
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert ("removed 1 unfinished recording(s) left by a killed run" in stderr) == bool(left)
    after = recording.finished_segments(out)
    assert after[: len(closed)] == closed and after[-1] == recording.segment_path(out, len(closed))
    assert playable_frames(after[-1]) == 3 and recording.stale_partials(out) == []


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_a_stop_signal_closes_the_recording_and_exits_with_its_code(sheets, tmp_path, sig, code):
    out = tmp_path / "cam.mp4"
    with MjpegServer([sheets["before"]], fps=20) as server:
        proc = start("--source", server.url, "--output", str(out), "--segment-seconds", "0.5")
        try:
            wait_until(lambda: len(recording.finished_segments(out)) >= 1, proc)
            proc.send_signal(sig)
            _, stderr = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == code and "Traceback" not in stderr
    segments = recording.finished_segments(out)
    summary = stderr.strip().splitlines()[-1]
    assert f"stopped by {sig.name}; {len(segments)} segment(s) written" in summary, stderr
    assert all(playable_frames(p) > 0 for p in segments) and recording.stale_partials(out) == []
    frames = int(summary.split(" frame(s)")[0])
    assert sum(playable_frames(p) for p in segments) == frames  # the last frame is in the last segment


# --- credentials in camera URLs stay out of every line and record ------------------------------------


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("rtsp://admin:hunter2@cam/stream", "rtsp://***@cam/stream"),
        ("rtsp://admin@cam:554/stream", "rtsp://***@cam:554/stream"),
        ("http://user:s3cret@127.0.0.1:8080/video.mjpg", "http://***@127.0.0.1:8080/video.mjpg"),
        ("https://u:p%40ss@cam.example.com/live?ch=2", "https://***@cam.example.com/live?ch=2"),
        ("rtsp://admin:p@ss#w?rd@cam/s", "rtsp://***@cam/s"),  # unescaped @, # and ? in the password
        ("rtsp://admin:pw@[fe80::1%eth0]:554/s", "rtsp://***@[fe80::1%eth0]:554/s"),
        ("rtsp://[::1]:554/stream?channel=1&subtype=0", "rtsp://[::1]:554/stream?channel=1&subtype=0"),
        ("http://cam/x?token=abc&ch=1", "http://cam/x?token=***&ch=1"),
        (
            "http://cam/x?user=me&Password=p;api_key=k&access_token=t&pwd=&auth=a#top",
            "http://cam/x?user=me&Password=***;api_key=***&access_token=***&pwd=***&auth=***#top",
        ),
        (
            "rtsp://10.0.0.5:554/user=admin&password=123456&channel=1&stream=0.sdp",
            "rtsp://10.0.0.5:554/user=admin&password=***&channel=1&stream=0.sdp",
        ),
        ("admin:hunter2@cam:554/live", "***@cam:554/live"),  # a URL typed without its scheme
        ("rtsp://cam.local/keys/stream", "rtsp://cam.local/keys/stream"),
        ("0", "0"),
        ("/dev/video0", "/dev/video0"),
        ("clips/cam 1.mp4", "clips/cam 1.mp4"),
        ("C:\\clips\\a.mp4", "C:\\clips\\a.mp4"),
    ],
)
def test_redact_url(source, shown):
    assert redact_url(source) == shown
    assert describe(SourceSpec("stream", source)) == f"stream {shown}"
    assert redact_url(shown) == shown


def test_describe_leaves_cameras_and_files_as_they_are():
    assert describe(SourceSpec("camera", 0)) == "camera 0"
    assert describe(SourceSpec("camera", "/dev/video2")) == "camera /dev/video2"
    assert describe(SourceSpec("video", "clip.mp4")) == "video file clip.mp4"


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_stream_that_cannot_open_keeps_its_password_out_of_the_error(tmp_path):
    port = closed_port()
    jsonl = tmp_path / "frames.jsonl"
    for source in (f"http://admin:hunter2@127.0.0.1:{port}/stream.mjpg", "admin:hunter2@cam:554/live"):
        result = CliRunner().invoke(cli_app, ["detect", "--source", source, "--no-display", "--jsonl", jsonl])
        assert result.exit_code == 1
        assert result.stdout == "" and (jsonl.read_text() if jsonl.exists() else "") == ""
        shown = redact_url(source)
        assert result.stderr.splitlines() == [
            f"error: cannot open stream {shown}"
            if "://" in source
            else f"error: source {shown} is not a camera index, device, stream URL, file or folder"
        ]
        assert "hunter2" not in result.output and "admin" not in result.output


@pytest.mark.slow
def test_a_reconnecting_stream_keeps_its_credentials_out_of_every_line(sheets, tmp_path, monkeypatch):
    """The log lines of a stream that drops, the reconnect attempts, the summary, the final error, the
    JSON lines and --jsonl: none carries the user, the password or the token."""
    server = MjpegServer([sheets["before"]], fps=20).start()
    url = f"http://camuser:hunter2@127.0.0.1:{server.port}/stream.mjpg?token=t0ken&ch=1"
    shown = f"http://***@127.0.0.1:{server.port}/stream.mjpg?token=***&ch=1"
    step = app.FrameStep.__call__

    def stop_after_three(self, index, *args, **kwargs):
        if index == 2:
            server.stop()  # the camera goes away for good after the third frame
        return step(self, index, *args, **kwargs)

    monkeypatch.setattr(app.FrameStep, "__call__", stop_after_three)
    jsonl = tmp_path / "frames.jsonl"
    args = ["--source", url, "--no-display", "--json", "--jsonl", jsonl, "--reconnect"]
    try:
        result = CliRunner().invoke(cli_app, ["detect", *args, "--reconnect-timeout", "1"])
    finally:
        server.stop()
    assert result.exit_code == 1, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) >= 3 and records == [json.loads(line) for line in jsonl.read_text().splitlines()]
    lines = result.stderr.splitlines()
    assert lines[0] == f"stream {shown}: frames stopped; reconnecting"
    assert all(
        ln.startswith(f"stream {shown}: reconnect attempt {n} failed after ")
        for n, ln in enumerate(lines[1:-2], 1)
    )
    assert lines[-2].startswith(f"{len(records)} frame(s), ") and lines[-2].endswith("; source lost")
    assert lines[-1].startswith(f"error: stream {shown} did not come back within 1 s (")
    everything = result.output + jsonl.read_text()
    for secret in ("hunter2", "camuser", "t0ken"):
        assert secret not in everything
