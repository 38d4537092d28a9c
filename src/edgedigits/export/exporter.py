"""``edgedigits export``: checkpoint -> every registered artifact + manifest.json.

Artifacts are staged in a hidden folder inside ``out`` and moved into place only after every format
succeeded; the manifest is written last, atomically. A failure or a kill while exporting (nearly all of
the time) leaves the previous artifacts and manifest as they were; only a kill inside the final burst of
renames can mix old and new files, and ``verify`` then names the mismatch. One export per folder at a
time: a new export removes the staging folder a killed one left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata as dist_metadata
from pathlib import Path

import numpy as np

from edgedigits import __version__
from edgedigits.core import contract, data, registry
from edgedigits.core.errors import ArtifactError, EdgeDigitsError, MissingRuntime, UsageError, first_line
from edgedigits.core.files import sha256_file, writable_dir_problem, write_json_atomic
from edgedigits.core.manifest import MANIFEST_NAME, REFERENCE_NAME, Artifact, FileEntry, Manifest
from edgedigits.core.registry import Format, build_order
from edgedigits.export.formats.context import ExportContext
from edgedigits.proof.reference import make_inputs, run_all, write_reference
from edgedigits.train.checkpoint import load_model
from edgedigits.train.model import TUTORIAL_NORMALIZATION, DeployedNN, Normalization, NumpyModule

STAGING_PREFIX = ".export-"
CALIBRATION_IMAGES = 1024  # training images that set the static int8 scales (seeded choice)


@dataclass(frozen=True)
class ExportConfig:
    checkpoint: Path = Path("models/mnist_mlp.pt")
    out: Path = Path("models")
    quantize: bool = False
    opset: int = contract.DEFAULT_OPSET
    normalization: Normalization | None = None  # only for bare state_dicts, which do not carry it
    formats: tuple[str, ...] | None = None  # None: every row whose extra is installed (int8: --quantize)
    data_dir: Path | None = None  # MNIST: the test set the reference logits are stored on, calibration images

    def __post_init__(self) -> None:
        if self.formats is not None:
            if not self.formats:
                raise UsageError("--formats needs at least one format name")
            build_order(self.formats)  # unknown names and cycles: refused before any work
            if self.quantize:
                raise UsageError(
                    "--quantize picks the int8 rows of the default set; with --formats, "
                    "name the int8 formats you want instead"
                )
        if not self.checkpoint.is_file():
            raise UsageError(f"--checkpoint {self.checkpoint}: no such file (train first, or pass the path)")
        if problem := writable_dir_problem(self.out):
            raise UsageError(f"--out {problem}")
        if not 17 <= self.opset <= 23:
            raise UsageError(f"--opset must be between 17 and 23, got {self.opset}")


def build_metadata(
    normalization: Normalization,
    recipe: str,
    accuracy: float | None,
    checkpoint_sha: str,
    reject: dict | None = None,
    teacher: dict | None = None,
    arch: str = "mlp",
) -> dict:
    """The model's contract as metadata; ``reject`` is the calibrated rejection rule from training (a
    model trained without one, a bare tutorial state_dict say, promises none)."""
    return {
        contract.META_LABELS: json.dumps(list(contract.LABELS)),
        contract.META_POLARITY: contract.POLARITY,
        contract.META_INPUT_RANGE: contract.INPUT_RANGE,
        contract.META_NORMALIZATION: json.dumps({"mean": normalization.mean, "std": normalization.std}),
        contract.META_RECIPE: recipe,
        contract.META_ACCURACY: "" if accuracy is None else f"{accuracy:.6f}",
        contract.META_CHECKPOINT_SHA256: checkpoint_sha,
        contract.META_VERSION: __version__,
        contract.META_REJECT: json.dumps(reject or contract.REJECT_NONE, sort_keys=True),
        contract.META_TEACHER: json.dumps(teacher, sort_keys=True) if teacher else "",
        contract.META_ARCH: arch,
    }


def select(config: ExportConfig, arch: str, log: Callable[[str], None]) -> tuple[Format, ...]:
    """The rows to build for a network of ``arch``, in build order. Named formats must take it and be
    installable here; the default set leaves out, with one line, the rows that cannot take it or whose
    extra is missing. Rows another one is built from are added, and said so."""
    if config.formats is not None:
        rows, added = build_order(config.formats)
        for fmt in rows:
            if refused := fmt.refuses(arch):
                raise UsageError(f"--formats {fmt.name}: {refused}")
            if missing := fmt.export_missing():
                raise MissingRuntime(f"--formats {fmt.name} needs its runtime: {missing}")
    else:
        wanted = [f for f in registry.default_formats() if config.quantize or not f.int8]
        left = {f.name: why for f in wanted if (why := f.refuses(arch) or f.export_missing())}
        for hint in sorted(set(left.values())):
            log(f"left out {', '.join(n for n, h in left.items() if h == hint)}: {hint}")
        rows, added = build_order([f.name for f in wanted if f.name not in left])
    if added:
        log(f"also exporting {', '.join(added)}: the formats asked for are built from it")
    return rows


def calibration_images(data_dir: Path | None) -> np.ndarray:
    train = data.load_split("train", data_dir)
    pick = np.random.default_rng(0).choice(len(train.labels), CALIBRATION_IMAGES, replace=False)
    return data.as_model_input(train.images[np.sort(pick)])


def export(config: ExportConfig, log: Callable[[str], None] = print) -> Manifest:
    """Write the artifacts and return the manifest."""
    loaded = load_model(config.checkpoint)
    rows = select(config, loaded.arch.value, log)
    if loaded.normalization is not None and config.normalization not in (None, loaded.normalization):
        raise UsageError(
            f"{config.checkpoint} carries its normalization ({loaded.normalization.mean},"
            f"{loaded.normalization.std}); --normalization is only for bare state_dicts"
        )
    normalization = loaded.normalization or config.normalization or TUTORIAL_NORMALIZATION
    checkpoint_sha = sha256_file(config.checkpoint)
    metadata = build_metadata(
        normalization,
        loaded.recipe,
        loaded.metrics.get("test_accuracy"),
        checkpoint_sha,
        loaded.metrics.get("reject"),
        loaded.metrics.get("teacher"),
        loaded.arch.value,
    )
    ctx = ExportContext(
        model=DeployedNN(loaded.net, normalization).eval(),
        metadata=metadata,
        opset=config.opset,
        calibration=calibration_images(config.data_dir) if any(f.calibrated for f in rows) else None,
    )

    config.out.mkdir(parents=True, exist_ok=True)
    for stale in config.out.glob(f"{STAGING_PREFIX}*"):  # left by an export that was SIGKILLed
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=config.out))
    try:
        entries = []
        for fmt in rows:
            staged = staging / fmt.filename
            t0 = time.perf_counter()
            try:
                fmt.exporter()(ctx, staged)
            except EdgeDigitsError:
                raise
            except Exception as exc:  # exporters raise many unrelated types; name the format that failed
                raise ArtifactError(
                    f"export to {fmt.name} failed: {type(exc).__name__}: {first_line(exc)}"
                ) from exc
            ctx.written[fmt.name] = staged
            entry = _entry(fmt, staging)
            size = entry.total_bytes
            log(
                f"exported {fmt.name:<17} {str(config.out / fmt.filename):<40} {size / 1024:7.1f} KiB  "
                f"{time.perf_counter() - t0:5.2f}s"
            )
            entries.append(entry)
        inputs = make_inputs(config.data_dir)
        reference = write_reference(
            staging / REFERENCE_NAME, inputs, *run_all(NumpyModule(ctx.model).predict, inputs)
        )
        log(f"stored the eager logits on {len(inputs.test_labels):,} test images in {REFERENCE_NAME}")
        for name in (*(n for fmt in rows for n in _moved(fmt)), REFERENCE_NAME):
            if (config.out / name).is_dir():  # a folder artifact is replaced whole
                shutil.rmtree(config.out / name)
            os.replace(staging / name, config.out / name)
        manifest = Manifest(
            version=__version__,
            checkpoint=FileEntry(_relative(config.checkpoint, config.out), checkpoint_sha, 0),
            metadata=metadata,
            artifacts=tuple(entries),
            reference=reference,
        )
        write_json_atomic(config.out / MANIFEST_NAME, manifest.to_json())
        log(f"wrote {config.out / MANIFEST_NAME}")
        # an artifact this export did not produce would no longer match the checkpoint
        for fmt in registry.FORMATS:
            for name in fmt.files if fmt.name not in ctx.written else ():
                stale = config.out / (fmt.folder or name)
                if stale.is_dir():
                    shutil.rmtree(stale)
                elif stale.exists():
                    stale.unlink()
                else:
                    continue
                log(f"removed stale {stale}")
        return manifest
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _entry(fmt: Format, folder: Path) -> Artifact:
    """The manifest entry of a staged artifact: hash and size of every file it is made of, and the
    versions of the tools a runtime must match."""
    for name in fmt.files:
        if not (folder / name).is_file():
            raise ArtifactError(f"export to {fmt.name} did not write {name}")
    companions = fmt.files[1:]
    if fmt.folder:  # everything the exporter wrote in it, each hashed
        written = (folder / fmt.folder).rglob("*")
        files = sorted(p.relative_to(folder).as_posix() for p in written if p.is_file())
        companions = tuple(name for name in files if name != fmt.filename)
    return Artifact(
        format=fmt.name,
        main=FileEntry.of(folder, fmt.filename),
        dtype="int8" if fmt.int8 else "float32",
        companions=tuple(FileEntry.of(folder, name) for name in companions),
        built_with={dist: dist_metadata.version(dist) for dist in fmt.built_with},
    )


def _moved(fmt: Format) -> tuple[str, ...]:
    """What export moves into place for a row: its folder, or each of its files."""
    return (fmt.folder,) if fmt.folder else fmt.files


def _relative(path: Path, base: Path) -> str:
    try:
        return os.path.relpath(path.resolve(), base.resolve())
    except ValueError:  # another drive on Windows
        return str(path.resolve())
