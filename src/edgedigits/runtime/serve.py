"""``edgedigits serve``: the web export's folder over HTTP(S), read-only, for a browser on this machine
or a phone on the LAN. Only files under the folder are served (``..``, encoded or not, and links out
of it are refused), with the types the page needs (ES modules, WebAssembly, the web app manifest) and
gzip for clients that take it (the WebAssembly runtime shrinks from 14 to under 4 MB)."""

from __future__ import annotations

import gzip
import ipaddress
import mimetypes
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from edgedigits.core.errors import UsageError

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".onnx": "application/octet-stream",
    ".svg": "image/svg+xml",
}
COMPRESSIBLE = {".html", ".js", ".mjs", ".css", ".json", ".webmanifest", ".wasm", ".onnx", ".svg"}
HTTPS_NOTE = (
    "phone browsers give the camera only to https:// pages: pass --cert and --key, e.g. made with "
    "`openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=edgedigits -keyout key.pem -out cert.pem` "
    "(the phone will ask you to accept it once); over plain http the page still reads photos"
)


@dataclass(frozen=True)
class ServeConfig:
    folder: Path
    host: str = "127.0.0.1"
    port: int = 8000
    cert: Path | None = None
    key: Path | None = None


class _Handler(BaseHTTPRequestHandler):
    """GET and HEAD of files under ``root``; everything else is refused."""

    server_version = "edgedigits"
    sys_version = ""
    timeout = 30  # seconds a connection may stay silent (a TLS client that never says hello included)

    def __init__(self, *args, root: Path, cache: dict, log: Callable[[str], None], **kwargs) -> None:
        self.root, self.cache, self.log = root, cache, log
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        self._serve(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(body=False)

    def _refuse(self) -> None:
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED, "read-only")

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse  # noqa: N815

    def _serve(self, body: bool) -> None:
        path = self._resolve(self.path)
        if path is None:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        suffix = path.suffix.lower()
        gzipped = suffix in COMPRESSIBLE and "gzip" in self.headers.get("Accept-Encoding", "")
        stat = path.stat()
        # revalidation is cheap: an unchanged file (and encoding) is a 304, not 14 MB of WebAssembly again
        etag = f'"{stat.st_size:x}-{stat.st_mtime_ns:x}{"-gz" if gzipped else ""}"'
        if etag in (t.strip() for t in self.headers.get("If-None-Match", "").split(",")):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        try:
            data = path.read_bytes()
        except OSError:  # removed since (a re-export while serving)
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        if gzipped:
            data = self._compressed(path, stat.st_mtime_ns, data)
        self.send_response(HTTPStatus.OK)
        self.send_header("ETag", etag)
        self.send_header(
            "Content-Type",
            TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream",
        )
        self.send_header("Content-Length", str(len(data)))
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("Cache-Control", "no-cache")  # revalidate: the service worker keeps the offline copy
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if body:
            try:
                self.wfile.write(data)
            except ConnectionError:  # the browser went away (a reload mid-download): nothing to say
                return

    def _resolve(self, raw: str) -> Path | None:
        """The file a request path names under ``root``, or None (missing, or outside the folder)."""
        path = urllib.parse.unquote(urllib.parse.urlsplit(raw).path)
        if "\x00" in path or "\\" in path:
            return None
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if ".." in parts:
            return None
        target = self.root.joinpath(*parts)
        if target.is_dir():
            target = target / "index.html"
        try:
            resolved = target.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not resolved.is_relative_to(self.root) or not resolved.is_file():
            return None
        return resolved

    def _compressed(self, path: Path, mtime_ns: int, data: bytes) -> bytes:
        """gzip of the file as it is now; one entry per file, so re-exports do not pile up."""
        cached = self.cache.get(path)
        if cached is None or cached[0] != mtime_ns:
            cached = self.cache[path] = (mtime_ns, gzip.compress(data, compresslevel=6, mtime=0))
        return cached[1]

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's signature)
        if len(args) > 1 and str(args[1]).startswith(("4", "5")):  # errors only: a page load is 20 requests
            self.log(f"{self.address_string()} {format % args}")


def make_server(config: ServeConfig, log: Callable[[str], None] = print) -> ThreadingHTTPServer:
    """A server bound to ``config.host:port`` (port 0: any free port), not yet serving."""
    folder = config.folder.resolve()
    if not (folder / "index.html").is_file():
        raise UsageError(
            f"{config.folder} holds no index.html: write it with "
            "`edgedigits export --formats web --out build` (it is the web/ folder of the export)"
        )
    if (config.cert is None) != (config.key is None):
        raise UsageError("--cert and --key go together (a certificate and its private key)")
    if config.key is not None and config.key.resolve().is_relative_to(folder):
        raise UsageError(f"--key {config.key} is inside the served folder, so it would be published")
    handler = partial(_Handler, root=folder, cache={}, log=log)
    try:
        server = ThreadingHTTPServer((config.host, config.port), handler)
    except OSError as exc:
        raise UsageError(f"cannot listen on {config.host}:{config.port} ({exc.strerror or exc})") from exc
    if config.cert is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            context.load_cert_chain(config.cert, config.key)
        except (OSError, ssl.SSLError) as exc:
            server.server_close()
            raise UsageError(f"cannot use --cert {config.cert} / --key {config.key} ({exc})") from exc
        # the handshake happens in the connection's own thread (on its first read), not in accept()
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    server.daemon_threads = True
    return server


def serve(config: ServeConfig, log: Callable[[str], None] = print) -> None:
    """Serve until interrupted; says where, and what a phone needs for the camera."""
    server = make_server(config, log)
    scheme = "https" if config.cert else "http"
    host, port = server.server_address[:2]
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    log(f"serving {config.folder} at {scheme}://{shown}:{port}/ (read-only; Ctrl-C stops)")
    if not config.cert and not _loopback(config.host):
        log(f"note: {HTTPS_NOTE}")
    try:
        server.serve_forever()
    finally:
        server.server_close()


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@contextmanager
def serving(config: ServeConfig) -> Iterator[tuple[ThreadingHTTPServer, str]]:
    """The server in a background thread and its base URL, stopped on leaving (tests, proof, tools);
    ``stop`` ends it earlier (a test taking the page offline)."""
    server = make_server(config, log=lambda _: None)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    try:
        yield server, f"{'https' if config.cert else 'http'}://{host}:{port}/"
    finally:
        stop(server)


def stop(server: ThreadingHTTPServer) -> None:
    """Stop a server ``serving`` started and close its socket; a second call does nothing."""
    if server.socket.fileno() != -1:
        server.shutdown()
        server.server_close()
