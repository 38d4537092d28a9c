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
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgedigits.core.contract import IMAGE_SIZE, NUM_CLASSES
from edgedigits.core.errors import ArtifactError, MissingRuntime, first_line
from edgedigits.core.registry import c_compiler
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
        cc = c_compiler()
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


@dataclass(frozen=True)
class Footprint:
    flash: int  # code + constants: .text, .rodata, .data
    ram: int  # .data + .bss + the deepest stack frame of the entry point and what it calls


def footprint(path: Path) -> Footprint:
    """Flash and RAM as the compiler lays them out: compiled to an object file with the artifact's
    flags, sections read by binutils' ``size -A``, stack from gcc's ``-fstack-usage``."""
    cc, size = c_compiler(), shutil.which("size")
    if cc is None or size is None:
        raise MissingRuntime("measuring a C model's flash and RAM needs a C compiler and binutils' size")
    with tempfile.TemporaryDirectory() as tmp:
        obj = Path(tmp) / "model.o"
        compile_c(cc, [path.resolve()], obj, ("-c", "-fstack-usage"), path)
        try:
            listing = subprocess.run([size, "-A", str(obj)], capture_output=True, text=True, check=True)
        except subprocess.CalledProcessError as exc:
            raise ArtifactError(f"size -A could not read the object of {path}: {exc.stderr.strip()}") from exc
        usage = list(Path(tmp).glob("*.su"))  # beside the object (gcc >= 11) or named after the source
        if not usage:
            raise MissingRuntime(f"{cc[0]} wrote no stack usage (-fstack-usage is gcc's); RAM unknown")
        stack = sum(_stack_usage(usage[0]))  # the entry point's frame plus the largest callee's
    sections = {}
    for line in listing.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit():
            sections[parts[0]] = int(parts[1])
    flash = sum(v for k, v in sections.items() if k.startswith((".text", ".rodata", ".data")))
    ram = sections.get(".data", 0) + sections.get(".bss", 0) + stack
    return Footprint(flash=flash, ram=ram)


def _stack_usage(su: Path) -> tuple[int, int]:
    """(the entry point's frame, the largest other frame) from a ``.su`` file."""
    frames = {}
    for line in su.read_text().splitlines():
        fields = line.split("\t")
        if len(fields) >= 2 and fields[1].isdigit():
            frames[fields[0].rsplit(":", 1)[-1]] = int(fields[1])
    entry = max((v for k, v in frames.items() if k.endswith("_logits")), default=0)
    others = max((v for k, v in frames.items() if not k.endswith("_logits")), default=0)
    return entry, others
