"""The training loop: the whole dataset lives in tensors on the device, batches are index slices."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from edgedigits.core import data
from edgedigits.core.errors import CheckpointError, Interrupted, UsageError
from edgedigits.core.files import write_json_atomic
from edgedigits.train.checkpoint import LoadedModel, load_model, save_checkpoint
from edgedigits.train.distributed import Group, check_shards, join, leave
from edgedigits.train.model import Normalization, SimpleNN
from edgedigits.train.progress import Progress
from edgedigits.train.recipes import Augment, Device, Recipe, TrainConfig
from edgedigits.train.teacher import (
    TEACHER_NAME,
    Teacher,
    TeacherCNN,
    distill_loss,
    load_teacher,
    save_teacher,
)

CHECKPOINT_NAME = "mnist_mlp.pt"
METRICS_NAME = "train_metrics.json"


@dataclass(frozen=True)
class TrainResult:
    test_accuracy: float
    history: list[dict]
    train_seconds: float
    device: str
    checkpoint: str


def pick_device(name: Device | str) -> torch.device:
    device = Device.of(name, "--device")
    if device is Device.AUTO:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device is Device.CUDA and not torch.cuda.is_available():
        raise UsageError(
            "--device cuda was asked for but CUDA is not available here; use --device cpu or auto"
        )
    return torch.device(device.value)


def to_tensors(split: data.Split, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images stay uint8 on the device (4x less memory traffic); labels become int64."""
    images = torch.from_numpy(split.images.copy()).to(device)  # copy: the IDX buffer is read-only
    labels = torch.from_numpy(split.labels.astype(np.int64)).to(device)
    return images, labels


def augment_batch(x: torch.Tensor, aug: Augment, gen: torch.Generator) -> torch.Tensor:
    """One random affine (plus a smooth elastic wobble) per image of ``x`` ([B, 1, 28, 28]), applied as a
    single grid_sample, then some pens made thicker or thinner."""
    b = x.shape[0]
    rnd = torch.rand(b, 5, generator=gen).mul_(2).sub_(1).to(x.device)  # uniform in [-1, 1]
    angle = rnd[:, 0] * math.radians(aug.max_rotation_deg)
    lo, hi = aug.scale_range
    scale = (lo + hi) / 2 + rnd[:, 1] * (hi - lo) / 2
    shear = rnd[:, 2] * aug.max_shear
    shift = rnd[:, 3:5] * (2 * aug.max_shift_px / x.shape[-1])  # pixels -> normalized grid units
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin + shear, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    if aug.elastic_px > 0:
        coarse = torch.randn(b, 2, 4, 4, generator=gen).to(x.device)
        field = F.interpolate(coarse, size=x.shape[-2:], mode="bicubic", align_corners=False)
        grid = grid + field.permute(0, 2, 3, 1) * (2 * aug.elastic_px / x.shape[-1])
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if aug.stroke_prob > 0:
        pick = torch.rand(b, 1, 1, 1, generator=gen).to(x.device)
        thicker = 0.5 * (x + F.max_pool2d(x, 3, 1, 1))
        thinner = 0.5 * (x - F.max_pool2d(-x, 3, 1, 1))
        x = torch.where(pick < aug.stroke_prob / 2, thicker, x)
        x = torch.where((pick >= aug.stroke_prob / 2) & (pick < aug.stroke_prob), thinner, x)
    return x


def flat_loss(logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy to the uniform distribution: smallest when the softmax is flat (outlier exposure)."""
    return -F.log_softmax(logits, dim=1).mean()


def calibrate_rejection(
    net: nn.Module, digits: list[torch.Tensor], non_digits: torch.Tensor, norm: Normalization, keep: float
) -> dict:
    """The rejection rule of the model's contract: a crop whose top softmax probability is below
    ``threshold`` is not a digit. The threshold keeps ``keep`` of every set in ``digits`` (the MNIST
    test digits as they are and as the runtime renders them); also measured: how many held-back
    non-digits (never trained on) it rejects."""

    def top(images: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            x = (images.float().unsqueeze(1) / 255 - norm.mean) / norm.std
            return F.softmax(net(x), 1).amax(1).float().cpu()

    net.eval()
    tops = [top(d) for d in digits]
    threshold = min(float(torch.quantile(t, 1 - keep)) for t in tops)
    return {
        "score": "max_softmax",
        "threshold": round(threshold, 6),
        "digits_kept": [round(float((t >= threshold).float().mean()), 6) for t in tops],
        "non_digits_rejected": round(float((top(non_digits) < threshold).float().mean()), 6),
    }


def evaluate(
    net: nn.Module, images: torch.Tensor, labels: torch.Tensor, norm: Normalization, batch_size: int = 10_000
) -> float:
    net.eval()
    correct = 0
    with torch.inference_mode():
        for i in range(0, len(images), batch_size):
            x = (images[i : i + batch_size].float() / 255 - norm.mean) / norm.std
            correct += int((net(x).argmax(1) == labels[i : i + batch_size]).sum())
    return correct / len(images)


def _make_optimizer(net: nn.Module, recipe: Recipe, steps: int):
    if recipe.optimizer == "sgd":
        opt = torch.optim.SGD(
            net.parameters(), lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay
        )
    else:
        opt = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    if recipe.schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=steps)
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    return opt, sched


def _autocast(device: torch.device, amp: bool):
    """bf16 autocast for the forward pass when ``--amp`` (no loss scaling needed, unlike fp16)."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp)


@dataclass
class _Batches:
    """One epoch's batches: a permutation shared by every rank (same seed), each global batch of
    ``batch_size`` split across ranks, so N processes take the same optimizer steps as one."""

    n: int
    batch_size: int
    group: Group

    def steps(self) -> int:
        full, tail = divmod(self.n, self.batch_size)
        return full + (tail >= self.group.world and tail > 0)

    def __call__(self, perm: torch.Tensor):
        """(this rank's indices, the global batch's size). A last global batch with fewer images than
        ranks is left out (at most N-1 images an epoch, others each epoch), so no shard is empty."""
        for i in range(0, self.n, self.batch_size):
            whole = perm[i : i + self.batch_size]
            if len(whole) >= self.group.world:
                yield whole[self.group.rank :: self.group.world], len(whole)


def _generators(seed: int, group: Group) -> tuple[torch.Generator, torch.Generator]:
    """(permutation, augmentation) generators. The permutation is the same on every rank; under
    several processes each rank augments with its own stream, reseeded per epoch (``_reseed``) so a
    resumed run augments as the first did. A single process keeps one stream for both."""
    perm = torch.Generator().manual_seed(seed)
    return perm, (perm if not group.active else torch.Generator())


def _reseed(aug: torch.Generator, seed: int, epoch: int, group: Group) -> None:
    if group.active:
        aug.manual_seed(seed * 1_000_003 + epoch * 1009 + group.rank + 1)


def _fit_epoch(
    model: nn.Module,
    opt,
    sched,
    batches: _Batches,
    perm: torch.Tensor,
    make_batch: Callable[[torch.Tensor], torch.Tensor],
    progress: Progress,
) -> float:
    """One epoch of steps; ``make_batch(indices) -> mean loss`` over them. Returns the mean loss (of
    this rank's shards)."""
    model.train()
    loss_sum = torch.zeros((), device=perm.device)
    for step, (idx, whole) in enumerate(batches(perm)):
        loss = make_batch(idx)
        opt.zero_grad(set_to_none=True)
        # DDP averages the ranks' gradients; weighting each by its share of the global batch makes that
        # the global batch's mean even when the shards differ by an image (1.0 for one process)
        (loss * (len(idx) * batches.group.world / whole)).backward()
        opt.step()
        sched.step()
        loss_sum += loss.detach()
        shown = float(loss.detach()) if progress.tty and step % 50 == 0 else None  # a GPU sync: rarely
        progress.advance(whole, shown)
    return float(loss_sum) / batches.steps()


def train(
    config: TrainConfig, progress: Progress | None = None, on_epoch: Callable[[dict], None] | None = None
) -> TrainResult:
    """Train per ``config``; after every epoch the checkpoint and metrics are rewritten atomically (by
    rank 0 alone when torchrun started several processes).

    A run stopped by Ctrl-C raises ``Interrupted`` naming the checkpoint it can be resumed from."""
    resume = _load_resume(config) if config.resume is not None else None
    recipe = resume.recipe if resume else config.resolved
    if resume is not None:  # the run it continues keeps its seed: its material and random streams
        config = replace(config, seed=resume.seed)
    device = pick_device(config.device)
    group = join(device.type)
    if device.type == "cuda" and group.active:
        device = torch.device("cuda", group.local_rank)
    progress = progress or Progress(enabled=group.main)
    try:
        check_shards(recipe.batch_size, group.world)  # torchrun started without our launcher
        return _train(config, resume, recipe, device, group, progress, on_epoch)
    finally:
        progress.close()  # a bar left running (Ctrl-C mid-epoch) would keep the terminal's cursor hidden
        leave(group)


def _train(config, resume, recipe, device, group, progress, on_epoch) -> TrainResult:
    norm = Normalization(*recipe.normalization)
    torch.manual_seed(config.seed)
    gen, aug_gen = _generators(config.seed, group)

    train_split = data.load_split("train", config.data_dir)
    train_x, train_y = to_tensors(train_split, device)
    test_x, test_y = to_tensors(data.load_split("test", config.data_dir), device)
    outliers = calibration = None
    if recipe.outliers is not None:
        train_x, train_y, outliers, calibration = _outlier_material(
            train_split, test_x, recipe, config.seed, device
        )
    teacher = None
    if recipe.distill is not None:
        teacher = _teacher(config, recipe, resume, device, group, progress, train_x, train_y, test_x, test_y)

    net = SimpleNN().to(device)
    model = _wrap(net, device, group)
    n = len(train_x)
    batches = _Batches(n, recipe.batch_size, group)
    opt, sched = _make_optimizer(net, recipe, batches.steps() * recipe.epochs)

    start_epoch, history, elapsed_before = 0, [], 0.0
    if resume is not None:
        start_epoch, history, elapsed_before = _restore(resume, net, opt, sched, gen)

    def make_batch(idx: torch.Tensor) -> torch.Tensor:
        x = train_x[idx].unsqueeze(1).float().div_(255)
        extra = 0
        if outliers is not None:
            extra = max(1, round(recipe.outliers.fraction * len(idx)))
            pick = torch.randint(len(outliers), (extra,), generator=aug_gen).to(device)
            x = torch.cat([x, outliers[pick].unsqueeze(1).float().div_(255)])
        if recipe.augment is not None:
            x = augment_batch(x, recipe.augment, aug_gen)
        x = (x - norm.mean) / norm.std
        with _autocast(device, config.amp):
            logits = model(x).float()
            if teacher is None:
                loss = F.cross_entropy(
                    logits[: len(idx)], train_y[idx], label_smoothing=recipe.label_smoothing
                )
            else:
                with torch.no_grad():
                    soft = teacher.net(x[: len(idx)]).float()
                d = recipe.distill
                loss = distill_loss(logits[: len(idx)], soft, train_y[idx], d.temperature, d.alpha)
        if extra:
            loss = loss + recipe.outliers.weight * flat_loss(logits[len(idx) :])
        return loss

    ckpt_path = config.out / CHECKPOINT_NAME
    t0 = time.perf_counter()
    try:
        for epoch in range(start_epoch, recipe.epochs):
            _reseed(aug_gen, config.seed, epoch, group)
            perm = torch.randperm(n, generator=gen).to(device)
            phase = "student" if teacher is not None else "train"
            progress.start(phase, epoch + 1, recipe.epochs, batches.steps())
            loss = _fit_epoch(model, opt, sched, batches, perm, make_batch, progress)
            accuracy = evaluate(net, test_x, test_y, norm)  # every rank, the same: cheap, no broadcast
            seconds = elapsed_before + time.perf_counter() - t0
            record = {
                "epoch": epoch + 1,
                "loss": loss,
                "test_accuracy": accuracy,
                "seconds": round(seconds, 3),
            }
            history.append(record)
            progress.epoch(
                f"{phase + ' ' if teacher is not None else ''}epoch {epoch + 1}/{recipe.epochs}  "
                f"loss {record['loss']:.4f}  test acc {accuracy:.4f}  {seconds:.1f}s"
            )
            if group.main:  # the one process that writes
                metrics = _metrics(config, recipe, device, history, seconds, group)
                if calibration is not None:
                    rendered, held_back = calibration
                    metrics["reject"] = calibrate_rejection(
                        net, [test_x, rendered], held_back, norm, recipe.outliers.keep
                    )
                if teacher is not None:
                    metrics["teacher"] = teacher.record()
                state = {
                    "epoch": epoch + 1,
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "torch_rng": torch.get_rng_state(),
                    "gen_rng": gen.get_state(),
                    "history": history,
                    "elapsed": seconds,
                }
                save_checkpoint(
                    ckpt_path,
                    net,
                    norm,
                    recipe=recipe.name,
                    config=config.describe(recipe),
                    metrics=metrics,
                    train_state=state,
                )
                write_json_atomic(config.out / METRICS_NAME, metrics)
            if on_epoch is not None:
                on_epoch(record)
    except KeyboardInterrupt:
        kept = ckpt_path if len(history) > start_epoch else config.resume  # None: nothing finished yet
        raise Interrupted.at(kept) from None
    return TrainResult(
        test_accuracy=history[-1]["test_accuracy"],
        history=history,
        train_seconds=history[-1]["seconds"],
        device=str(device),
        checkpoint=str(ckpt_path),
    )


def _wrap(net: nn.Module, device: torch.device, group: Group) -> nn.Module:
    """DistributedDataParallel over the group (gradients averaged in the backward pass), else ``net``."""
    if not group.active:
        return net
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)


def _resumed_teacher(config: TrainConfig, record: dict, device: torch.device) -> Teacher:
    """The very teacher a resumed run was trained with: ``--teacher`` if given (it must be that one),
    else the file of that name beside the checkpoint or in ``--out``."""
    if config.teacher is not None:
        candidates = [config.teacher]
    else:
        candidates = [config.resume.parent / record["file"], config.out / record["file"]]
    for path in candidates:
        if path.is_file():
            teacher = load_teacher(path, device)
            if teacher.sha256 == record["sha256"]:
                return teacher
            if config.teacher is not None:
                raise UsageError(f"--teacher {path} is not the teacher {config.resume} was trained with")
    raise CheckpointError(
        f"the teacher {config.resume} was trained with ({record['file']}, sha256 {record['sha256'][:12]}…) "
        f"is not beside it nor in {config.out}; pass it with --teacher PATH"
    )


def _teacher(config, recipe, resume, device, group, progress, train_x, train_y, test_x, test_y) -> Teacher:
    """The CNN teacher: ``--teacher``'s, the one this run (or the run it resumes) saved, or a new one
    trained on the same augmented digits and saved beside the student."""
    saved = config.out / TEACHER_NAME
    if resume is not None and "teacher" in resume.loaded.metrics:
        return _resumed_teacher(config, resume.loaded.metrics["teacher"], device)
    if config.teacher is not None:
        return load_teacher(config.teacher, device)
    d = recipe.distill
    norm = Normalization(*recipe.normalization)
    torch.manual_seed(config.seed + 7)
    net = TeacherCNN().to(device)
    model = _wrap(net, device, group)
    gen, aug_gen = _generators(config.seed + 7, group)
    batches = _Batches(len(train_x), recipe.batch_size, group)
    teacher_recipe = replace(recipe, lr=d.teacher_lr, epochs=d.teacher_epochs)
    opt, sched = _make_optimizer(net, teacher_recipe, batches.steps() * d.teacher_epochs)

    def make_batch(idx: torch.Tensor) -> torch.Tensor:
        x = train_x[idx].unsqueeze(1).float().div_(255)
        if recipe.augment is not None:
            x = augment_batch(x, recipe.augment, aug_gen)
        with _autocast(device, config.amp):
            return F.cross_entropy(model((x - norm.mean) / norm.std).float(), train_y[idx])

    t0 = time.perf_counter()
    for epoch in range(d.teacher_epochs):
        _reseed(aug_gen, config.seed + 7, epoch, group)
        progress.start("teacher", epoch + 1, d.teacher_epochs, batches.steps())
        perm = torch.randperm(len(train_x), generator=gen).to(device)
        loss = _fit_epoch(model, opt, sched, batches, perm, make_batch, progress)
        accuracy = evaluate(net, test_x, test_y, norm)
        progress.epoch(
            f"teacher epoch {epoch + 1}/{d.teacher_epochs}  loss {loss:.4f}  test acc {accuracy:.4f}  "
            f"{time.perf_counter() - t0:.1f}s"
        )
    net.eval()
    if group.main:
        teacher = save_teacher(saved, net, accuracy, {"recipe": asdict(d), "seed": config.seed})
    if group.active:
        dist.barrier()  # the file is written before any rank reads its hash
    return teacher if group.main else load_teacher(saved, device)


def _outlier_material(
    split: data.Split, test_x: torch.Tensor, recipe: Recipe, seed: int, device: torch.device
):
    """Training digits plus their runtime-style renderings, the non-digit bank, and for calibration the
    test digits as the runtime renders them and non-digits held back (another seed, never trained on).
    Deterministic per seed, so a resumed run gets the same material (built once per process:
    ``outliers.outlier_material``)."""
    from edgedigits.train.outliers import outlier_material

    out = recipe.outliers
    made = outlier_material(
        split.images, test_x.cpu().numpy(), seed, bank=out.bank, renderings=out.renderings
    )
    images = np.concatenate([split.images, made.renderings])
    labels = np.concatenate([split.labels, split.labels[made.picked]]).astype(np.int64)
    return (
        torch.from_numpy(images).to(device),
        torch.from_numpy(labels).to(device),
        _on_device(made.bank, device),
        (_on_device(made.rendered_test, device), _on_device(made.held_back, device)),
    )


def _on_device(shared: np.ndarray, device: torch.device) -> torch.Tensor:
    """A tensor of its own from a read-only array that other runs share."""
    return torch.from_numpy(shared.copy()).to(device)


def _metrics(
    config: TrainConfig,
    recipe: Recipe,
    device: torch.device,
    history: list[dict],
    seconds: float,
    group: Group,
) -> dict:
    return {
        "processes": group.world,
        "amp": config.amp,
        "test_accuracy": history[-1]["test_accuracy"],
        "epochs": history[-1]["epoch"],
        "train_seconds": round(seconds, 3),
        "recipe": recipe.name,
        "device": str(device),
        "seed": config.seed,
        "batch_size": recipe.batch_size,
        "lr": recipe.lr,
        "history": history,
        "torch_version": str(torch.__version__),
    }


@dataclass(frozen=True)
class _Resume:
    loaded: LoadedModel
    state: dict
    recipe: Recipe
    seed: int


def _load_resume(config: TrainConfig) -> _Resume:
    """The saved run's own recipe (epochs, batch size, lr): a resumed run continues it, never a new one."""
    loaded = load_model(config.resume)
    state = loaded.raw.get("train_state")
    if state is None:
        raise CheckpointError(f"{config.resume} has no training state to resume from (a bare state_dict?)")
    if loaded.recipe != config.resolved.name:
        raise UsageError(
            f"--resume checkpoint was trained with recipe {loaded.recipe!r}, "
            f"not {config.resolved.name!r}; pass --recipe {loaded.recipe}"
        )
    try:
        saved = {k: loaded.raw["config"]["recipe"][k] for k in ("epochs", "batch_size", "lr")}
        done = int(state["epoch"])
        seed, amp = int(loaded.raw["config"].get("seed", config.seed)), bool(loaded.raw["config"].get("amp"))
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{config.resume}: training state is incomplete ({exc!r})") from exc
    for name, value in saved.items():
        asked = getattr(config, name)
        if asked is not None and asked != value:
            flag = "--" + name.replace("_", "-")
            raise UsageError(
                f"{flag} {asked} differs from the resumed run's {value}; leave {flag} out to resume"
            )
    if amp != config.amp:
        raise UsageError(
            f"--amp {'is' if config.amp else 'is not'} given, but the resumed run was "
            f"{'' if amp else 'not '}trained with it; match it to resume"
        )
    if done >= saved["epochs"]:
        raise UsageError(f"{config.resume} already finished all {done} epochs; there is nothing to resume")
    return _Resume(loaded, state, replace(config.resolved, **saved), seed)


def _restore(resume: _Resume, net, opt, sched, gen) -> tuple[int, list[dict], float]:
    state = resume.state
    net.load_state_dict(resume.loaded.net.state_dict())
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    gen.set_state(state["gen_rng"])
    return int(state["epoch"]), list(state["history"]), float(state["elapsed"])
