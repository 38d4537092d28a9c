"""The web export target: what the folder holds, the contract it carries, where onnxruntime-web comes
from, and `edgedigits serve` (read-only, the folder only, the headers the page needs)."""

from __future__ import annotations

import gzip
import http.client
import json
import re
import shutil
import ssl
import subprocess

import onnx
import pytest

from conftest import cli
from edgedigits.core.errors import ArtifactError, UsageError
from edgedigits.core.manifest import read_manifest
from edgedigits.export.formats import web_page
from edgedigits.runtime.serve import ServeConfig, make_server, serving
from edgedigits.runtime.settings import reader_settings

PAGE = ("index.html", "app.js", "model.js", "sw.js", "style.css", "manifest.webmanifest", "icon.svg")


def test_web_folder_holds_page_reader_model_and_runtime(web_export):
    web = web_export / "web"
    for name in (
        *PAGE,
        "contract.json",
        "precache.json",
        "mnist_mlp.onnx",
        *(f"ort/{f}" for f in web_page.ORT_WEB_FILES),
    ):
        assert (web / name).is_file(), name
    for module in ("reader.js", "segment.js", "normalize.js", "lines.js", "tracker.js", "boxes.js"):
        assert (web / "reader" / module).is_file(), module
    total = sum(p.stat().st_size for p in web.rglob("*") if p.is_file())
    assert total <= 15_000_000, f"first load {total / 1e6:.2f} MB"
    precache = json.loads((web / "precache.json").read_text())
    listed = {f for f in precache["files"] if f != "./"}
    assert listed == {p.relative_to(web).as_posix() for p in web.rglob("*") if p.is_file()} - {
        "precache.json"
    }
    assert re.fullmatch(r"[0-9a-f]{16}", precache["version"])
    # a new export is a new service worker (browsers reinstall one only when its bytes change)
    assert (web / "sw.js").read_text().startswith(f"// export {precache['version']}\n")


def test_manifest_hashes_every_file_of_the_folder(web_export):
    manifest = read_manifest(web_export)
    (entry,) = [a for a in manifest.artifacts if a.format == "web"]
    assert entry.file == "web/mnist_mlp.onnx"
    files = {f.file for f in entry.files}
    assert {f"web/{name}" for name in PAGE} <= files
    assert "web/ort/ort-wasm-simd-threaded.wasm" in files
    assert entry.problem(web_export) is None


def test_a_changed_page_file_fails_verify(web_export, tmp_path, data_dir):
    models = tmp_path / "models"
    shutil.copytree(web_export, models)
    (models / "web" / "app.js").write_text("window.edgedigits = null;\n")
    result = cli("verify", "--models", str(models), "--data-dir", str(data_dir))
    assert result.returncode != 0
    assert "sha256 of web/app.js does not match the manifest" in result.stdout + result.stderr


def test_contract_is_the_models_metadata_and_the_readers_settings(web_export):
    web = web_export / "web"
    contract = json.loads((web / "contract.json").read_text())
    meta = {p.key: p.value for p in onnx.load(web / "mnist_mlp.onnx").metadata_props}
    assert contract["metadata"] == meta
    assert contract["labels"] == json.loads(meta["labels"])
    rule = json.loads(meta["reject"])
    assert contract["reject"] == {"score": rule["score"], "threshold": rule["threshold"]}
    assert contract["reader"] == json.loads(json.dumps(reader_settings()))
    assert (contract["model"], contract["input"], contract["output"]) == ("mnist_mlp.onnx", "image", "logits")


def test_the_javascript_keeps_no_copy_of_the_contract(web_export):
    """The reader's thresholds and the model's rejection rule live in contract.json only: none of their
    values is written in the JavaScript (a copy would drift from the Python reader)."""
    contract = json.loads((web_export / "web" / "contract.json").read_text())
    values = {contract["reject"]["threshold"]}
    for group in contract["reader"].values():
        values |= {v for v in group.values() if isinstance(v, float) and v not in (0.0, 1.0, 0.5)}
    code = "\n".join(p.read_text() for p in (web_export / "web").rglob("*.js") if "ort" not in p.parts)
    copied = sorted(v for v in values if re.search(rf"(?<![\d.]){re.escape(repr(v))}(?!\d)", code))
    assert not copied, f"constants of the contract written in the JavaScript: {copied}"


def test_ort_web_from_another_version_is_refused(tmp_path, monkeypatch):
    (tmp_path / "package.json").write_text(json.dumps({"version": "1.29.0"}))
    monkeypatch.setenv("EDGEDIGITS_ORT_WEB", str(tmp_path))
    with pytest.raises(ArtifactError, match="holds onnxruntime-web 1.29.0; the web export needs 1.30.0"):
        web_page.ort_web_dir()


def test_a_tarball_that_does_not_match_its_pinned_hash_is_refused(tmp_path):
    with pytest.raises(ArtifactError, match="does not match its pinned sha512 hash"):
        web_page._unpack(b"not the tarball", tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_offline_without_a_cache_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("EDGEDIGITS_ORT_WEB")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("EDGEDIGITS_NPM_REGISTRY", "http://127.0.0.1:9")  # the discard port: refused
    with pytest.raises(ArtifactError, match="cannot fetch onnxruntime-web 1.30.0 .*EDGEDIGITS_ORT_WEB="):
        web_page.ort_web_dir()


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "web"
    (root / "reader").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>page</title>")
    (root / "reader" / "a.js").write_text("export const a = 1;\n" * 200)
    (root / "x.wasm").write_bytes(b"\0asm" + bytes(1000))
    (root / "manifest.webmanifest").write_text("{}")
    (tmp_path / "secret.txt").write_text("outside the folder")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    with serving(ServeConfig(root, port=0)) as (server, _):
        yield server.server_address[1]


def _get(port, path, method="GET", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, headers=headers or {})
    response = conn.getresponse()
    return response.status, dict(response.getheaders()), response.read()


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/reader/..%2f..%2fsecret.txt",
        "/%2E%2E%5Csecret.txt",
        "/link.txt",
        "//etc/passwd",
        "/reader/../../secret.txt",
        "/nothing.js",
        "/%00index.html",
    ],
)
def test_serve_gives_nothing_outside_its_folder(served, path):
    status, _, body = _get(served, path)
    assert status == 404
    assert b"outside the folder" not in body


def test_serve_is_read_only_with_the_types_the_page_needs(served):
    assert _get(served, "/", "POST")[0] == 405
    assert _get(served, "/index.html", "PUT")[0] == 405
    status, headers, body = _get(served, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html") and b"<title>page" in body
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert _get(served, "/x.wasm")[1]["Content-Type"] == "application/wasm"
    assert _get(served, "/reader/a.js")[1]["Content-Type"].startswith("text/javascript")
    assert _get(served, "/manifest.webmanifest")[1]["Content-Type"] == "application/manifest+json"


def test_serve_compresses_for_clients_that_take_gzip(served):
    _, plain_headers, plain = _get(served, "/reader/a.js")
    status, headers, packed = _get(served, "/reader/a.js", headers={"Accept-Encoding": "gzip, br"})
    assert status == 200 and headers["Content-Encoding"] == "gzip" and "Content-Encoding" not in plain_headers
    assert gzip.decompress(packed) == plain and len(packed) < len(plain) / 10


def test_serve_refuses_a_folder_without_the_page(tmp_path):
    result = cli("serve", "--folder", str(tmp_path), "--port", "0")
    assert result.returncode == 2
    assert "holds no index.html: write it with `edgedigits export --formats web --out build`" in result.stderr
    (tmp_path / "index.html").write_text("")
    with pytest.raises(UsageError, match="--cert and --key go together"):
        make_server(ServeConfig(tmp_path, port=0, cert=tmp_path / "cert.pem"))
    key = tmp_path / "key.pem"
    with pytest.raises(UsageError, match="key.pem is inside the served folder, so it would be published"):
        make_server(ServeConfig(tmp_path, port=0, cert=tmp_path.parent / "cert.pem", key=key))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a certificate")
def test_serve_over_https_with_a_self_signed_certificate(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<title>secure</title>")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(tmp_path / "key.pem"),
            "-out",
            str(tmp_path / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
    config = ServeConfig(site, port=0, cert=tmp_path / "cert.pem", key=tmp_path / "key.pem")
    with serving(config) as (server, url):
        assert url.startswith("https://")
        context = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
        conn = http.client.HTTPSConnection("localhost", server.server_address[1], context=context, timeout=10)
        conn.request("GET", "/")
        assert b"<title>secure" in conn.getresponse().read()


def test_serve_answers_an_unchanged_file_with_304(served):
    _, headers, _ = _get(served, "/x.wasm")
    status, again, body = _get(served, "/x.wasm", headers={"If-None-Match": headers["ETag"]})
    assert (status, body, again["ETag"]) == (304, b"", headers["ETag"])
    _, packed, _ = _get(served, "/x.wasm", headers={"Accept-Encoding": "gzip"})
    assert packed["ETag"] != headers["ETag"]  # another encoding is another entity
    assert _get(served, "/x.wasm", headers={"If-None-Match": '"stale"'})[0] == 200
