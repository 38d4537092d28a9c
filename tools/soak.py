"""Soak test: ``edgedigits detect`` on a looping network camera for a long time, as a service runs it.

Starts a loopback MJPEG server (``edgedigits.evaluation.mjpeg_server``) looping a notebook page with a
little hand shake
at a camera's pace, runs ``detect --source URL --jsonl ... --output ...mp4`` as a child process, and
samples the child's RSS and open file descriptors from /proc; frame times come from its ``--jsonl``.
``--drop-at`` stops the server for ``--drop-seconds`` at those minutes, to measure what a reconnect
costs. At the end the child gets SIGTERM, as a service manager would send, and every segment is checked
to open and hold frames. It prints start vs end (the first and last 10% of the run):

    python tools/soak.py --minutes 35 --drop-at 10,20 --out /tmp/soak

Long runs belong here, not in the test suite. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edgedigits.evaluation.mjpeg_server import MjpegServer
from edgedigits.runtime.recording import finished_segments, stale_partials

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Samples:
    proc: list[tuple[float, float, int]] = field(default_factory=list)  # (t, RSS MB, open fds)
    frames: list[tuple[float, int, float]] = field(default_factory=list)  # (t seen, frame, ms)


def camera_frames(page: Path, size: tuple[int, int], count: int, seed: int = 0) -> list[np.ndarray]:
    """The page at ``size``, shifted by up to 3 px per frame (a hand-held or vibrating camera)."""
    image = cv2.resize(cv2.imread(str(page)), size, interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        dx, dy = rng.integers(-3, 4, 2)
        shift = np.float32([[1, 0, dx], [0, 1, dy]])
        frames.append(cv2.warpAffine(image, shift, size, borderMode=cv2.BORDER_REPLICATE))
    return frames


def proc_sample(pid: int) -> tuple[float, int]:
    """(RSS in MB, open file descriptors) of a running process."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))
    return rss_kb / 1024, len(os.listdir(f"/proc/{pid}/fd"))


class JsonlTail:
    """New complete lines of a growing file since the last call."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.rest = path, 0, b""

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = self.rest + fh.read()
            self.offset = fh.tell()
        *lines, self.rest = data.split(b"\n")
        return [json.loads(line) for line in lines if line]


def quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def window_stats(samples: Samples, start: float, end: float) -> dict:
    proc = [(rss, fds) for t, rss, fds in samples.proc if start <= t < end]
    ms = sorted(m for t, _, m in samples.frames if start <= t < end)
    return {
        "rss_mb": max((r for r, _ in proc), default=float("nan")),
        "fds": max((f for _, f in proc), default=0),
        "frames": len(ms),
        "fps": len(ms) / (end - start) if end > start else 0.0,
        "p50_ms": quantile(ms, 0.5),
        "p99_ms": quantile(ms, 0.99),
    }


def check_segments(output: Path) -> list[tuple[str, int, float]]:
    """(name, frames, MB) of every finished segment; each must open and hold frames."""
    rows = []
    for path in finished_segments(output):
        cap = cv2.VideoCapture(str(path))
        frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
        cap.release()
        rows.append((path.name, frames, path.stat().st_size / 2**20))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--fps", type=float, default=15.0, help="the camera's pace (do not run flat out)")
    ap.add_argument("--size", default="640x480", help="frame size WxH")
    ap.add_argument("--page", type=Path, default=REPO / "docs" / "notebook_page.jpg")
    ap.add_argument("--segment-seconds", type=float, default=60.0)
    ap.add_argument("--drop-at", default="", help="minutes at which the camera goes away, e.g. 10,20")
    ap.add_argument("--drop-seconds", default="3", help="how long it stays away, one value or one per drop")
    ap.add_argument("--sample-seconds", type=float, default=5.0, help="RSS/fd sampling interval")
    ap.add_argument("--out", type=Path, default=Path("soak"))
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    drop_at = [float(m) * 60 for m in args.drop_at.split(",") if m]
    away = [float(s) for s in args.drop_seconds.split(",")]
    drops = sorted(zip(drop_at, away + away[-1:] * len(drop_at), strict=False))
    args.out.mkdir(parents=True, exist_ok=True)
    jsonl, output, log_path = args.out / "soak.jsonl", args.out / "rec.mp4", args.out / "detect.log"
    jsonl.unlink(missing_ok=True)

    frames = camera_frames(args.page, size, count=30)
    server = MjpegServer(frames, fps=args.fps).start()
    port = server.port
    command = [sys.executable, "-m", "edgedigits", "detect", "--source", server.url, "--no-display"]
    command += [
        "--jsonl",
        str(jsonl),
        "--output",
        str(output),
        "--segment-seconds",
        str(args.segment_seconds),
    ]
    log = open(log_path, "w")  # noqa: SIM115 - the child writes to it for the whole run
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    samples, tail = Samples(), JsonlTail(jsonl)
    began = time.monotonic()
    duration = args.minutes * 60
    next_sample = 0.0
    outages: list[tuple[float, float]] = []
    print(f"soak: {args.minutes:g} min of {args.size} at {args.fps:g} fps from {server.url}; pid {child.pid}")
    try:
        while (now := time.monotonic() - began) < duration:
            if child.poll() is not None:
                raise SystemExit(f"detect exited early with {child.returncode}; see {log_path}")
            if drops and now >= drops[0][0]:
                _, seconds = drops.pop(0)
                server.stop()
                time.sleep(seconds)
                server = MjpegServer(frames, fps=args.fps, port=port).start()
                outages.append((now, time.monotonic() - began))
            samples.frames += [(now, r["frame"], r["ms"]) for r in tail.read()]
            if now >= next_sample and samples.frames:  # from the first frame: not the start-up
                next_sample = now + args.sample_seconds
                rss, fds = proc_sample(child.pid)
                samples.proc.append((now, rss, fds))
            time.sleep(0.2)
        child.send_signal(signal.SIGTERM)
        code = child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
        server.stop()
        log.close()
    samples.frames += [(time.monotonic() - began, r["frame"], r["ms"]) for r in tail.read()]

    first = samples.frames[0][0] if samples.frames else 0.0  # the windows begin at the first frame
    tenth = (duration - first) / 10
    start, end = (
        window_stats(samples, first, first + tenth),
        window_stats(samples, duration - tenth, duration),
    )
    print(f"{'':8}{'RSS MB':>8}{'fds':>6}{'frames':>8}{'fps':>7}{'p50 ms':>8}{'p99 ms':>8}")
    for name, w in (("start", start), ("end", end)):
        print(
            f"{name:8}{w['rss_mb']:8.1f}{w['fds']:6d}{w['frames']:8d}{w['fps']:7.2f}"
            f"{w['p50_ms']:8.2f}{w['p99_ms']:8.2f}"
        )
    rss = [r for _, r, _ in samples.proc]
    print(f"RSS min/max over the run: {min(rss):.1f}/{max(rss):.1f} MB; {len(samples.frames)} frames in all")
    numbers = [f for _, f, _ in samples.frames]
    monotonic = all(b == a + 1 for a, b in zip(numbers, numbers[1:], strict=False))
    print(f"frame numbers 0..{numbers[-1] if numbers else -1}, consecutive: {monotonic}")
    lines = log_path.read_text().splitlines()
    backs = [float(m.group(1)) for ln in lines if (m := re.search(r"back after ([0-9.]+) s", ln))]
    for (down, up), back in zip(outages, backs, strict=False):
        beyond = (back - (up - down)) * args.fps
        print(
            f"outage at {down / 60:.1f} min for {up - down:.1f} s: back after {back:.1f} s, "
            f"about {back * args.fps:.0f} frames not read ({beyond:.0f} beyond the outage)"
        )
    rows = check_segments(output)
    full = [mb for *_, mb in rows[1:-1]]  # the first and last may be short
    bad = [name for name, n, _ in rows if n <= 0]
    median = statistics.median(full) if full else 0.0
    print(
        f"{len(rows)} segments ({args.segment_seconds:g} s), {median:.2f} MB median, "
        f"{sum(mb for *_, mb in rows):.1f} MB in all; unplayable: {bad or 'none'}; "
        f"partial files left: {len(stale_partials(output))}"
    )
    print(f"detect exited {code} after SIGTERM; last log line: {lines[-1] if lines else ''}")
    return 0 if code == 0 and not bad and monotonic else 1


if __name__ == "__main__":
    sys.exit(main())
