"""More than one training process: torchrun + DistributedDataParallel (gloo on CPU)."""

import json
import os
import signal
from pathlib import Path

import pytest
import torch

from conftest import cli, cli_process
from edgedigits.core.errors import UsageError
from edgedigits.train.checkpoint import load_model
from edgedigits.train.distributed import Group, this_process
from edgedigits.train.loop import _Batches
from held import Held

TUTORIAL_NAMES = ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"]


def two_process_run(out: Path, data_dir: Path, *extra: str):
    return cli_process(
        "train",
        "--recipe",
        "seed",
        "--device",
        "cpu",
        "--nproc",
        "2",
        "--data-dir",
        str(data_dir),
        "--out",
        str(out),
        *extra,
        timeout=300,
    )


def test_each_rank_takes_its_shard_of_every_global_batch():
    perm = torch.randperm(1001, generator=torch.Generator().manual_seed(0))
    one = list(_Batches(1001, 128, Group())(perm))
    ranks = [list(_Batches(1001, 128, Group(r, 2, r))(perm)) for r in range(2)]
    # 7 full batches; the last global batch of 105 images is split 53/52, its size known to both ranks
    assert len(ranks[0]) == len(ranks[1]) == len(one) == _Batches(1001, 128, Group(0, 2, 0)).steps() == 8
    for (whole, n), (a, na), (b, nb) in zip(one, *ranks, strict=True):
        assert n == na == nb == len(whole)
        assert sorted(torch.cat([a, b]).tolist()) == sorted(whole.tolist())
        assert not set(a.tolist()) & set(b.tolist())
    # a last global batch smaller than the number of ranks is left out, so no shard is ever empty
    tail = list(_Batches(129, 128, Group(1, 2, 1))(torch.arange(129)))
    assert [len(idx) for idx, _ in tail] == [64] and _Batches(129, 128, Group(1, 2, 1)).steps() == 1


@pytest.mark.slow
def test_two_gloo_processes_give_the_same_weights_for_the_same_seed(data_dir, tmp_path):
    runs = [two_process_run(tmp_path / name, data_dir, "--epochs", "1", "--seed", "5") for name in "ab"]
    for proc in runs:
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.count("test accuracy") == 1  # rank 0 speaks for the job
        assert proc.stderr.count("epoch 1/1") == 1 and "Traceback" not in proc.stderr
    a, b = (load_model(tmp_path / n / "mnist_mlp.pt").net.state_dict() for n in "ab")
    assert list(a) == TUTORIAL_NAMES  # DDP's "module." prefix never reaches the checkpoint
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["mnist_mlp.pt", "train_metrics.json"]
    metrics = json.loads((tmp_path / "a" / "train_metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["test_accuracy"] > 0.8


def _workers(launcher_pid: int) -> list[int]:
    """The training processes torchrun started under the launcher (grandchildren and below)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [launcher_pid]
    while todo:
        pid = todo.pop()
        for child in children.get(pid, []):
            todo.append(child)
            if b"\0LOCAL_RANK=" in _environ(child):
                found.append(child)
    return found


def _environ(pid: int) -> bytes:
    """A process's environment, NUL-framed (b"\\0NAME=value\\0"), empty once it is gone."""
    try:
        return b"\0" + Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


def held_two_process_run(out: Path, data_dir: Path) -> Held:
    """A 2-process run of 2 epochs held a step into its second (epoch 1 on disk): it cannot end before
    the test's signal comes."""
    args = ["train", "--recipe", "seed", "--device", "cpu", "--nproc", "2", "--epochs", "2"]
    return Held(*args, "--data-dir", str(data_dir), "--out", str(out), hold="train:2:1")


@pytest.mark.slow
def test_a_killed_rank_ends_the_job_in_one_line_and_resume_continues(data_dir, tmp_path):
    out = tmp_path / "run"
    with held_two_process_run(out, data_dir) as run:
        run.wait_until_held()
        workers = [w for w in _workers(run.proc.pid) if b"\0RANK=1\0" in _environ(w)]
        assert workers, "no rank-1 worker found"
        os.kill(workers[0], signal.SIGKILL)
        code, _, stderr = run.finish()
    assert code == 1
    assert stderr.strip().splitlines()[-1] == (
        "error: a training process of the 2-process run failed (torchrun exit 1); continue from the last "
        f"finished epoch with --resume {out / 'mnist_mlp.pt'}"
    )
    assert "Traceback" not in stderr
    assert json.loads((out / "train_metrics.json").read_text())["epochs"] == 1
    resumed = two_process_run(out, data_dir, "--resume", str(out / "mnist_mlp.pt"))
    assert resumed.returncode == 0, resumed.stderr
    history = json.loads((out / "train_metrics.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2]


@pytest.mark.slow
def test_ctrl_c_stops_every_rank_with_the_resume_hint(data_dir, tmp_path):
    out = tmp_path / "run"
    with held_two_process_run(out, data_dir) as run:
        run.wait_until_held()
        run.signal_group(signal.SIGINT)  # what Ctrl-C does: the whole foreground group gets it
        code, _, stderr = run.finish()
    assert code == 130, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: interrupted") and last.endswith(f"--resume {out / 'mnist_mlp.pt'}")
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--nproc", "0"], "--nproc must be >= 1, got 0"),
        (["--nproc", "64"], f"--nproc 64 exceeds the {os.cpu_count()} CPU cores here"),
        (["--nproc", "two"], "Invalid value for '--nproc'"),
        (["--nproc", "2", "--batch-size", "1"], "--batch-size 1 is smaller than --nproc 2"),
    ],
)
def test_nproc_is_checked_in_one_line(tmp_path, args, message):
    proc = cli("train", "--device", "cpu", "--out", str(tmp_path), *args)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_nproc_on_cuda_without_gpus_is_refused(tmp_path):
    proc = cli("train", "--device", "cuda", "--nproc", "2", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: --nproc 2 on CUDA needs 2 GPUs; this machine has 0"


def test_every_train_config_field_survives_the_nproc_command_line(tmp_path, monkeypatch):
    """--nproc starts each process with ``cli._train_argv(config)``: parsed again, it is the same config."""
    from dataclasses import fields

    from typer.testing import CliRunner

    from edgedigits import cli
    from edgedigits.train.recipes import TrainConfig

    for name in ("data", "out"):
        (tmp_path / name).mkdir()
    for name in ("teacher.pt", "ckpt.pt"):
        (tmp_path / name).write_bytes(b"x")
    given = {  # every field away from its default
        "recipe": "distill",
        "epochs": 3,
        "batch_size": 100,
        "lr": 0.0012345678901234567,
        "device": "cpu",
        "seed": 7,
        "data_dir": tmp_path / "data",
        "out": tmp_path / "out",
        "resume": tmp_path / "ckpt.pt",
        "teacher": tmp_path / "teacher.pt",
        "amp": True,
        "arch": "cnn",
    }
    settable = [f for f in fields(TrainConfig) if f.init]
    assert set(given) == {f.name for f in settable}, "give the new TrainConfig field a value here"
    config = TrainConfig(**given)
    assert all(getattr(config, f.name) != f.default for f in settable)
    seen = []

    def fake_train(parsed):
        seen.append(parsed)
        return type(
            "Result", (), {"test_accuracy": 1.0, "train_seconds": 1.0, "device": "cpu", "checkpoint": "x"}
        )

    monkeypatch.setattr("edgedigits.train.loop.train", fake_train)
    result = CliRunner().invoke(cli.app, ["train", *cli._train_argv(config)])
    assert result.exit_code == 0, result.output
    assert seen == [config]


def test_rank_0_speaks_for_the_job(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from edgedigits import cli

    def fake_train(config):
        return type(
            "Result", (), {"test_accuracy": 0.5, "train_seconds": 1.0, "device": "cpu", "checkpoint": "x"}
        )

    monkeypatch.setattr("edgedigits.train.loop.train", fake_train)
    printed = {}
    for rank in (0, 1):
        for key, value in (("RANK", rank), ("WORLD_SIZE", 2), ("LOCAL_RANK", rank)):
            monkeypatch.setenv(key, str(value))
        assert this_process() == Group(rank, 2, rank)
        result = CliRunner().invoke(cli.app, ["train", "--device", "cpu", "--out", str(tmp_path)])
        assert result.exit_code == 0, result.output
        printed[rank] = result.stdout
    assert printed[0].startswith("test accuracy 0.5000") and printed[1] == ""
    monkeypatch.setenv("WORLD_SIZE", "1")  # a torchrun job of one process
    assert this_process() == Group() and this_process().main
    monkeypatch.setenv("RANK", "one")
    with pytest.raises(UsageError, match="torchrun environment is malformed"):
        this_process()
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(key)
    assert this_process() == Group()
