"""manifest.json: what ``export`` wrote, with sha256 and size per artifact (torch-free, runtime too)."""

from __future__ import annotations

import json
from importlib import metadata as dist_metadata
from pathlib import Path

from edgedigits.core.contract import META_NORMALIZATION
from edgedigits.core.errors import ArtifactError, UsageError
from edgedigits.core.files import sha256_file

MANIFEST_NAME = "manifest.json"
REFERENCE_NAME = "reference.npz"  # the eager logits export stores for proof without torch
ENTRY_KEYS = ("format", "file", "sha256", "dtype")


def read_manifest(models: Path) -> dict:
    if models.exists() and not models.is_dir():
        raise UsageError(f"--models {models} is a file; give the folder holding {MANIFEST_NAME}")
    path = models / MANIFEST_NAME
    if not path.is_file():
        raise ArtifactError(f"{path} not found; run `edgedigits export --out {models}` first")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path} is not valid JSON ({exc})") from exc
    if not (
        isinstance(manifest, dict)
        and isinstance(manifest.get("artifacts"), list)
        and isinstance(manifest.get("checkpoint"), dict)
        and isinstance(manifest.get("metadata"), dict)
    ):
        raise ArtifactError(f"{path} is not an edgedigits manifest (needs artifacts, checkpoint, metadata)")
    problem = _entry_problem(manifest)
    if problem:
        raise ArtifactError(f"{path} is damaged: {problem}")
    return manifest


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
            if Path(name).name != name:
                return f"artifact #{i} file {name!r} must be a plain file name"
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


def artifact_bytes(entry: dict) -> int:
    """An artifact's size on disk, the files written beside it included."""
    return entry["bytes"] + sum(c["bytes"] for c in entry.get("companions", []))


def artifact_problem(path: Path, entry: dict) -> str | None:
    """Why ``path`` (and the files written beside it) does not match its manifest ``entry``, or None."""
    for file, sha in (
        (path, entry.get("sha256")),
        *((path.parent / c["file"], c["sha256"]) for c in entry.get("companions", [])),
    ):
        if not file.is_file():
            return f"{file} is missing"
        if sha256_file(file) != sha:
            return f"sha256 of {file.name} does not match the manifest (tampered or re-exported?)"
    return None


def version_problem(entry: dict) -> str | None:
    """A file tied to the release of the tool that wrote it (an ExecuTorch .pte) run by another release.
    A tool that is not installed at all is not a mismatch: its loader says what to install."""
    for dist, wrote in entry.get("built_with", {}).items():
        try:
            have = dist_metadata.version(dist)
        except dist_metadata.PackageNotFoundError:
            continue
        if have != wrote:
            return f"{entry['file']} was written by {dist} {wrote}, this machine has {have}; re-export it"
    return None


def check_all(models: Path, manifest: dict) -> None:
    """Refuse a models folder any of whose listed artifacts does not match its hash."""
    for entry in manifest["artifacts"]:
        problem = artifact_problem(models / entry["file"], entry)
        if problem:
            raise ArtifactError(f"{problem}; re-run `edgedigits export` or restore the file")


def check_if_listed(model: Path) -> None:
    """A model file that sits beside a manifest listing it must match its recorded hash."""
    manifest_path = model.parent / MANIFEST_NAME
    if not manifest_path.is_file():
        return
    manifest = read_manifest(model.parent)
    for entry in manifest["artifacts"]:
        if entry.get("file") == model.name:
            if problem := artifact_problem(model, entry):
                raise ArtifactError(f"{problem}; refusing to run an artifact that differs from its manifest")
            if problem := version_problem(entry):
                raise ArtifactError(problem)
