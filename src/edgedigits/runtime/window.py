"""The live view's window: an OpenCV window that degrades to a no-op, paces video files, keeps Qt quiet.

Nothing here decides what is drawn (``draw``) or what is done per frame (``app``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import cv2
import numpy as np

WINDOW = "edgedigits"
CROPS_WINDOW = f"{WINDOW} crops"
CROPS_GAP = 24  # pixels between the main image's right edge and the crops window (room for borders)
KEY_CLOSED = 27  # Esc
# opencv-python's Qt build has no fonts of its own and warns about it on every window; the user can't act
# on it. A user's own QT_LOGGING_RULES is left as it is.
QT_QUIET_RULES = "default.warning=false;qt.qpa.*.warning=false"


def display_available() -> bool:
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def frame_wait_ms(fps: float, elapsed_s: float) -> int:
    """How long to wait for a key so that frames are shown ``1/fps`` apart when ``elapsed_s`` of the
    interval went into reading and processing: a video file then plays at its own speed. At least 1,
    since ``cv2.waitKey(0)`` would block until a key is pressed."""
    return max(1, round(1000 / fps - elapsed_s * 1000))


class Window:
    """An OpenCV window that turns into a no-op when there is no display to open it on."""

    def __init__(self, wanted: bool, log: Callable[[str], None]) -> None:
        self.enabled = wanted and display_available()
        self.log = log
        self.crops_placed = False
        if wanted and not self.enabled:
            log("no display found: running headless")
        if self.enabled:
            os.environ.setdefault("QT_LOGGING_RULES", QT_QUIET_RULES)  # read when Qt starts: first imshow

    def show(self, image: np.ndarray, crops: np.ndarray | None = None, wait_ms: int = 1) -> int:
        """Show the frame (and the --debug crops beside it); return the key pressed (-1: none or headless).
        ``wait_ms`` 0 waits for a key."""
        if not self.enabled:
            return -1
        try:
            if crops is not None and not self.crops_placed:
                self._place_windows(image.shape[1])
            cv2.imshow(WINDOW, image)
            if crops is not None:
                cv2.imshow(CROPS_WINDOW, crops)
            key = cv2.waitKey(wait_ms) & 0xFF
            if cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:  # closed with the mouse: quit
                return KEY_CLOSED
            return key
        except cv2.error as exc:  # an OpenCV build without GUI support
            self.enabled = False
            self.log(f"cannot open a window ({str(exc).strip().splitlines()[-1]}): running headless")
            return -1

    def _place_windows(self, frame_width: int) -> None:
        """Before the first frame: the main window in the top-left corner, the crops window (no toolbar:
        nothing to zoom) to its right, so neither covers the other and both fit on the screen (the window
        manager's own choice, often the centre, leaves no room). Placed before the first imshow: a shown
        window is placed by the window manager instead. Later the user may move either."""
        cv2.namedWindow(WINDOW)
        cv2.moveWindow(WINDOW, 0, 0)
        cv2.namedWindow(CROPS_WINDOW, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)
        cv2.moveWindow(CROPS_WINDOW, frame_width + CROPS_GAP, 0)
        self.crops_placed = True

    def close(self) -> None:
        if self.enabled:
            cv2.destroyAllWindows()
