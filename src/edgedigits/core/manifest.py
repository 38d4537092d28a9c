"""manifest.json: what ``export`` wrote, with sha256 and size per artifact (torch-free, runtime too)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from importlib import metadata as dist_metadata
from pathlib import Path

from edgedigits.core.contract import META_NORMALIZATION
from edgedigits.core.errors import ArtifactError, UsageError
from edgedigits.core.files import sha256_file

MANIFEST_NAME = "manifest.json"
REFERENCE_NAME = "reference.npz"  # the eager logits export stores for proof without torch
ENTRY_KEYS = ("format", "file", "sha256", "dtype")


@dataclass(frozen=True)
class FileEntry:
    """One file on disk as export recorded it."""

    file: str
    sha256: str
    bytes: int

    def problem(self, folder: Path) -> str | None:
        """Why the file in ``folder`` is not the one recorded, or None."""
        path = folder / self.file
        if not path.is_file():
            return f"{path} is missing"
        if sha256_file(path) != self.sha256:
            return f"sha256 of {self.file} does not match the manifest (tampered or re-exported?)"
        return None

    @classmethod
    def of(cls, folder: Path, name: str) -> FileEntry:
        return cls(name, sha256_file(folder / name), (folder / name).stat().st_size)


@dataclass(frozen=True)
class Artifact:
    """One registry row's output: its main file, the files written beside it, and the versions of the
    tools a runtime must match."""

    format: str
    main: FileEntry
    dtype: str
    companions: tuple[FileEntry, ...] = ()
    built_with: Mapping[str, str] = field(default_factory=dict)

    @property
    def file(self) -> str:
        return self.main.file

    @property
    def files(self) -> tuple[FileEntry, ...]:
        return (self.main, *self.companions)

    @property
    def total_bytes(self) -> int:
        """Its size on disk, the files written beside it included."""
        return sum(f.bytes for f in self.files)

    def problem(self, folder: Path) -> str | None:
        """Why the artifact in ``folder`` (its companions too) does not match this entry, or None."""
        return next((p for f in self.files if (p := f.problem(folder))), None)

    def to_json(self) -> dict:
        out = {"format": self.format, **asdict(self.main), "dtype": self.dtype}
        if self.companions:
            out["companions"] = [asdict(c) for c in self.companions]
        if self.built_with:
            out["built_with"] = dict(self.built_with)
        return out


@dataclass(frozen=True)
class Manifest:
    version: str
    checkpoint: FileEntry  # bytes unrecorded (0): the checkpoint is not an artifact
    metadata: Mapping[str, str]
    artifacts: tuple[Artifact, ...]
    reference: Mapping[str, str | int] | None = None  # the stored eager logits (proof.reference)

    def to_json(self) -> dict:
        out = {
            "edgedigits_version": self.version,
            "checkpoint": {"file": self.checkpoint.file, "sha256": self.checkpoint.sha256},
            "metadata": dict(self.metadata),
            "artifacts": [a.to_json() for a in self.artifacts],
        }
        return out | ({"reference": dict(self.reference)} if self.reference else {})

    def normalization(self) -> tuple[float, float]:
        norm = json.loads(self.metadata[META_NORMALIZATION])
        return float(norm["mean"]), float(norm["std"])

    def check_all(self, folder: Path) -> None:
        """Refuse a models folder any of whose listed artifacts does not match its hash."""
        for artifact in self.artifacts:
            if problem := artifact.problem(folder):
                raise ArtifactError(f"{problem}; re-run `edgedigits export` or restore the file")


def read_manifest(models: Path) -> Manifest:
    if models.exists() and not models.is_dir():
        raise UsageError(f"--models {models} is a file; give the folder holding {MANIFEST_NAME}")
    path = models / MANIFEST_NAME
    if not path.is_file():
        raise ArtifactError(f"{path} not found; run `edgedigits export --out {models}` first")
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path} is not valid JSON ({exc})") from exc
    if not (
        isinstance(raw, dict)
        and isinstance(raw.get("artifacts"), list)
        and isinstance(raw.get("checkpoint"), dict)
        and isinstance(raw.get("metadata"), dict)
    ):
        raise ArtifactError(f"{path} is not an edgedigits manifest (needs artifacts, checkpoint, metadata)")
    problem = _entry_problem(raw)
    if problem:
        raise ArtifactError(f"{path} is damaged: {problem}")
    checkpoint = raw["checkpoint"]
    return Manifest(
        version=str(raw.get("edgedigits_version", "")),
        checkpoint=FileEntry(checkpoint["file"], checkpoint["sha256"], 0),
        metadata=raw["metadata"],
        artifacts=tuple(
            Artifact(
                format=e["format"],
                main=FileEntry(e["file"], e["sha256"], e["bytes"]),
                dtype=e["dtype"],
                companions=tuple(
                    FileEntry(c["file"], c["sha256"], c["bytes"]) for c in e.get("companions", [])
                ),
                built_with=e.get("built_with", {}),
            )
            for e in raw["artifacts"]
        ),
        reference=raw.get("reference"),
    )


def _inside_folder(name: str) -> bool:
    """A plain name, or a relative path (a folder artifact's files) that cannot leave the folder."""
    parts = name.split("/")
    return "\\" not in name and all(p not in ("", ".", "..") and Path(p).name == p for p in parts)


def _entry_problem(manifest: dict) -> str | None:
    for i, entry in enumerate(manifest["artifacts"]):
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ENTRY_KEYS):
            return f"artifact #{i} needs string fields {', '.join(ENTRY_KEYS)}"
        companions = entry.get("companions", [])
        if not isinstance(companions, list) or not all(
            isinstance(c, dict) and isinstance(c.get("file"), str) and isinstance(c.get("sha256"), str)
            for c in companions
        ):
            return f"artifact #{i} companions need string fields file and sha256"
        if not all(type(f.get("bytes")) is int for f in (entry, *companions)):
            return f"artifact #{i} needs an integer bytes field for every file"
        for name in (entry["file"], *(c["file"] for c in companions)):
            if not _inside_folder(name):
                return f"artifact #{i} file {name!r} must be a file name, or a path inside the folder"
        built_with = entry.get("built_with", {})
        if not isinstance(built_with, dict) or not all(isinstance(v, str) for v in built_with.values()):
            return f"artifact #{i} built_with must map package names to versions"
    reference = manifest.get("reference")
    if reference is not None and not (
        isinstance(reference, dict)
        and all(isinstance(reference.get(k), str) for k in ("file", "sha256", "test_sha256"))
        and Path(reference["file"]).name == reference["file"]
    ):
        return "reference needs string fields file (a plain name), sha256 and test_sha256"
    checkpoint = manifest["checkpoint"]
    if not (isinstance(checkpoint.get("file"), str) and isinstance(checkpoint.get("sha256"), str)):
        return "checkpoint needs file and sha256"
    try:
        norm = json.loads(manifest["metadata"][META_NORMALIZATION])
        _, std = float(norm["mean"]), float(norm["std"])
        if not std > 0:
            raise ValueError(f"std {std} is not > 0")
    except (KeyError, TypeError, ValueError) as exc:
        return f"metadata {META_NORMALIZATION} is missing or malformed ({exc!r})"
    return None


def version_problem(artifact: Artifact) -> str | None:
    """A file tied to the release of the tool that wrote it (an ExecuTorch .pte) run by another release.
    A tool that is not installed at all is not a mismatch: its loader says what to install."""
    for dist, wrote in artifact.built_with.items():
        try:
            have = dist_metadata.version(dist)
        except dist_metadata.PackageNotFoundError:
            continue
        if have != wrote:
            return f"{artifact.file} was written by {dist} {wrote}, this machine has {have}; re-export it"
    return None


def check_if_listed(model: Path) -> None:
    """A model file that sits beside a manifest listing it must match its recorded hash."""
    if not (model.parent / MANIFEST_NAME).is_file():
        return
    for artifact in read_manifest(model.parent).artifacts:
        if artifact.file == model.name:
            if problem := artifact.problem(model.parent):
                raise ArtifactError(f"{problem}; refusing to run an artifact that differs from its manifest")
            if problem := version_problem(artifact):
                raise ArtifactError(problem)
