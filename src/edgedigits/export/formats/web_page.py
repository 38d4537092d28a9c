"""The browser reader: a static folder, ``web/``, that reads numbers from a phone's camera offline.

It holds the page and the reader's ES modules (``edgedigits/web`` in the package), the fp32 ONNX model,
``contract.json`` (what the model says about itself and every setting of the reader: the JavaScript
keeps no copy of either), onnxruntime-web's single-threaded WebAssembly runtime, and ``precache.json``,
the files the service worker keeps for offline use. onnxruntime-web's files (14 MB, third-party
binaries) are not in git or in the wheel: they come from an unpacked npm package named by
``$EDGEDIGITS_ORT_WEB`` (e.g. ``node_modules/onnxruntime-web``), or from a cache filled once from the
npm registry's tarball, checked against the integrity hash pinned here.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import tarfile
import urllib.request
from importlib import resources
from pathlib import Path

from edgedigits.core.errors import ArtifactError
from edgedigits.export.formats.context import ExportContext
from edgedigits.runtime.session import OnnxModel
from edgedigits.runtime.settings import web_contract

ORT_WEB_VERSION = "1.30.0"
ORT_WEB_INTEGRITY = (  # `npm view onnxruntime-web@1.30.0 dist.integrity`
    "sha512-q0y+JrrtukXSzsBWEMccVfqX25LRmosXHF+CaRJmg8pZClzcV7svNc4rKY3jL02Vb7QmRMDs1SigqR4CXAfKYQ=="
)
# the WebAssembly build only (no WebGPU/WebGL): an MLP this small gains nothing from a GPU
ORT_WEB_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
REGISTRY = "https://registry.npmjs.org"


def onnx_to_web(ctx: ExportContext, path: Path) -> None:
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    page = resources.files("edgedigits") / "web"
    with resources.as_file(page) as source:
        shutil.copytree(source, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(ctx.written["onnx"], path)
    contract = web_contract(OnnxModel(path).info, path.name)
    (folder / "contract.json").write_text(json.dumps(contract, indent=1) + "\n")
    runtime = ort_web_dir()
    (folder / "ort").mkdir(exist_ok=True)
    for name in ORT_WEB_FILES:
        shutil.copyfile(runtime / name, folder / "ort" / name)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    digest = hashlib.sha256(b"".join((folder / f).read_bytes() for f in files)).hexdigest()[:16]
    # the service worker's cache is named after everything it caches, and sw.js carries that name: a
    # browser installs a service worker again only when its script's bytes change
    (folder / "precache.json").write_text(json.dumps({"version": digest, "files": ["./", *files]}) + "\n")
    sw = folder / "sw.js"
    sw.write_text(f"// export {digest}\n" + sw.read_text())


def ort_web_dir() -> Path:
    """A folder holding ``ORT_WEB_FILES`` of onnxruntime-web ``ORT_WEB_VERSION``."""
    named = os.environ.get("EDGEDIGITS_ORT_WEB")
    if named:
        return _package_dist(Path(named))
    cache = _cache_root() / f"onnxruntime-web-{ORT_WEB_VERSION}"
    if all((cache / name).is_file() for name in ORT_WEB_FILES):
        return cache
    registry = os.environ.get("EDGEDIGITS_NPM_REGISTRY", REGISTRY)
    url = f"{registry}/onnxruntime-web/-/onnxruntime-web-{ORT_WEB_VERSION}.tgz"
    print(f"fetching onnxruntime-web {ORT_WEB_VERSION} once from {url} into {cache}", flush=True)
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            tarball = response.read()
    except OSError as exc:
        raise ArtifactError(
            f"cannot fetch onnxruntime-web {ORT_WEB_VERSION} ({exc}); offline, run `npm install "
            f"onnxruntime-web@{ORT_WEB_VERSION}` elsewhere and set "
            "EDGEDIGITS_ORT_WEB=node_modules/onnxruntime-web"
        ) from exc
    _unpack(tarball, cache)
    return cache


def _unpack(tarball: bytes, cache: Path) -> None:
    """Check the tarball against the pinned integrity hash, then keep the runtime's files in ``cache``."""
    algo, _, expected = ORT_WEB_INTEGRITY.partition("-")
    if base64.b64encode(hashlib.new(algo, tarball).digest()).decode() != expected:
        raise ArtifactError(
            f"onnxruntime-web {ORT_WEB_VERSION}'s tarball does not match its pinned {algo} hash"
        )
    staging = cache.with_name(cache.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(tarball)) as archive:
        for name in ORT_WEB_FILES:
            member = archive.extractfile(f"package/dist/{name}")
            if member is None:
                raise ArtifactError(f"onnxruntime-web {ORT_WEB_VERSION}'s tarball has no dist/{name}")
            (staging / name).write_bytes(member.read())
    shutil.rmtree(cache, ignore_errors=True)
    os.replace(staging, cache)


def _package_dist(package: Path) -> Path:
    """``dist/`` of an unpacked onnxruntime-web package, refused when it is another version."""
    try:
        version = json.loads((package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError) as exc:
        raise ArtifactError(
            f"EDGEDIGITS_ORT_WEB={package} is not an onnxruntime-web package ({exc})"
        ) from exc
    if version != ORT_WEB_VERSION:
        raise ArtifactError(
            f"EDGEDIGITS_ORT_WEB={package} holds onnxruntime-web {version}; "
            f"the web export needs {ORT_WEB_VERSION}"
        )
    missing = [name for name in ORT_WEB_FILES if not (package / "dist" / name).is_file()]
    if missing:
        raise ArtifactError(f"EDGEDIGITS_ORT_WEB={package}: dist/ lacks {', '.join(missing)}")
    return package / "dist"


def _cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edgedigits"
