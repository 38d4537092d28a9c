"""The browser reader's speed and size, side by side with the Python runtime and tesseract.js 7.

Exports the web target (or takes ``--models DIR`` holding ``web/``), draws ``--pages`` notebook pages
(640x480) and forms (1280x720), held-out style by default, writes them as PNG, and serves the export,
the pages and the tesseract.js harness (tools/web_bench, its own npm package: ``npm ci`` there first)
from one local server to headless Chromium. For every page:
- the browser reader: first ``index.html?image=PAGE&nosw``, a navigation per page, the first in a fresh
  profile (cold: the page's own ``ms``, and the wall time from navigation to ``lastResult``), then, in
  one page, every page read again ``--runs`` times by ``window.edgedigits.read`` (warm, as frames of a
  camera are: the page's ``ms``, median per page; a first pass over all pages warms up);
- the Python runtime: ``DigitRecognizer().recognize`` on the same PNG as OpenCV decodes it, one thread,
  median of ``--runs``, page by page in turn with the warm browser runs (the cores here are shared: both
  then meet the same load);
- tesseract.js 7 (LSTM, eng best_int, digits whitelisted): its load and first call apart, then each page.
Numbers are read exactly the way tools/scenes.py counts them (``Score.add_numbers``: a line, or for
tesseract a word, with the number's text where it was written). Also the transfer size of the reader's
first load (every response of the first navigation but the image: gzip as served, and raw).
Usage: python tools/bench_web.py [--pages 10] [--style heldout] [--seed 0] [--runs 5] [--models DIR]
                                 [--psm 6,11] [--no-tesseract] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import cv2
import numpy as np

from edgedigits.core import data
from edgedigits.evaluation.scenes import STYLES, Inks, Page, Score, make_page, page_seed
from edgedigits.proof.browser import chromium, wait_ready
from edgedigits.runtime import DigitRecognizer
from edgedigits.runtime.serve import ServeConfig, serving

REPO = Path(__file__).resolve().parents[1]
HARNESS = REPO / "tools" / "web_bench"
KINDS = (("notebook", 640, 480), ("form", 1280, 720))
GOAL_RATIO = 2.0  # browser / Python runtime, one thread
GOAL_MB = 15.0  # first load
# tesseract.js's files, served under tesseract/ (from tools/web_bench/node_modules). The core is the one
# variant Chromium loads: tesseract.js 7 picks tesseract-core-{relaxedsimd,simd,}[-lstm].wasm.js by
# wasm-feature-detect, -lstm for its default OEM (LSTM only), and Chromium has relaxed SIMD (since 114);
# the .wasm.js embeds its .wasm. eng's data: best_int, the one tesseract.js loads for LSTM only.
TESSERACT_FILES = {
    "tesseract.html": "tesseract.html",
    "tesseract.min.js": "node_modules/tesseract.js/dist/tesseract.min.js",
    "worker.min.js": "node_modules/tesseract.js/dist/worker.min.js",
    "core/tesseract-core-relaxedsimd-lstm.wasm.js": (
        "node_modules/tesseract.js-core/tesseract-core-relaxedsimd-lstm.wasm.js"
    ),
    "lang/eng.traineddata.gz": "node_modules/@tesseract.js-data/eng/4.0.0_best_int/eng.traineddata.gz",
}
GZIPPED = {".html", ".js", ".mjs", ".css", ".json", ".webmanifest", ".wasm", ".onnx", ".svg"}  # as served


@dataclass
class Engine:
    """One engine's figures on one kind of page."""

    ms: list[float] = field(default_factory=list)  # per page (median of its runs where there are runs)
    score: Score = field(default_factory=Score)
    extra: dict[str, list[float]] = field(default_factory=dict)  # other per-page times
    warm: Score | None = None  # the browser reader: its numbers read again in one page (should agree)

    def add(self, page: Page, ms: float, read: list[tuple[str, tuple]]) -> None:
        self.ms.append(ms)
        self.score.add_numbers(page.whole_numbers(), [(text, tuple(box)) for text, box in read])

    def to_json(self) -> dict:
        return (
            {
                "ms_p50": median(self.ms),
                "ms_p90": float(np.percentile(self.ms, 90)) if self.ms else None,
                "numbers": self.score.numbers,
                "numbers_read": self.score.numbers_read,
                "numbers_exact": self.score.numbers_exact,
            }
            | {f"{name}_p50": median(values) for name, values in self.extra.items()}
            | ({} if self.warm is None else {"numbers_read_warm": self.warm.numbers_read})
        )


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


@dataclass
class Kind:
    """One kind of page: its pages, their URLs on the server, and the PNGs as OpenCV decodes them."""

    name: str
    pages: list[Page]
    urls: list[str]
    frames: list[np.ndarray]


# --- the pages and the served folder ------------------------------------------------------------------


def make_pages(kind: str, width: int, height: int, count: int, style: str, seed: int) -> list[Page]:
    """The same pages tools/scenes.py scores for ``kind`` and ``style`` (its seed range and order)."""
    inks = Inks(data.load_split("test"), style)
    rng = np.random.default_rng(page_seed(kind, style, seed))
    return [make_page(kind, inks, rng, width, height) for _ in range(count)]


def web_folder(models: Path | None, into: Path) -> Path:
    """``into/web``: a copy of ``models/web``, or a fresh ``edgedigits export --formats web``."""
    if models is not None:
        if not (models / "web" / "index.html").is_file():
            sys.exit(f"--models {models}: no web/index.html (edgedigits export --formats web --out DIR)")
        shutil.copytree(models / "web", into / "web")
    else:
        print("exporting the web target ...", file=sys.stderr, flush=True)
        done = subprocess.run(
            [sys.executable, "-m", "edgedigits", "export", "--formats", "web", "--out", str(into)],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            sys.exit(f"edgedigits export --formats web failed:\n{done.stderr}")
    return into / "web"


def tesseract_folder(into: Path) -> Path:
    missing = [src for src in TESSERACT_FILES.values() if not (HARNESS / src).is_file()]
    if missing:
        sys.exit(
            f"tools/web_bench lacks {', '.join(missing)}: run `npm ci` in tools/web_bench (or --no-tesseract)"
        )
    for name, src in TESSERACT_FILES.items():
        (into / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HARNESS / src, into / name)
    return into


def served_sizes(folder: Path) -> tuple[int, int]:
    """Raw and as-served (gzip where the server compresses) bytes of every file under ``folder``."""
    raw = packed = 0
    for path in folder.rglob("*"):
        if path.is_file():
            body = path.read_bytes()
            raw += len(body)
            packed += len(gzip.compress(body, 6, mtime=0)) if path.suffix in GZIPPED else len(body)
    return raw, packed


# --- the engines --------------------------------------------------------------------------------------

POLL = """
const done = arguments[arguments.length - 1];
const before = arguments[0];
const started = performance.now();
const poll = () => {
  const state = window.edgedigits;
  if (state && state.error) return done({error: state.error});
  if (state && state.lastResult && state.lastResult.frame > before) {
    return done({result: state.lastResult, at: performance.now()});
  }
  const waited = performance.now() - started;
  if (!state && waited > 10000) return done({error: 'the page did not start (see the console below)'});
  if (waited > arguments[1]) return done({error: 'no result in time'});
  setTimeout(poll, 1);
};
poll();
"""

# one image read again in the same page (``window.edgedigits.read``: a still, as ``?image=`` reads it)
READ = """
const [url, before, done] = arguments;
window.edgedigits.read(url).then((result) => {
  if (result && result.frame > before) done({result});
  else done({error: window.edgedigits.error || 'no result'});
}, (e) => done({error: String(e && e.message || e)}));
"""

TRANSFER = """
const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
return entries.map((e) => (
  {url: e.name, transfer: e.transferSize, encoded: e.encodedBodySize, decoded: e.decodedBodySize}));
"""


def page_error(browser, message: str) -> SystemExit:
    logs = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    return SystemExit(f"the web page failed: {message}" + "".join(f"\n  {line}" for line in logs[-5:]))


def wait_result(browser, before: int = -1, timeout_ms: float = 300_000) -> tuple[dict, float]:
    """The page's next ``lastResult`` and when it came (ms since the navigation)."""
    answer = browser.execute_async_script(POLL, before, timeout_ms)
    if "error" in answer:
        raise page_error(browser, answer["error"])
    return answer["result"], answer["at"]


def lines_read(result: dict) -> list[tuple[str, tuple]]:
    return [(line["text"], line["box"]) for line in result["lines"]]


def cold_pass(browser, base: str, kinds: list[Kind], engines: dict[str, Engine]) -> dict:
    """Every page in a navigation of its own (``?image=``); returns the first load's transfer."""
    reader = f"{base}export/web/index.html?nosw&image="
    transfer = None
    for kind in kinds:
        for page, url in zip(kind.pages, kind.urls, strict=True):
            browser.get(reader + quote(url))
            result, at = wait_result(browser)
            if transfer is None:  # a fresh profile: this navigation is the page's first load
                transfer = first_load(browser.execute_script(TRANSFER), base)
            engines[kind.name].extra["cold_ms"].append(result["ms"])
            engines[kind.name].extra["cold_wall_ms"].append(at)
            engines[kind.name].score.add_numbers(page.whole_numbers(), lines_read(result))
    return transfer


def warm_pass(browser, kinds: list[Kind], runs: int, ours: dict | None, python: dict[str, Engine]) -> None:
    """Every page ``runs`` times in the page left open (``ours``; None: Python only) and by the Python
    runtime (one thread), page by page in turn, so that both meet the same load on shared cores."""
    cv2.setNumThreads(1)
    recognizer = DigitRecognizer()
    frame = -1
    if ours is not None:
        wait_ready(browser)
        frame = browser.execute_script("return window.edgedigits.lastResult.frame")
    for kind in kinds:  # warm-up: one pass over every page
        for url, image in zip(kind.urls, kind.frames, strict=True):
            recognizer.recognize(image)
            if ours is not None:
                frame = read_again(browser, url, frame)[1]
    for kind in kinds:
        for page, url, image in zip(kind.pages, kind.urls, kind.frames, strict=True):
            if ours is not None:
                times = []
                for _ in range(runs):
                    result, frame = read_again(browser, url, frame)
                    times.append(result["ms"])
                ours[kind.name].ms.append(statistics.median(times))
                ours[kind.name].warm.add_numbers(page.whole_numbers(), lines_read(result))
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                read = recognizer.recognize(image)
                times.append((time.perf_counter() - t0) * 1e3)
            python[kind.name].add(page, statistics.median(times), [(ln.text, ln.box) for ln in read.lines])


def read_again(browser, url: str, frame: int) -> tuple[dict, int]:
    answer = browser.execute_async_script(READ, url, frame)
    if "error" in answer:
        raise page_error(browser, answer["error"])
    return answer["result"], answer["result"]["frame"]


def first_load(entries: list[dict], base: str) -> dict:
    """What the reader's first load fetched: every response but the image read."""
    fetched = [{"path": e["url"].removeprefix(base).split("?")[0]} | e for e in entries]
    files = [
        {k: f[k] for k in ("path", "transfer", "encoded", "decoded")}
        for f in fetched
        if not f["path"].startswith("pages/")
    ]
    return {
        "files": sorted(files, key=lambda f: -f["decoded"]),
        "transfer_bytes": sum(f["transfer"] for f in files),  # gzip as served, headers included
        "gzip_bytes": sum(f["encoded"] for f in files),
        "raw_bytes": sum(f["decoded"] for f in files),
    }


def tesseract(browser, base: str, kinds: list[Kind], psm: int) -> tuple[dict, dict[str, Engine]]:
    """tesseract.js in the same browser, page segmentation mode ``psm``: load, first call (warm-up),
    then every page once."""
    browser.get(f"{base}tesseract/tesseract.html?psm={psm}")
    error = browser.execute_async_script(
        "const done = arguments[0];"
        "window.bench.ready.then(() => done(null), (e) => done(String(e && e.message || e)));"
    )
    if error:
        raise page_error(browser, f"tesseract.js did not load: {error}")
    read = "const [url, done] = arguments; bench.read(url).then(done, (e) => done({error: String(e)}));"
    first_url = kinds[0].urls[0]
    first = browser.execute_async_script(read, first_url)
    if "error" in first:
        raise page_error(browser, f"tesseract.js failed on {first_url}: {first['error']}")
    about = browser.execute_script("return {load_ms: window.bench.loadMs, version: window.bench.version};")
    about |= {"psm": psm, "first_call_ms": first["ms"]}
    engines = {}
    for kind in kinds:
        engines[kind.name] = engine = Engine()
        for page, url in zip(kind.pages, kind.urls, strict=True):
            answer = browser.execute_async_script(read, url)
            if "error" in answer:
                raise page_error(browser, f"tesseract.js failed on {url}: {answer['error']}")
            engine.add(page, answer["ms"], [(w["text"], w["box"]) for w in answer["words"]])
    return about, engines


# --- the report ---------------------------------------------------------------------------------------


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def report(out: dict) -> None:
    print(
        f"{out['pages']} pages of each kind, {out['style']} style, seed {out['seed']}, {out['runs']} runs; "
        f"{out['chromium']}; load average {out['load_average'][0]:.1f} at the start"
    )
    tess = [key for key in next(iter(out["kinds"].values())) if key.startswith("tesseract.js")]
    columns = ["browser", "python", *tess]
    heads = ["browser", "python", *(key.replace("tesseract.js ", "tess.js ") for key in tess)]
    print(
        f"\nms per frame, median over pages (ratio: browser / python of the medians, and the median of "
        f"the pages' own ratios; goal <= {GOAL_RATIO:.0f}x)"
    )
    print(f"{'frames':<18}" + "".join(f"{h:>15}" for h in heads) + f"{'ratio':>8}{'paired':>8}")
    for name, row in out["kinds"].items():
        cells = [ms(row.get(c, {}).get("ms_p50")) for c in columns]
        b, p = row.get("browser", {}).get("ms_p50"), row["python"]["ms_p50"]
        ratio = f"{b / p:.2f}x" if b and p else "-"
        paired = f"{row['ratio_paired_p50']:.2f}x" if "ratio_paired_p50" in row else "-"
        print(f"{name:<18}" + "".join(f"{c:>15}" for c in cells) + f"{ratio:>8}{paired:>8}")
    print("\nnumbers read exactly")
    print(f"{'frames':<18}" + "".join(f"{h:>15}" for h in heads) + f"{'numbers':>9}")
    for name, row in out["kinds"].items():
        cells = [pct(row.get(c, {}).get("numbers_exact")) for c in columns]
        print(f"{name:<18}" + "".join(f"{c:>15}" for c in cells) + f"{row['python']['numbers']:>9}")
    if "browser_error" in out:
        print(f"\nbrowser reader: {out['browser_error']}")
    else:
        print("\nbrowser reader, a navigation per page (cold): page ms / wall ms from navigation to result")
        for name, row in out["kinds"].items():
            b = row["browser"]
            same = (
                ""
                if b["numbers_read_warm"] == b["numbers_read"]
                else f" (warm: {b['numbers_read_warm']} read)"
            )
            print(f"  {name:<18}{ms(b['cold_ms_p50']):>8} / {ms(b['cold_wall_ms_p50'])}{same}")
        t, mb = out["transfer"], 1e6
        print(
            f"\nfirst load: {len(t['files'])} responses, {t['raw_bytes'] / mb:.2f} MB raw, "
            f"{t['gzip_bytes'] / mb:.2f} MB gzip as served ({t['transfer_bytes'] / mb:.2f} MB with headers); "
            f"goal <= {GOAL_MB:.0f} MB"
        )
        for f in t["files"][:4]:
            print(f"  {f['path']:<40}{f['decoded'] / mb:>7.2f} MB raw{f['encoded'] / mb:>7.2f} MB gzip")
    if "tesseract_js" in out:
        tj, mb = out["tesseract_js"], 1e6
        print(
            f"\ntesseract.js: its files {tj['raw_bytes'] / mb:.2f} MB raw, "
            f"{tj['gzip_bytes'] / mb:.2f} MB gzip"
        )
        for key, run in tj["runs"].items():
            print(
                f"  {key}: Tesseract {run['version']}, load {ms(run['load_ms'])} ms, "
                f"first call (warm-up) {ms(run['first_call_ms'])} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10, help="pages per kind")
    parser.add_argument("--style", choices=STYLES, default="heldout")
    parser.add_argument("--seed", type=int, default=0, help="offset into each kind's seed range")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per page (browser warm, Python)")
    parser.add_argument("--models", type=Path, default=None, help="a folder holding web/ (default: export)")
    parser.add_argument(
        "--psm",
        default="6,11",
        help="tesseract's page segmentation modes, one run each (6, a single block: tesseract.js's "
        "default; 11: sparse text, the one for numbers scattered over a page)",
    )
    parser.add_argument("--no-tesseract", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="edgedigits-bench-web-") as tmp:
        root = Path(tmp)
        (root / "index.html").write_text("<!doctype html><title>bench</title>\n")
        web_folder(args.models, root / "export")
        (root / "pages").mkdir()
        kinds = []
        for kind, width, height in KINDS:
            pages = make_pages(kind, width, height, args.pages, args.style, args.seed)
            paths = [root / "pages" / f"{kind}-{i:03d}.png" for i in range(len(pages))]
            for page, path in zip(pages, paths, strict=True):
                cv2.imwrite(str(path), page.image)
            frames = [cv2.imread(str(path)) for path in paths]
            kinds.append(Kind(f"{kind} {width}x{height}", pages, [f"/pages/{p.name}" for p in paths], frames))
        if not args.no_tesseract:
            tess_raw, tess_gzip = served_sizes(tesseract_folder(root / "tesseract"))

        out = {
            "pages": args.pages,
            "style": args.style,
            "seed": args.seed,
            "runs": args.runs,
            "load_average": os.getloadavg(),  # this machine's cores are shared: the 1, 5, 15 min load
        }
        python = {kind.name: Engine() for kind in kinds}
        ours = {kind.name: Engine(extra={"cold_ms": [], "cold_wall_ms": []}, warm=Score()) for kind in kinds}
        with serving(ServeConfig(root, port=0)) as (_, base):
            browser = chromium(timeout_s=600)
            try:
                out["chromium"] = f"Chromium {browser.capabilities.get('browserVersion', '?')} headless"
                print("browser reader, cold ...", file=sys.stderr, flush=True)
                try:  # first, in the fresh profile: its first load is measured
                    out["transfer"] = cold_pass(browser, base, kinds, ours)
                except SystemExit as exc:
                    out["browser_error"] = str(exc)
                    ours = None
                print("browser reader and Python runtime, warm ...", file=sys.stderr, flush=True)
                warm_pass(browser, kinds, args.runs, ours, python)
                out["kinds"] = {kind.name: {"python": python[kind.name].to_json()} for kind in kinds}
                for kind in [] if ours is None else kinds:
                    pairs = zip(ours[kind.name].ms, python[kind.name].ms, strict=True)
                    out["kinds"][kind.name] |= {
                        "browser": ours[kind.name].to_json(),
                        "ratio_paired_p50": median([b / p for b, p in pairs]),  # page by page, same load
                    }
                for psm in [] if args.no_tesseract else [int(p) for p in args.psm.split(",")]:
                    print(f"tesseract.js psm {psm} ...", file=sys.stderr, flush=True)
                    about, tess = tesseract(browser, base, kinds, psm)
                    sizes = {"raw_bytes": tess_raw, "gzip_bytes": tess_gzip}
                    out.setdefault("tesseract_js", sizes | {"runs": {}})
                    out["tesseract_js"]["runs"][f"psm {psm}"] = about
                    for kind in kinds:
                        out["kinds"][kind.name][f"tesseract.js psm {psm}"] = tess[kind.name].to_json()
            finally:
                browser.quit()
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        report(out)
    if "browser_error" in out:
        sys.exit(1)


if __name__ == "__main__":
    main()
