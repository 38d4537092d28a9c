"""``edgedigits verify``: every artifact in the manifest against the eager model. Parity is fatal.

Each (artifact, consumer) pair is one check, run on the full MNIST test set in one batch, on test
images one at a time (batch 1), and on random images in an odd-sized batch and one at a time.
fp32 passes with max |Δlogit| <= its tolerance and 100% top-1 agreement on the test set; int8 with
>= 99.5% agreement and test accuracy within 0.3 points of the eager model.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from edgedigits import contract, data
from edgedigits.checkpoint import load_model
from edgedigits.errors import ArtifactError, EdgeDigitsError, ParityError
from edgedigits.files import sha256_file
from edgedigits.formats import BY_NAME
from edgedigits.manifest import artifact_problem, read_manifest
from edgedigits.model import DeployedNN, Normalization

INT8_MIN_AGREEMENT = 0.995
INT8_MAX_ACCURACY_DROP = 0.003
SINGLE_SAMPLES = 64  # test images also run one by one (batch 1)
RANDOM_BATCH = 37  # odd on purpose


@dataclass
class Check:
    artifact: str
    backend: str
    dtype: str
    max_abs_diff: float | None = None
    agreement: float | None = None
    accuracy: float | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class Inputs:
    test_images: np.ndarray  # float32 [N, 1, 28, 28] in [0, 1]
    test_labels: np.ndarray
    random_images: np.ndarray


def reference_model(models: Path, manifest: dict) -> DeployedNN:
    ckpt = (models / manifest["checkpoint"]["file"]).resolve()
    if not ckpt.is_file():
        raise ArtifactError(
            f"the manifest's checkpoint {ckpt} is missing; verify needs it as the eager reference"
        )
    if sha256_file(ckpt) != manifest["checkpoint"]["sha256"]:
        raise ArtifactError(f"{ckpt} does not match the manifest's sha256; re-export from this checkpoint")
    norm = json.loads(manifest["metadata"][contract.META_NORMALIZATION])
    return DeployedNN(load_model(ckpt).net, Normalization(norm["mean"], norm["std"])).eval()


def make_inputs(data_dir: Path | None) -> Inputs:
    test = data.load_split("test", data_dir)
    rng = np.random.default_rng(0)
    return Inputs(
        test_images=data.as_model_input(test.images),
        test_labels=test.labels.astype(np.int64),
        random_images=rng.random((RANDOM_BATCH, 1, 28, 28), dtype=np.float32),
    )


def _run_all(predict, inputs: Inputs) -> tuple[np.ndarray, np.ndarray]:
    """Logits on (the test set, batched + one by one) and (random images, batched + one by one)."""
    full = predict(inputs.test_images)
    singles = np.concatenate([predict(inputs.test_images[i : i + 1]) for i in range(SINGLE_SAMPLES)])
    rand = predict(inputs.random_images)
    rand_singles = np.concatenate([predict(inputs.random_images[i : i + 1]) for i in range(RANDOM_BATCH)])
    return full, np.concatenate([singles, rand, rand_singles])


def verify(models: Path, data_dir: Path | None = None) -> list[Check]:
    manifest = read_manifest(models)
    reference = reference_model(models, manifest)
    inputs = make_inputs(data_dir)

    ref_full, ref_other = _run_all(eager_predict(reference), inputs)
    ref_accuracy = float((ref_full.argmax(1) == inputs.test_labels).mean())
    checks = [Check("checkpoint", "torch eager (reference)", "float32", 0.0, 1.0, ref_accuracy)]
    for entry in manifest["artifacts"]:
        fmt = BY_NAME.get(entry["format"])
        path = models / entry["file"]
        if fmt is None:
            checks.append(
                Check(
                    entry["file"],
                    "?",
                    entry.get("dtype", "?"),
                    failures=[f"unknown format {entry['format']!r}"],
                )
            )
            continue
        problem = artifact_problem(path, entry)
        for backend, loader in fmt.loaders.items():
            check = Check(entry["file"], f"{fmt.name}/{backend}", entry["dtype"])
            checks.append(check)
            if problem:
                check.failures.append(problem)
                continue
            try:
                full, other = _run_all(loader(path), inputs)
            except EdgeDigitsError as exc:
                check.failures.append(str(exc))
                continue
            except Exception as exc:  # a consumer that cannot run the file is a failed check, not a crash
                check.failures.append(f"{type(exc).__name__}: {str(exc).strip()[:200]}")
                continue
            _judge(check, fmt.tolerance, full, other, ref_full, ref_other, inputs.test_labels, ref_accuracy)
    return checks


def _judge(check: Check, tolerance, full, other, ref_full, ref_other, labels, ref_accuracy) -> None:
    if full.shape != ref_full.shape or other.shape != ref_other.shape:
        check.failures.append(f"output shape {full.shape}, expected {ref_full.shape}")
        return
    check.max_abs_diff = float(max(np.abs(full - ref_full).max(), np.abs(other - ref_other).max()))
    check.agreement = float((full.argmax(1) == ref_full.argmax(1)).mean())
    check.accuracy = float((full.argmax(1) == labels).mean())
    if tolerance is not None:
        if not check.max_abs_diff <= tolerance:
            check.failures.append(f"max |Δlogit| {check.max_abs_diff:.2e} > {tolerance:.0e}")
        if check.agreement < 1.0:
            check.failures.append(f"top-1 agreement {check.agreement:.4%} < 100%")
    else:
        if check.agreement < INT8_MIN_AGREEMENT:
            check.failures.append(f"top-1 agreement {check.agreement:.2%} < {INT8_MIN_AGREEMENT:.1%}")
        if ref_accuracy - check.accuracy > INT8_MAX_ACCURACY_DROP:
            check.failures.append(
                f"accuracy {check.accuracy:.2%} is more than "
                f"{INT8_MAX_ACCURACY_DROP:.1%} below fp32 {ref_accuracy:.2%}"
            )


def require_all_passed(checks: list[Check]) -> None:
    failed = [c for c in checks if not c.passed]
    if failed:
        raise ParityError(
            f"{len(failed)} of {len(checks)} parity checks failed: " + ", ".join(c.backend for c in failed)
        )


def eager_predict(model: DeployedNN):
    """``predict(images) -> logits`` of the eager reference, in the loaders' numpy convention."""

    def predict(images: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(images)).numpy()

    return predict


def format_table(checks: list[Check]) -> str:
    lines = [
        f"  {'backend':<34} {'artifact':<22} {'dtype':<8} {'max|Δ|':>9} {'top-1 agr':>10} {'accuracy':>9}"
    ]
    for c in checks:
        diff = "-" if c.max_abs_diff is None else f"{c.max_abs_diff:.2e}"
        agr = "-" if c.agreement is None else f"{c.agreement:.2%}"
        acc = "-" if c.accuracy is None else f"{c.accuracy:.2%}"
        lines.append(
            f"{'✓' if c.passed else '✗'} {c.backend:<34} {c.artifact:<22} {c.dtype:<8} {diff:>9} "
            f"{agr:>10} {acc:>9}"
        )
        lines.extend(f"    ✗ {why}" for why in c.failures)
    return "\n".join(lines)


def to_json(checks: list[Check]) -> str:
    return json.dumps(
        {
            "passed": all(c.passed for c in checks),
            "checks": [asdict(c) | {"passed": c.passed} for c in checks],
        },
        indent=2,
    )
