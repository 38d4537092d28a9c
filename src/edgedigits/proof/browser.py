"""The web export's model run where it will run: onnxruntime-web in Chromium (headless, driven by
selenium), the consumer verify and bench hold the ``web`` row to. Also starts the browser for the page's
own tests and tools (``chromium``)."""

from __future__ import annotations

import base64
import shutil
import tempfile
import weakref
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from edgedigits.core.errors import ArtifactError, MissingRuntime
from edgedigits.runtime.serve import ServeConfig, serving

CHUNK = 2000  # images per call into the page: 6 MB of base64, well within what WebDriver carries
# Chromium as root in a container, with nothing that phones home (the network here is closed: without
# these flags every start makes dozens of refused connections)
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--window-size=1280,900",
)


def chromium(*args: str, timeout_s: float = 60.0):
    """A selenium driver for Debian's chromium (``/usr/bin/chromium`` + ``chromedriver``), headless, with
    its own empty profile removed when the driver quits; ``args`` are more Chromium flags."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        raise MissingRuntime("the browser proof needs selenium: pip install 'edgedigits[web]'") from exc
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if binary is None or driver is None:
        raise MissingRuntime("no chromium/chromedriver: apt-get install chromium chromium-driver")
    profile = tempfile.mkdtemp(prefix="edgedigits-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*FLAGS, f"--user-data-dir={profile}", *args):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        browser = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    except Exception:
        shutil.rmtree(profile, ignore_errors=True)
        raise
    browser.set_script_timeout(timeout_s)
    weakref.finalize(browser, shutil.rmtree, profile, True)
    return browser


def wait_ready(browser) -> None:
    """Until the page's model is loaded; its error message when it cannot be."""
    error = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "window.edgedigits.ready.then(() => done(null), (e) => done(String(e && e.message || e)));"
    )
    if error:
        raise ArtifactError(f"the web page could not load its model: {error}")


class BrowserModel:
    """``predict`` through the page's own model code (``window.edgedigits.predict``), served from the
    export's folder by ``edgedigits serve``'s server."""

    def __init__(self, path: Path) -> None:
        with ExitStack() as stack:  # the server stops if chromium does not start
            _, url = stack.enter_context(serving(ServeConfig(Path(path).parent, port=0)))
            self.browser = chromium()
            weakref.finalize(self, _close, self.browser, stack.pop_all())
        self.browser.get(url + "?proof")
        wait_ready(self.browser)

    def predict(self, images: np.ndarray) -> np.ndarray:
        images = np.ascontiguousarray(images, np.float32)
        out, seconds = [], 0.0
        for start in range(0, len(images), CHUNK):
            batch = images[start : start + CHUNK]
            encoded = base64.b64encode(batch.tobytes()).decode()
            result = self.browser.execute_async_script(PREDICT, encoded, len(batch))
            if "error" in result:
                raise ArtifactError(f"the web page's model failed: {result['error']}")
            seconds += result["ms"] / 1000
            out.append(np.frombuffer(base64.b64decode(result["logits"]), np.float32).reshape(len(batch), -1))
        self.seconds = seconds
        return np.concatenate(out) if out else np.zeros((0, 10), np.float32)

    def latencies(self, image: np.ndarray, runs: int) -> list[float]:
        """Batch-1 latencies in ms, timed inside the page (WebDriver's round trip left out): each the
        mean of ten calls, as the page's clock ticks in 0.1 ms steps."""
        encoded = base64.b64encode(np.ascontiguousarray(image, np.float32).tobytes()).decode()
        result = self.browser.execute_async_script(LATENCIES, encoded, runs)
        if isinstance(result, dict):
            raise ArtifactError(f"the web page's model failed: {result.get('error')}")
        return result

    def batch_seconds(self) -> float:
        """How long the model took in the page over the last ``predict`` (transfers left out)."""
        return self.seconds


LATENCIES = """
const [encoded, runs, done] = arguments;
const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
const image = new Float32Array(bytes.buffer);
(async () => {
  for (let i = 0; i < 10; i++) await window.edgedigits.predict(image, 1);
  const out = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    for (let k = 0; k < 10; k++) await window.edgedigits.predict(image, 1);
    out.push((performance.now() - t0) / 10);
  }
  return out;
})().then(done, (e) => done({error: String(e)}));
"""

PREDICT = """
const [encoded, n, done] = arguments;
const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
const t0 = performance.now();
window.edgedigits.predict(new Float32Array(bytes.buffer), n).then((logits) => {
  const ms = performance.now() - t0;
  const raw = new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength);
  let text = '';
  for (let i = 0; i < raw.length; i += 0x8000) text += String.fromCharCode(...raw.subarray(i, i + 0x8000));
  done({logits: btoa(text), ms});
}, (e) => done({error: String(e && e.message || e)}));
"""


def _close(browser, serving: ExitStack) -> None:
    try:
        browser.quit()
    finally:
        serving.close()
