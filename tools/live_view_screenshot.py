"""Screenshot of the live view (main window and the --debug crops window) as a person sees it.

Starts ``edgedigits webcam --camera SOURCE --debug`` on the current X display, waits until its windows
are up and the screen has stopped changing (a video keeps changing: then the last grab is kept), grabs
the whole screen, trims it to the windows and writes a PNG; then stops the view. Needs
``xwininfo`` (x11-utils) and ``import`` (imagemagick). On a machine without a screen:

    xvfb-run -a -s "-screen 0 1600x900x24" python tools/live_view_screenshot.py docs/live_view.png \
        --source IMAGE

SOURCE is an image (it stays on screen) or a video that plays longer than --settle.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

MARGIN = 16  # pixels of background kept around the windows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="PNG to write")
    parser.add_argument("--source", required=True, help="image or video shown in the view")
    parser.add_argument("--debug", action=argparse.BooleanOptionalAction, default=True, help="crops window")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the windows")
    parser.add_argument("--settle", type=float, default=8.0, help="most seconds to let them draw")
    parser.add_argument("--full-screen", action="store_true", help="keep the whole screen, untrimmed")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        raise SystemExit('no DISPLAY: run under xvfb-run -a -s "-screen 0 1600x900x24"')
    command = [sys.executable, "-m", "edgedigits", "webcam", "--camera", args.source]
    view = subprocess.Popen(
        [*command, "--debug"] if args.debug else command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for_window("edgedigits crops" if args.debug else "edgedigits", view, args.timeout)
        screen = settled_screen(view, args.settle)
    finally:
        view.terminate()
        _, stderr = view.communicate(timeout=10)
    if stderr.strip():  # the view printed something, e.g. a Qt warning: the user would see it too
        print(stderr.decode(errors="replace"), file=sys.stderr, end="")
    if not cv2.imwrite(str(args.out), screen if args.full_screen else trim(screen)):
        raise SystemExit(f"cannot write {args.out}")
    print(args.out)


def wait_for_window(name: str, view: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while subprocess.run(["xwininfo", "-name", name], capture_output=True).returncode != 0:
        if view.poll() is not None:
            raise SystemExit(f"the view exited ({view.returncode}) before its window opened")
        if time.monotonic() > deadline:
            raise SystemExit(f"no window {name!r} after {timeout:.0f} s")
        time.sleep(0.2)


def grab() -> np.ndarray:
    png = subprocess.run(["import", "-window", "root", "png:-"], capture_output=True, check=True).stdout
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)


def settled_screen(view: subprocess.Popen, settle: float) -> np.ndarray:
    """Grab the screen until two grabs half a second apart agree, or ``settle`` seconds have passed."""
    deadline = time.monotonic() + settle
    previous, screen = None, grab()
    while (previous is None or not np.array_equal(previous, screen)) and time.monotonic() < deadline:
        time.sleep(0.5)
        previous, screen = screen, grab()
    if view.poll() is not None:
        raise SystemExit("the view ended before the screenshot; use a longer video or an image")
    return screen


def trim(screen: np.ndarray) -> np.ndarray:
    """Crop the screenshot to what differs from the screen's background (its bottom-right pixel)."""
    ys, xs = np.nonzero((screen != screen[-1, -1]).any(axis=2))
    if len(xs) == 0:
        raise SystemExit("the screen is empty")
    h, w = screen.shape[:2]
    y0, y1 = max(ys.min() - MARGIN, 0), min(ys.max() + MARGIN + 1, h)
    x0, x1 = max(xs.min() - MARGIN, 0), min(xs.max() + MARGIN + 1, w)
    return screen[y0:y1, x0:x1]


if __name__ == "__main__":
    main()
