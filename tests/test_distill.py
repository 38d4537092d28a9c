"""--recipe distill, the rich progress, and the device-independent parts of the CUDA path, on CPU."""

import io
import json

import pytest
import torch
import torch.nn.functional as F

from edgedigits.core.errors import CheckpointError, UsageError
from edgedigits.core.files import sha256_file
from edgedigits.export.exporter import ExportConfig, export
from edgedigits.train.checkpoint import load_model
from edgedigits.train.loop import train
from edgedigits.train.progress import Progress
from edgedigits.train.recipes import RECIPES, TrainConfig
from edgedigits.train.teacher import TEACHER_NAME, distill_loss, load_teacher, save_teacher


def test_distill_loss_is_soft_targets_at_a_temperature_plus_hard_labels():
    student = torch.tensor([[2.0, 0.5, -1.0], [0.0, 1.0, 3.0]], requires_grad=True)
    teacher = torch.tensor([[3.0, 0.0, -2.0], [0.5, 0.5, 2.0]])
    labels = torch.tensor([0, 2])
    t, alpha = 4.0, 0.7
    p_teacher = F.softmax(teacher / t, 1)
    kl = (p_teacher * (p_teacher.log() - F.log_softmax(student / t, 1))).sum(1).mean()
    want = alpha * kl * t * t + (1 - alpha) * F.cross_entropy(student, labels)
    assert distill_loss(student, teacher, labels, t, alpha).item() == pytest.approx(want.item(), rel=1e-6)
    assert distill_loss(student, teacher, labels, t, 0.0).item() == pytest.approx(
        F.cross_entropy(student, labels).item()
    )
    assert distill_loss(teacher, teacher, labels, t, 1.0).item() == pytest.approx(0.0, abs=1e-7)


def test_temperature_squared_keeps_the_soft_gradient_in_scale():
    teacher = torch.tensor([[1.0, 0.0, -1.0]])
    norms = []
    for t in (2.0, 8.0):
        student = torch.tensor([[0.0, 0.5, 0.0]], requires_grad=True)
        distill_loss(student, teacher, torch.tensor([0]), t, 1.0).backward()
        norms.append(float(student.grad.norm()))
    # the soft term's gradient is T * (softmax(s/T) - softmax(t/T)) ~ (s - t) / classes for large T:
    # without the T^2 factor it would shrink 16x from T=2 to T=8
    assert 0.5 < norms[1] / norms[0] < 1.5


class TinyTeacher(torch.nn.Module):
    """Stands in for the CNN so a test trains a teacher in a second."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(784, 10)

    def forward(self, x):
        return self.fc(x.reshape(len(x), -1))


@pytest.mark.slow
def test_distill_trains_a_teacher_then_the_tutorial_mlp(data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr("edgedigits.train.loop.TeacherCNN", TinyTeacher)
    monkeypatch.setattr("edgedigits.train.teacher.TeacherCNN", TinyTeacher)
    lines = io.StringIO()
    config = TrainConfig(
        recipe="distill", epochs=1, batch_size=2048, data_dir=data_dir, out=tmp_path, device="cpu"
    )
    result = train(config, progress=Progress(stream=lines))
    assert lines.getvalue().splitlines()[0].startswith("teacher epoch 1/2  loss ")
    assert lines.getvalue().splitlines()[-1].startswith("student epoch 1/1  loss ")
    loaded = load_model(result.checkpoint)
    assert list(loaded.net.state_dict()) == [
        "fc1.weight",
        "fc1.bias",
        "fc2.weight",
        "fc2.bias",
        "fc3.weight",
        "fc3.bias",
    ]
    record = loaded.metrics["teacher"]
    assert record["sha256"] == sha256_file(tmp_path / TEACHER_NAME) and 0.5 < record["accuracy"] <= 1
    assert loaded.recipe == "distill" and result.test_accuracy > 0.8
    manifest = export(
        ExportConfig(checkpoint=tmp_path / "mnist_mlp.pt", out=tmp_path / "m", formats=("onnx",)),
        log=lambda _: None,
    )
    assert json.loads(manifest.metadata["teacher"]) == record and manifest.metadata["recipe"] == "distill"


@pytest.mark.slow
def test_a_saved_teacher_is_reused_and_checked(data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr("edgedigits.train.teacher.TeacherCNN", TinyTeacher)
    path = tmp_path / "t.pt"
    teacher = save_teacher(path, TinyTeacher(), 0.5, {})
    assert load_teacher(path, torch.device("cpu")).sha256 == teacher.sha256
    config = TrainConfig(
        recipe="distill",
        epochs=1,
        batch_size=4096,
        data_dir=data_dir,
        out=tmp_path / "s",
        device="cpu",
        teacher=path,
    )
    result = train(config, progress=Progress(enabled=False))
    assert load_model(result.checkpoint).metrics["teacher"]["sha256"] == teacher.sha256
    assert not (tmp_path / "s" / TEACHER_NAME).exists()  # reused, not trained again
    with pytest.raises(CheckpointError, match="is not an edgedigits teacher checkpoint"):
        load_teacher(result.checkpoint, torch.device("cpu"))


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"recipe": "default", "teacher": "t.pt"}, "--teacher is for --recipe distill, not default"),
        ({"recipe": "distill", "teacher": "missing.pt"}, "no such teacher checkpoint"),
    ],
)
def test_teacher_option_is_checked(tmp_path, kw, message):
    (tmp_path / "t.pt").write_bytes(b"x")
    kw = kw | {"teacher": tmp_path / kw["teacher"]}
    with pytest.raises(UsageError, match=message):
        TrainConfig(out=tmp_path, **kw)


def test_distill_keeps_the_default_recipes_robustness_training():
    default, distill = RECIPES["default"], RECIPES["distill"]
    assert distill.augment == default.augment and distill.outliers == default.outliers
    assert distill.distill is not None and default.distill is None


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_on_a_terminal_and_logs_one_line_per_epoch_elsewhere():
    tty, log, quiet = FakeTerminal(), io.StringIO(), FakeTerminal()
    for stream, enabled in ((tty, True), (log, True), (quiet, False)):
        progress = Progress(enabled=enabled, stream=stream)
        progress.start("teacher", 1, 2, 10)
        for _ in range(10):
            progress.advance(128, 0.5)
        progress.epoch("teacher epoch 1/2  loss 0.5000")
    assert "teacher epoch 1/2" in tty.getvalue() and "img/s" in tty.getvalue() and "\x1b[" in tty.getvalue()
    assert log.getvalue() == "teacher epoch 1/2  loss 0.5000\n"
    assert quiet.getvalue() == ""  # a rank other than 0


@pytest.mark.slow
def test_bf16_autocast_trains_on_cpu(data_dir, tmp_path):
    config = TrainConfig(recipe="seed", epochs=1, data_dir=data_dir, out=tmp_path, device="cpu", amp=True)
    result = train(config, progress=Progress(enabled=False))
    assert result.test_accuracy > 0.8
    assert json.loads((tmp_path / "train_metrics.json").read_text())["amp"] is True
    assert load_model(result.checkpoint).net.fc1.weight.dtype == torch.float32  # master weights stay fp32


@pytest.mark.slow
def test_resume_finds_its_own_teacher_and_refuses_another(data_dir, tmp_path, monkeypatch):
    from edgedigits.core.errors import Interrupted

    monkeypatch.setattr("edgedigits.train.teacher.TeacherCNN", TinyTeacher)
    (tmp_path / "t").mkdir()
    mine, other = tmp_path / "t" / "mine.pt", tmp_path / "t" / "other.pt"
    save_teacher(mine, TinyTeacher(), 0.5, {})
    save_teacher(other, TinyTeacher(), 0.5, {})
    kw = {
        "recipe": "distill",
        "batch_size": 4096,
        "data_dir": data_dir,
        "out": tmp_path / "s",
        "device": "cpu",
    }

    def stop(record):
        raise KeyboardInterrupt

    with pytest.raises(Interrupted):
        train(TrainConfig(epochs=2, teacher=mine, **kw), progress=Progress(enabled=False), on_epoch=stop)
    ckpt = tmp_path / "s" / "mnist_mlp.pt"

    def not_yet(*args, **kwargs):
        raise AssertionError("MNIST was read before the teacher was checked")

    with monkeypatch.context() as before_data:  # both refusals come before any data is read
        before_data.setattr("edgedigits.core.data.load_split", not_yet)
        with pytest.raises(
            CheckpointError, match=r"mine.pt, sha256 .* is not beside it .* pass it with --teacher"
        ):
            train(TrainConfig(resume=ckpt, **kw), progress=Progress(enabled=False))
        with pytest.raises(UsageError, match="is not the teacher"):
            train(TrainConfig(resume=ckpt, teacher=other, **kw), progress=Progress(enabled=False))
    done = train(TrainConfig(resume=ckpt, teacher=mine, **kw), progress=Progress(enabled=False))
    assert [h["epoch"] for h in done.history] == [1, 2]
