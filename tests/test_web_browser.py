"""The browser reader in Debian's Chromium (headless, selenium): the same answers as the Python reader
on the same frames, a fake camera, offline after the first visit, and a clear message (never an
uncaught error) when the camera is denied or absent or the model is broken."""

from __future__ import annotations

import json
import shutil
import time

import cv2
import numpy as np
import pytest

from edgedigits.evaluation.pan import PanParams, pan_frames, pan_seed
from edgedigits.evaluation.scenes import Inks, make_page, page_seed
from edgedigits.evaluation.web_parity import Parity
from edgedigits.evaluation.y4m import write_y4m
from edgedigits.proof.browser import chromium, wait_ready
from edgedigits.runtime import DigitRecognizer
from edgedigits.runtime.serve import ServeConfig, serving, stop
from edgedigits.runtime.tracker import LabelStabilizer

STILLS = {"blank": 2, "notebook": 3, "clutter": 3, "form": 2, "words": 2}  # held-out pages per condition
PANS, PAN_FRAMES = ("notebook", "clutter"), 20  # held-out panning videos, read frame by frame
FAKE_CAMERA = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")


@pytest.fixture(scope="session")
def site(tmp_path_factory, web_export, test_split):
    """A copy of the web export with held-out frames beside it, served on a free port."""
    root = tmp_path_factory.mktemp("site") / "web"
    shutil.copytree(web_export / "web", root)
    frames = root / "frames"
    frames.mkdir()
    inks = Inks(test_split, "heldout")
    for kind, count in STILLS.items():
        rng = np.random.default_rng(page_seed(kind, "heldout", 7))
        for i in range(count):
            cv2.imwrite(str(frames / f"{kind}-{i}.png"), make_page(kind, inks, rng).image)
    for kind in PANS:
        rng = np.random.default_rng(pan_seed(kind, "pan", "heldout", 0, True))
        for t, (frame, _) in enumerate(pan_frames(kind, "pan", inks, rng, PanParams(frames=PAN_FRAMES))):
            cv2.imwrite(str(frames / f"pan-{kind}-{t:02d}.png"), frame)
    with serving(ServeConfig(root, port=0)) as (_, url):
        yield root, url


@pytest.fixture(scope="session")
def browser():
    driver = chromium()
    yield driver
    driver.quit()


def _read(driver, url: str, video: bool = False) -> dict:
    return driver.execute_async_script(
        "const [url, video, done] = arguments;"
        "window.edgedigits.read(url, video).then(done, (e) => done({error: String(e)}));",
        url,
        video,
    )


def _uncaught(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if "Uncaught" in e["message"]]


def _open(driver, url: str) -> None:
    driver.get(url)
    wait_ready(driver)


def test_stills_read_as_the_python_reader_reads_them(site, browser):
    root, url = site
    _open(browser, url + "?proof&nosw")
    python = DigitRecognizer()
    parity = Parity()
    for png in sorted((root / "frames").glob("[!p]*.png")):  # the stills, not the pan's frames
        page = _read(browser, f"frames/{png.name}")
        assert "error" not in page, page
        parity.add(python.recognize(cv2.imread(str(png))).to_json(), page)
    figures = parity.rates()
    print(json.dumps(figures))
    assert figures["frames"] == sum(STILLS.values()) and figures["digits"] > 150
    assert figures["found_rate"] >= 0.99 and figures["extra"] <= 0.01 * figures["digits"], figures
    assert figures["label_rate"] >= 0.995, figures
    assert figures["number_rate"] >= 0.98, figures
    assert figures["rejected_rate"] >= 0.95, figures
    assert not _uncaught(browser)


@pytest.mark.slow
def test_a_panning_video_reads_as_the_python_tracker_reads_it(site, browser):
    """Frame by frame through the page's tracker (labels and numbers voted over frames) and Python's."""
    root, url = site
    _open(browser, url + "?proof&nosw")
    python, parity = DigitRecognizer(), Parity()
    for kind in PANS:
        browser.refresh()  # a new video: the page's tracks start empty, as Python's do
        wait_ready(browser)
        stabilizer = LabelStabilizer()
        for png in sorted((root / "frames").glob(f"pan-{kind}-*.png")):
            page = _read(browser, f"frames/{png.name}", video=True)
            parity.add(stabilizer.update(python.recognize(cv2.imread(str(png)))).to_json(), page)
    figures = parity.rates()
    print(json.dumps(figures))
    assert figures["frames"] == len(PANS) * PAN_FRAMES and figures["digits"] > 250
    assert figures["found_rate"] >= 0.98 and figures["label_rate"] >= 0.995, figures
    assert figures["number_rate"] >= 0.97 and figures["partial_rate"] >= 0.9, figures


def _poll(driver, script: str, timeout_s: float = 30.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for: {script}")


@pytest.fixture(scope="session")
def camera_page(site, test_split, tmp_path_factory):
    """A notebook page played by Chromium's fake camera, and what the Python reader reads on it after
    the same 4:2:0 round trip the camera makes."""
    inks = Inks(test_split, "heldout")
    frame = make_page("notebook", inks, np.random.default_rng(page_seed("notebook", "heldout", 11))).image
    y4m = tmp_path_factory.mktemp("camera") / "notebook.y4m"
    write_y4m(y4m, [frame] * 3)
    seen = cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420), cv2.COLOR_YUV2BGR_I420)
    return y4m, DigitRecognizer().recognize(seen).to_json()


def test_the_camera_is_read_live(site, camera_page):
    root, url = site
    y4m, python = camera_page
    driver = chromium(*FAKE_CAMERA, f"--use-file-for-fake-video-capture={y4m}")
    try:
        _open(driver, url + "?nosw")
        result = _poll(driver, "const r = window.edgedigits.lastResult; return r && r.frame >= 5 && r;")
        assert result["source"] == "camera"
        assert {"frame", "digits", "lines", "partial", "rejected", "ms"} <= set(result)
        assert all("votes" in ln and "frames" in ln for ln in result["lines"])
        wanted = [ln["text"] for ln in python["lines"]]
        read = [ln["text"] for ln in result["lines"]]
        assert len(wanted) >= 6
        assert sum(t in read for t in wanted) >= 0.9 * len(wanted), (wanted, read)
        listed = driver.execute_script("return [...document.querySelectorAll('#numbers li')].length")
        assert listed == len(result["lines"])
        assert not _uncaught(driver)
    finally:
        driver.quit()


def _message(driver) -> str:
    return _poll(driver, "const m = document.getElementById('message'); return !m.hidden && m.textContent;")


def test_a_denied_camera_is_said_plainly(site):
    _, url = site
    driver = chromium("--use-fake-device-for-media-stream", "--deny-permission-prompts")
    try:
        _open(driver, url + "?nosw")
        assert "Camera access was denied" in _message(driver)
        assert driver.execute_script("return window.edgedigits.lastResult") is None
        assert not _uncaught(driver)
    finally:
        driver.quit()


def test_no_camera_is_said_plainly(site):
    _, url = site
    driver = chromium("--use-fake-ui-for-media-stream")  # allowed, but headless Chromium has no camera
    try:
        _open(driver, url + "?nosw")
        assert "No camera was found" in _message(driver)
        assert not _uncaught(driver)
    finally:
        driver.quit()


def test_a_broken_model_is_said_plainly(site, browser, tmp_path):
    root, _ = site
    broken = tmp_path / "web"
    shutil.copytree(root, broken, ignore=shutil.ignore_patterns("frames"))
    (broken / "mnist_mlp.onnx").write_bytes(b"this is not an ONNX model")
    with serving(ServeConfig(broken, port=0)) as (_, url):
        browser.get(url + "?nosw&image=icon.svg")
        assert "The model could not be loaded" in _message(browser)
        assert "edgedigits export --formats web" in _message(browser)
        assert not _uncaught(browser)


@pytest.mark.slow
def test_it_reads_offline_after_the_first_visit(site, camera_page, tmp_path):
    """Load once (the service worker caches the page, model and runtime), stop the server and switch the
    browser offline, reload: the camera is still read."""
    root, _ = site
    y4m, _ = camera_page
    own = tmp_path / "web"
    shutil.copytree(root, own, ignore=shutil.ignore_patterns("frames"))
    with serving(ServeConfig(own, port=0)) as (server, url):
        driver = chromium(*FAKE_CAMERA, f"--use-file-for-fake-video-capture={y4m}")
        try:
            _open(driver, url)
            _poll(driver, "return navigator.serviceWorker.controller !== null")
            stop(server)
            driver.execute_cdp_cmd("Network.enable", {})
            driver.execute_cdp_cmd(
                "Network.emulateNetworkConditions",
                {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
            )
            driver.refresh()
            wait_ready(driver)
            result = _poll(driver, "const r = window.edgedigits.lastResult; return r && r.frame >= 3 && r;")
            assert len(result["lines"]) >= 6
            assert not _uncaught(driver)
        finally:
            driver.quit()


def test_the_page_is_an_installable_app_that_caches_every_file(site, browser):
    root, url = site
    _open(browser, url + "?proof")
    _poll(browser, "return navigator.serviceWorker.controller !== null")
    assert browser.execute_cdp_cmd("Page.getInstallabilityErrors", {}) == {"installabilityErrors": []}
    cached = browser.execute_async_script(
        "const done = arguments[0];"
        "caches.keys().then(async (keys) => done(await Promise.all(keys.map(async (k) =>"
        " [k, (await (await caches.open(k)).keys()).map((r) => new URL(r.url).pathname)]))));"
    )
    precache = json.loads((root / "precache.json").read_text())
    assert [name for name, _ in cached] == [f"edgedigits {url} {precache['version']}"]
    assert sorted(cached[0][1]) == sorted("/" + f.removeprefix("./") for f in precache["files"])
    browser.execute_async_script(  # the shared browser's later pages are not this worker's
        "const done = arguments[0];"
        "navigator.serviceWorker.getRegistrations().then((rs) => Promise.all(rs.map((r) => r.unregister())))"
        ".then(() => done(null));"
    )


def test_a_photo_picked_by_the_user_is_read(site, browser):
    from selenium.webdriver.common.by import By

    root, url = site
    _open(browser, url + "?proof&nosw")
    photo = root / "frames" / "notebook-0.png"
    browser.find_element(By.ID, "photo").send_keys(str(photo))
    result = _poll(
        browser, "const r = window.edgedigits.lastResult; return r && r.source === 'notebook-0.png' && r;"
    )
    python = DigitRecognizer().recognize(cv2.imread(str(photo))).to_json()
    assert [ln["text"] for ln in result["lines"]] == [ln["text"] for ln in python["lines"]]
    assert all("votes" not in ln for ln in result["lines"])  # a still is not voted over frames
    shown = browser.execute_script(
        "return [...document.querySelectorAll('#numbers li')].map((li) => li.textContent)"
    )
    assert shown == [ln["text"] for ln in python["lines"]]
