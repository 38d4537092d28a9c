"""Screenshot of the browser reader in Chromium reading a notebook page from its fake camera.

Exports the web target (or takes --models DIR holding web/), plays a held-out notebook page as
Chromium's fake camera, opens the page headless at a phone's or a laptop's window size, waits until the
page has read a few frames, and writes a PNG:

    python tools/web_screenshot.py docs/web_reader.png [--size 1280x900]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from edgedigits.core.data import load_split
from edgedigits.evaluation.scenes import Inks, make_page, page_seed
from edgedigits.evaluation.y4m import write_y4m
from edgedigits.proof.browser import chromium, wait_ready
from edgedigits.runtime.serve import ServeConfig, serving


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="PNG to write")
    parser.add_argument("--models", type=Path, help="export folder holding web/ (default: export one now)")
    parser.add_argument("--size", default="1280x900", help="window size, e.g. 412x915 for a phone")
    parser.add_argument("--seed", type=int, default=3, help="which held-out notebook page")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        models = args.models
        if models is None:
            from edgedigits.export.exporter import ExportConfig, export

            models = work / "models"
            export(ExportConfig(formats=("web",), out=models), log=print)
        rng = np.random.default_rng(page_seed("notebook", "heldout", args.seed))
        page = make_page("notebook", Inks(load_split("test"), "heldout"), rng).image
        y4m = work / "page.y4m"
        write_y4m(y4m, [page] * 3)
        with serving(ServeConfig(models / "web", port=0)) as (_, url):
            browser = chromium(
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-video-capture={y4m}",
                f"--window-size={args.size.replace('x', ',')}",
            )
            try:
                browser.get(url + "?nosw")
                wait_ready(browser)
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    result = browser.execute_script("return window.edgedigits.lastResult")
                    if result and result["frame"] >= 10:
                        break
                    time.sleep(0.2)
                else:
                    raise SystemExit("the page read no frames from the fake camera within 30 s")
                args.out.parent.mkdir(parents=True, exist_ok=True)
                browser.save_screenshot(str(args.out))
                print(f"wrote {args.out}: {' '.join(line['text'] for line in result['lines'])}")
            finally:
                browser.quit()


if __name__ == "__main__":
    main()
