"""The C artifact (``mnist_mlp.c``), compiled by the system C compiler and called through ctypes.

This is how a board runs it too: the file is compiled as it is, with the warning flags the artifact
promises to pass, so a file that stopped compiling cleanly fails here first. Compiled libraries are
cached by the source's hash (``$XDG_CACHE_HOME/edgedigits/c``), so a second run does not compile again.
Torch-free: only numpy, ctypes and the compiler.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from edgedigits.contract import IMAGE_SIZE, NUM_CLASSES
from edgedigits.errors import ArtifactError, MissingRuntime, first_line
from edgedigits.runtime.session import existing_model, parse_metadata, read_info

# What the artifact promises: C99, warning-free under these flags.
CFLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-O2")
PIXELS = IMAGE_SIZE * IMAGE_SIZE
# the entry point every generated file exposes: void <prefix>_logits(const float image[784], float logits[10])
ENTRY = re.compile(
    rf"^void (\w+)_logits\(const float image\[{PIXELS}\], float logits\[{NUM_CLASSES}\]\)", re.MULTILINE
)
# the batch loop lives beside the artifact, not in it: a board calls the entry point once per image
HARNESS = """\
void {prefix}_logits(const float image[{pixels}], float logits[{classes}]);
void edgedigits_batch(const float *images, float *logits, long n);
void edgedigits_batch(const float *images, float *logits, long n) {{
    for (long i = 0; i < n; ++i) {prefix}_logits(images + {pixels} * i, logits + {classes} * i);
}}
"""


def compiler() -> list[str] | None:
    """``$CC`` (split like a shell would: ``ccache gcc``), else ``cc`` or ``gcc`` on PATH; None when this
    machine has no C compiler."""
    if os.environ.get("CC"):
        cc = shlex.split(os.environ["CC"])
        return cc if shutil.which(cc[0]) else None
    found = shutil.which("cc") or shutil.which("gcc")
    return [found] if found else None


def entry_prefix(source: str, path: Path) -> str:
    match = ENTRY.search(source)
    if match is None:
        raise ArtifactError(
            f"{path}: no entry point `void <name>_logits(const float image[{PIXELS}], "
            f"float logits[{NUM_CLASSES}])`; not an edgedigits C model"
        )
    return match.group(1)


def compile_c(cc: list[str], sources: list[Path], out: Path, extra: tuple[str, ...], name: Path) -> None:
    """Compile with the artifact's flags, in ``out``'s folder (where ``-fstack-usage`` writes); a
    warning is an error, reported against ``name``."""
    proc = subprocess.run(
        [*cc, *CFLAGS, *extra, *map(str, sources), "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
        cwd=out.parent,
    )
    if proc.returncode != 0:
        diagnostic = next((ln for ln in proc.stderr.splitlines() if "error" in ln), proc.stderr.strip())
        where = diagnostic.split(":", 1)[1] if diagnostic.startswith(str(sources[0])) else " " + diagnostic
        raise ArtifactError(f"{name} does not compile with {' '.join(CFLAGS)}:{where[:300]}")


def _cache_dir() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "edgedigits" / "c"


class CModel:
    """``predict(images [N,1,28,28] float32) -> logits [N,10]`` of a compiled C artifact, and the
    contract the file carries in its ``<prefix>_metadata`` string (``info``, checked like every other
    backend's)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = existing_model(path)
        cc = compiler()
        if cc is None:
            raise MissingRuntime("no C compiler to build the C model: install gcc (or clang) or set CC")
        source = self.path.read_text(encoding="utf-8", errors="replace")
        self.prefix = entry_prefix(source, self.path)
        key = hashlib.sha256(f"{source}\0{HARNESS}\0{cc}\0{CFLAGS}".encode()).hexdigest()[:24]
        library = _cache_dir() / f"{self.prefix}-{key}.so"
        if not library.is_file():
            self._build(cc, source, library)
        try:
            lib = ctypes.CDLL(str(library))
        except OSError as exc:
            raise ArtifactError(f"cannot load the compiled {self.path}: {first_line(exc)}") from exc
        self._lib = lib
        self._batch = lib.edgedigits_batch
        self._batch.restype = None
        self._batch.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long]
        self.metadata = self._read_metadata(lib)
        self.info = read_info(self.metadata, str(self.path))

    def _build(self, cc: list[str], source: str, library: Path) -> None:
        library.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=library.parent) as tmp:
            harness = Path(tmp) / "harness.c"
            harness.write_text(HARNESS.format(prefix=self.prefix, pixels=PIXELS, classes=NUM_CLASSES))
            model = Path(tmp) / "model.c"  # a private copy: the file may change while we compile
            model.write_text(source, encoding="utf-8")
            built = Path(tmp) / library.name
            compile_c(cc, [model, harness], built, ("-shared", "-fPIC"), self.path)
            os.replace(built, library)  # atomic: a concurrent run sees the old library or the new one

    def _read_metadata(self, lib: ctypes.CDLL) -> dict[str, str]:
        try:
            text = ctypes.c_char_p.in_dll(lib, f"{self.prefix}_metadata").value or b""
        except ValueError as exc:  # ctypes' way of saying the symbol is missing
            raise ArtifactError(f"{self.path}: no {self.prefix}_metadata ({exc})") from exc
        return parse_metadata(text, self.path)

    def predict(self, images: np.ndarray) -> np.ndarray:
        flat = np.ascontiguousarray(images, dtype=np.float32).reshape(len(images), PIXELS)
        logits = np.empty((len(flat), NUM_CLASSES), np.float32)
        self._batch(flat.ctypes.data, logits.ctypes.data, len(flat))
        return logits
