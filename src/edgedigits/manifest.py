"""manifest.json: what ``export`` wrote, with sha256 and size per artifact (torch-free, runtime too)."""

from __future__ import annotations

import json
from pathlib import Path

from edgedigits.errors import ArtifactError, UsageError
from edgedigits.files import sha256_file

MANIFEST_NAME = "manifest.json"


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
    return manifest


def artifact_problem(path: Path, entry: dict) -> str | None:
    """Why ``path`` does not match its manifest ``entry``, or None when it does."""
    if not path.is_file():
        return f"{path} is missing"
    if sha256_file(path) != entry.get("sha256"):
        return f"sha256 of {path.name} does not match the manifest (tampered or re-exported?)"
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
            problem = artifact_problem(model, entry)
            if problem:
                raise ArtifactError(f"{problem}; refusing to run an artifact that differs from its manifest")
