"""A loopback MJPEG server: what a cheap network camera serves (``multipart/x-mixed-replace`` JPEGs over
HTTP), for the reconnect tests, ``tools/soak.py``, and trying ``detect --reconnect`` by hand.

Stopping it closes the open connections too, so a client sees the camera go away, not a stalled
socket; a new server on the same port is the camera coming back. Stdlib, numpy and OpenCV only.
"""

from __future__ import annotations

import http.server
import itertools
import threading
import time
from collections.abc import Sequence

import cv2
import numpy as np

BOUNDARY = "frame"


class MjpegServer:
    """Serves ``frames`` in a loop at ``fps`` to every client of ``url`` (any path), on 127.0.0.1."""

    def __init__(self, frames: Sequence[np.ndarray], fps: float = 15.0, port: int = 0, quality: int = 90):
        if not frames or fps <= 0:
            raise ValueError("need at least one frame and fps > 0")
        params = [cv2.IMWRITE_JPEG_QUALITY, quality]
        self.jpegs = [cv2.imencode(".jpg", f, params)[1].tobytes() for f in frames]
        self.fps = fps
        self.stopping = threading.Event()
        self.sent = 0  # frames sent, over all clients
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/stream.mjpg"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *_) -> None:  # no line per request on stderr
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                start = time.monotonic()
                try:
                    for n, jpeg in enumerate(itertools.cycle(server.jpegs)):
                        if server.stopping.is_set():
                            return
                        head = (
                            f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                        )
                        self.wfile.write(head.encode() + jpeg + b"\r\n")
                        server.sent += 1
                        time.sleep(max(0.0, start + (n + 1) / server.fps - time.monotonic()))
                except (BrokenPipeError, ConnectionResetError):  # the client went away
                    return

        return Handler

    def start(self) -> MjpegServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting and end every open stream (within one frame interval)."""
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> MjpegServer:
        return self.start()

    def __exit__(self, *_) -> None:
        self.stop()
