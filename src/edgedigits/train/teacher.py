"""Distillation: a small CNN teacher, never exported, whose soft targets train the student.

The teacher sees the same augmented batch as the student, so its targets match what the student is
shown ("function matching"); its checkpoint is a normal weights-only file that ``--teacher`` reuses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from edgedigits.core.errors import CheckpointError, first_line
from edgedigits.core.files import sha256_file, write_with_atomic
from edgedigits.train.checkpoint import read_checkpoint
from edgedigits.train.model import SmallCNN

TEACHER_NAME = "teacher_cnn.pt"
TEACHER_FORMAT = "edgedigits-teacher"


TeacherCNN = SmallCNN  # the teacher is the small CNN that ``train --arch cnn`` also trains


def distill_loss(
    student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor, temperature: float, alpha: float
) -> torch.Tensor:
    """``alpha`` x KL(teacher || student) on softmaxes at ``temperature``, scaled by T^2 so its gradient
    keeps its size as T changes (Hinton et al.), plus ``1 - alpha`` x cross-entropy on the labels."""
    soft = F.kl_div(
        F.log_softmax(student / temperature, 1),
        F.log_softmax(teacher / temperature, 1),
        log_target=True,
        reduction="batchmean",
    )
    return alpha * soft * temperature**2 + (1 - alpha) * F.cross_entropy(student, labels)


@dataclass(frozen=True)
class Teacher:
    net: TeacherCNN
    accuracy: float
    sha256: str
    path: Path

    def record(self) -> dict:
        """What the student's checkpoint and metadata say about its teacher."""
        return {"accuracy": round(self.accuracy, 6), "sha256": self.sha256, "file": self.path.name}


def save_teacher(path: Path, net: TeacherCNN, accuracy: float, config: dict) -> Teacher:
    payload = {
        "format": TEACHER_FORMAT,
        "state_dict": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
        "accuracy": accuracy,
        "config": config,
    }
    write_with_atomic(path, lambda tmp: torch.save(payload, tmp))
    return Teacher(net, accuracy, sha256_file(path), path)


def load_teacher(path: str | os.PathLike[str], device: torch.device) -> Teacher:
    path = Path(path)
    obj = read_checkpoint(path)
    if obj.get("format") != TEACHER_FORMAT:
        raise CheckpointError(
            f"{path} is not an edgedigits teacher checkpoint (train one with --recipe distill)"
        )
    net = TeacherCNN()
    try:
        net.load_state_dict(obj["state_dict"])
        accuracy = float(obj["accuracy"])
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: damaged teacher checkpoint ({first_line(exc)})") from exc
    return Teacher(net.to(device).eval(), accuracy, sha256_file(path), path)
