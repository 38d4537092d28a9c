"""More than one training process, the way PyTorch users already run them: ``torch.distributed.run``
(torchrun) starts the processes and sets RANK/WORLD_SIZE/LOCAL_RANK; each process joins the group
here (gloo on CPU, nccl on CUDA) and wraps the model in DistributedDataParallel.

``edgedigits train --nproc N`` is only a shortcut for
``python -m torch.distributed.run --standalone --nproc-per-node N -m edgedigits train ...``; multi-node
runs are torchrun's job (``--nnodes``, ``--rdzv-endpoint``), not ours.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from edgedigits.core.errors import Interrupted, LaunchFailed, UsageError

ENV_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass(frozen=True)
class Group:
    """This process's place in the job; a single process is rank 0 of 1."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes files and draws progress."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def launched() -> bool:
    """True inside a process that torchrun started."""
    return all(k in os.environ for k in ENV_KEYS)


def this_process() -> Group:
    """This process's place in the job, as torchrun's environment gives it (rank 0 of 1 outside torchrun,
    and in a torchrun job of one process)."""
    if not launched():
        return Group()
    try:
        rank, world, local = (int(os.environ[k]) for k in ENV_KEYS)
    except ValueError as exc:
        raise UsageError(f"torchrun environment is malformed ({exc})") from exc
    return Group(rank, world, local) if world > 1 else Group()


def join(device_type: str) -> Group:
    """Join the process group torchrun set up (a no-op for a single process)."""
    group = this_process()
    if not group.active:
        return group
    if device_type == "cuda":
        torch.cuda.set_device(group.local_rank)
    dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return group


def leave(group: Group) -> None:
    if group.active and dist.is_initialized():
        dist.destroy_process_group()


def check_shards(batch_size: int, processes: int) -> None:
    """Every process needs a share of every global batch."""
    if batch_size < processes:
        raise UsageError(
            f"--batch-size {batch_size} is smaller than --nproc {processes}; each process needs images"
        )


def check_nproc(nproc: int, device: str, batch_size: int) -> None:
    """One-line refusals before any process starts."""
    if nproc < 1:
        raise UsageError(f"--nproc must be >= 1, got {nproc}")
    check_shards(batch_size, nproc)
    if nproc == 1:
        return  # one process: the device check happens where the device is picked
    if device == "cuda" or (device == "auto" and torch.cuda.is_available()):
        gpus = torch.cuda.device_count()
        if nproc > gpus:
            raise UsageError(f"--nproc {nproc} on CUDA needs {nproc} GPUs; this machine has {gpus}")
    elif nproc > (os.cpu_count() or 1):
        raise UsageError(
            f"--nproc {nproc} exceeds the {os.cpu_count()} CPU cores here; each process needs a core"
        )
    if launched():
        raise UsageError("--nproc inside a torchrun job: torchrun already started the processes")


def launch(nproc: int, train_args: Sequence[str], checkpoint: Path) -> None:
    """Run ``edgedigits train TRAIN_ARGS`` in ``nproc`` processes under torchrun and wait for them.

    Rank 0's progress lines pass through as they come; torchrun's banner and, when a process dies, its
    page of tracebacks do not. What the user gets instead is one line: a rank's own error (bad data,
    interrupted, with its resume hint), or that a process died and where to continue from."""
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "--no-python",  # the entry below is a command, not a script
        sys.executable,
        "-m",
        "edgedigits",
        "train",
        *train_args,
    ]
    env = os.environ | {"OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // nproc))}
    started = time.time()
    first_error, quiet, interrupted = None, False, False
    with subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True, bufsize=1) as proc:
        while True:
            try:  # Ctrl-C reaches every rank too; keep reading until they have said where they stopped
                for line in proc.stderr or ():
                    if line.startswith("error: "):
                        first_error = first_error or line.rstrip("\n")[len("error: ") :]
                    elif "Traceback" in line or "ChildFailedError" in line:
                        quiet = True  # the rest is a dying rank's stack and torchrun's report of it
                    elif not quiet and _worth_showing(line):
                        sys.stderr.write(line)
                break
            except KeyboardInterrupt:
                interrupted = True
                proc.send_signal(signal.SIGINT)  # in case only this process got it; torchrun passes it on
        code = proc.wait()
    if code == 0 and not interrupted:
        return
    finished = checkpoint.is_file() and checkpoint.stat().st_mtime >= started
    if interrupted or (first_error or "").startswith("interrupted"):
        raise Interrupted(first_error) if first_error else Interrupted.at(checkpoint if finished else None)
    if first_error:
        raise LaunchFailed(first_error)
    hint = f"; continue from the last finished epoch with --resume {checkpoint}" if finished else ""
    raise LaunchFailed(f"a training process of the {nproc}-process run failed (torchrun exit {code}){hint}")


def _worth_showing(line: str) -> bool:
    """Progress from rank 0, not torchrun's banner about OMP_NUM_THREADS or its log lines."""
    text = line.strip()
    noise = ("OMP_NUM_THREADS", "torch/distributed", "*****")
    return bool(text) and not any(n in text for n in noise)
