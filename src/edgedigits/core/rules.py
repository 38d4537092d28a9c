"""Pass rules: when an artifact's outputs count as the eager model's (torch-free, one per registry row)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fp32Parity:
    """fp32: every logit within ``max_abs_diff`` of eager and the same top-1 on every test image."""

    max_abs_diff: float = 1e-4
    int8 = False

    def failures(self, max_abs_diff: float, agreement: float, accuracy_drop: float) -> list[str]:
        out = []
        if not max_abs_diff <= self.max_abs_diff:
            out.append(f"max |Δlogit| {max_abs_diff:.2e} > {self.max_abs_diff:.0e}")
        if agreement < 1.0:
            out.append(f"top-1 agreement {agreement:.4%} < 100%")
        return out

    def describe(self) -> str:
        return f"max |Δ| <= {self.max_abs_diff:.0e}, 100% top-1 agreement"


@dataclass(frozen=True)
class Int8Parity:
    """int8: logits move, and how much differs by CPU, so judge answers, not numbers: top-1 agreement
    with eager and the accuracy given up."""

    min_agreement: float = 0.995
    max_accuracy_drop: float = 0.003
    int8 = True

    def failures(self, max_abs_diff: float, agreement: float, accuracy_drop: float) -> list[str]:
        out = []
        if agreement < self.min_agreement:
            out.append(f"top-1 agreement {agreement:.2%} < {self.min_agreement:.1%}")
        if accuracy_drop > self.max_accuracy_drop:
            out.append(f"accuracy {accuracy_drop:.2%} below eager, more than {self.max_accuracy_drop:.1%}")
        return out

    def describe(self) -> str:
        return f"top-1 agreement >= {self.min_agreement:.1%}, accuracy drop <= {self.max_accuracy_drop:.1%}"


FP32 = Fp32Parity()
INT8 = Int8Parity()
