"""``edgedigits verify``: every artifact in the manifest, run by its own runtime, against the eager
model. Parity is fatal.

Each (artifact, consumer) pair is one check, run on the full MNIST test set in one batch, on test
images one at a time (batch 1), and on random images in an odd-sized batch and one at a time, and held
to its registry row's pass rule. A consumer whose runtime is not installed is a visible skip, fatal
under ``--require-all``; an artifact that does not match its manifest fails whether or not its runtime
is here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np

from edgedigits.core import registry
from edgedigits.core.errors import EdgeDigitsError, MissingRuntime, ParityError, first_line
from edgedigits.core.manifest import Artifact, version_problem
from edgedigits.core.registry import TRAIN
from edgedigits.core.rules import FP32
from edgedigits.core.tables import Row, Table, cell
from edgedigits.proof.reference import Reference, run_all

EAGER = "torch eager (stored reference)"


@dataclass
class Check:
    artifact: str
    backend: str
    dtype: str
    max_abs_diff: float | None = None
    agreement: float | None = None
    accuracy: float | None = None
    failures: list[str] = field(default_factory=list)
    skipped: str | None = None  # what to install to run it

    @property
    def status(self) -> str:
        return "fail" if self.failures else "skip" if self.skipped else "pass"


def verify(ref: Reference) -> list[Check]:
    checks = [eager_check(ref)]
    for artifact in ref.manifest.artifacts:
        fmt = registry.BY_NAME.get(artifact.format)
        if fmt is None:
            failure = f"unknown format {artifact.format!r}"
            checks.append(Check(artifact.file, "?", artifact.dtype, failures=[failure]))
            continue
        path = ref.models / artifact.file
        problem = (
            _registry_problem(fmt, artifact) or artifact.problem(ref.models) or version_problem(artifact)
        )
        for runtime in fmt.consumers:
            check = Check(artifact.file, f"{fmt.name}/{runtime.name}", artifact.dtype)
            checks.append(check)
            if problem:
                check.failures.append(problem)
            elif missing := runtime.missing():
                check.skipped = missing
            else:
                _run(check, lambda r=runtime, p=path: r.open(p).predict, fmt.rule, ref)
    return checks


def eager_check(ref: Reference) -> Check:
    """The stored reference against the eager model run here, where torch is installed: a reference
    file that no longer matches its checkpoint fails like any artifact."""
    check = Check(ref.manifest.checkpoint.file, EAGER, "float32")
    if missing := TRAIN.missing():
        check.skipped = f"{missing} to check the stored logits against the eager model"
        check.accuracy = ref.accuracy
        return check

    def eager():
        from edgedigits.proof.eager import eager_model

        return eager_model(ref.models, ref.manifest).predict

    _run(check, eager, FP32, ref)
    return check


def _run(check: Check, load, rule, ref: Reference) -> None:
    try:
        full, other = run_all(load(), ref.inputs)
    except MissingRuntime as exc:
        check.skipped = str(exc)
        return
    except EdgeDigitsError as exc:
        check.failures.append(str(exc))
        return
    except Exception as exc:  # a consumer that cannot run the file is a failed check, not a crash
        check.failures.append(f"{type(exc).__name__}: {first_line(exc, 200)}")
        return
    _judge(check, rule, full, other, ref)


def _registry_problem(fmt, artifact: Artifact) -> str | None:
    """A manifest entry that leaves out what its registry row says the artifact is made of."""
    listed, expected = [c.file for c in artifact.companions], list(fmt.files[1:])
    if fmt.folder:  # a folder's files are what export found in it, each under the folder
        expected = [name for name in listed if name.startswith(f"{fmt.folder}/")]
    if listed != expected:
        return f"the manifest lists companions {listed} for {artifact.file}, expected {expected}"
    recorded = sorted(artifact.built_with)
    if recorded != sorted(fmt.built_with):
        return f"the manifest records versions of {recorded}, expected {list(fmt.built_with)}"
    return None


def _judge(check: Check, rule, full: np.ndarray, other: np.ndarray, ref: Reference) -> None:
    if full.shape != ref.full.shape or other.shape != ref.other.shape:
        check.failures.append(f"output shape {full.shape}, expected {ref.full.shape}")
        return
    check.max_abs_diff = float(max(np.abs(full - ref.full).max(), np.abs(other - ref.other).max()))
    check.agreement = float((full.argmax(1) == ref.full.argmax(1)).mean())
    check.accuracy = float((full.argmax(1) == ref.inputs.test_labels).mean())
    check.failures.extend(rule.failures(check.max_abs_diff, check.agreement, ref.accuracy - check.accuracy))


def raise_on_failure(checks: list[Check], require_all: bool = False) -> None:
    """ParityError when a check failed, when nothing was proven at all, or (``require_all``) when a
    check was skipped because its runtime is not installed here."""
    failed = [c for c in checks if c.status == "fail"]
    skipped = [c for c in checks if c.status == "skip"]
    if failed:
        raise ParityError(
            f"{len(failed)} of {len(checks)} parity checks failed: "
            + "; ".join(f"{c.backend} ({c.failures[0]})" for c in failed)
        )
    if require_all and skipped:
        hints = sorted({c.skipped for c in skipped if c.skipped})
        raise ParityError(
            f"--require-all: {len(skipped)} check(s) skipped ({', '.join(c.backend for c in skipped)}); "
            + "; ".join(hints)
        )
    if not any(c.status == "pass" and c.backend != EAGER for c in checks):
        raise ParityError(
            "no artifact was proven: every runtime was skipped; install one (see the skip lines)"
        )


def table(checks: list[Check]) -> Table:
    out = Table(("backend", "artifact", "dtype", "max|Δ|", "top-1 agr", "accuracy"), frozenset({3, 4, 5}))
    for c in checks:
        out.rows.append(
            Row(
                (
                    c.backend,
                    c.artifact,
                    c.dtype,
                    cell(c.max_abs_diff, ".2e"),
                    cell(c.agreement, ".2%"),
                    cell(c.accuracy, ".2%"),
                ),
                c.status,
                tuple(c.failures) or ((f"skipped: {c.skipped}",) if c.skipped else ()),
            )
        )
    passed, failed, skipped = (sum(c.status == key for c in checks) for _, key in _COUNTS)
    out.footer.append(
        (
            "fail" if failed else "skip" if skipped else "pass",
            f"{passed} passed, {failed} failed, {skipped} skipped",
        )
    )
    return out


_COUNTS = (("passed", "pass"), ("failed", "fail"), ("skipped", "skip"))


def to_json(checks: list[Check]) -> str:
    return json.dumps(
        {
            **{status: sum(c.status == key for c in checks) for status, key in _COUNTS},
            "checks": [asdict(c) | {"status": c.status} for c in checks],
        },
        indent=2,
    )
