"""The training loop: the whole dataset lives in tensors on the device, batches are index slices."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from edgedigits.core import data
from edgedigits.core.choices import Device
from edgedigits.core.contract import NUM_CLASSES
from edgedigits.core.errors import CheckpointError, Interrupted, UsageError
from edgedigits.core.files import write_json_atomic
from edgedigits.train.checkpoint import LoadedModel, load_model, save_checkpoint
from edgedigits.train.distributed import Group, check_shards, join, leave
from edgedigits.train.model import Normalization, build_net
from edgedigits.train.progress import Progress
from edgedigits.train.recipes import Augment, Recipe, TrainConfig
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


def _unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 images [B, 28, 28] -> float [B, 1, 28, 28] in [0, 1]."""
    return images.unsqueeze(1).float().div_(255)


def normalize(x: torch.Tensor, norm: Normalization) -> torch.Tensor:
    """The network's input from [0, 1] pixels: ``(x - mean) / std`` (the recipe's normalization)."""
    return (x - norm.mean) / norm.std


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


def background_loss(logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy to the 11th class, "not a digit", of a net with a background output."""
    return F.cross_entropy(logits, torch.full((len(logits),), NUM_CLASSES, device=logits.device))


def calibrate_rejection(
    net: nn.Module, digits: list[torch.Tensor], non_digits: torch.Tensor, norm: Normalization, keep: float
) -> dict:
    """The rejection rule of the model's contract: a crop whose top softmax probability is below
    ``threshold`` is not a digit. The threshold keeps ``keep`` of every set in ``digits`` (the MNIST
    test digits as they are and as the runtime renders them); also measured: how many held-back
    non-digits (never trained on) it rejects."""

    def top(images: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return F.softmax(net(normalize(_unit(images), norm)), 1).amax(1).float().cpu()

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
            x = normalize(_unit(images[i : i + batch_size]), norm)
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


@dataclass(frozen=True)
class _Run:
    """One training run as its pieces read it: the settings (a resumed run's own recipe and seed), where
    it runs, and where it reports."""

    config: TrainConfig
    recipe: Recipe
    resume: _Resume | None
    device: torch.device
    group: Group
    progress: Progress

    @property
    def norm(self) -> Normalization:
        return Normalization(*self.recipe.normalization)

    @property
    def checkpoint(self) -> Path:
        return self.config.out / CHECKPOINT_NAME


@dataclass(frozen=True)
class _Material:
    """The run's images on the device (uint8 [N, 28, 28]) and labels: the training digits (with their
    runtime renderings under outlier exposure), the test digits, and outlier exposure's non-digits to
    train on and its calibration sets."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    non_digits: torch.Tensor | None = None
    # (the test digits as the runtime renders them, non-digits never trained on)
    calibration: tuple[torch.Tensor, torch.Tensor] | None = None


@dataclass(frozen=True)
class _Phase:
    """One network's training, the teacher's or the student's: everything its epochs use."""

    name: str  # in the progress bar: "teacher", "student" or "train"
    label: str  # before "epoch" in its lines: "teacher ", "student " or nothing
    net: nn.Module
    model: nn.Module  # ``net``, or DistributedDataParallel around it
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    batches: _Batches
    gen: torch.Generator  # the permutations
    aug_gen: torch.Generator  # the augmentation (and the non-digits drawn into a batch)
    seed: int
    epochs: int
    loss: Callable[[torch.Tensor], torch.Tensor]  # a batch's indices -> its mean loss


def _fit_epoch(phase: _Phase, perm: torch.Tensor, progress: Progress) -> float:
    """One epoch of steps over ``perm``. Returns the mean loss (of this rank's shards)."""
    phase.model.train()
    batches = phase.batches
    loss_sum = torch.zeros((), device=perm.device)
    for step, (idx, whole) in enumerate(batches(perm)):
        loss = phase.loss(idx)
        phase.opt.zero_grad(set_to_none=True)
        # DDP averages the ranks' gradients; weighting each by its share of the global batch makes that
        # the global batch's mean even when the shards differ by an image (1.0 for one process)
        (loss * (len(idx) * batches.group.world / whole)).backward()
        phase.opt.step()
        phase.sched.step()
        loss_sum += loss.detach()
        shown = float(loss.detach()) if progress.tty and step % 50 == 0 else None  # a GPU sync: rarely
        progress.advance(whole, shown)
    return float(loss_sum) / batches.steps()


def _epochs(
    run: _Run, phase: _Phase, data: _Material, first: int = 0, elapsed: float = 0.0
) -> Iterator[dict]:
    """Train ``phase`` from epoch ``first`` on; after each epoch, log it and yield its record (its
    ``seconds`` include ``elapsed``, the time of the run it resumes)."""
    t0 = time.perf_counter()
    for epoch in range(first, phase.epochs):
        _reseed(phase.aug_gen, phase.seed, epoch, run.group)
        perm = torch.randperm(phase.batches.n, generator=phase.gen).to(run.device)
        run.progress.start(phase.name, epoch + 1, phase.epochs, phase.batches.steps())
        loss = _fit_epoch(phase, perm, run.progress)
        accuracy = evaluate(phase.net, data.test_x, data.test_y, run.norm)  # every rank: cheap, no broadcast
        seconds = elapsed + time.perf_counter() - t0
        run.progress.epoch(
            f"{phase.label}epoch {epoch + 1}/{phase.epochs}  loss {loss:.4f}  test acc {accuracy:.4f}  "
            f"{seconds:.1f}s"
        )
        yield {"epoch": epoch + 1, "loss": loss, "test_accuracy": accuracy, "seconds": round(seconds, 3)}


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
        return _train(_Run(config, recipe, resume, device, group, progress), on_epoch)
    finally:
        progress.close()  # a bar left running (Ctrl-C mid-epoch) would keep the terminal's cursor hidden
        leave(group)


def _train(run: _Run, on_epoch: Callable[[dict], None] | None) -> TrainResult:
    torch.manual_seed(run.config.seed)
    gen, aug_gen = _generators(run.config.seed, run.group)
    teacher = _given_teacher(run)  # before any data is read: a wrong teacher fails in a second
    data = _material(run)
    if teacher is None and run.recipe.distill is not None:
        teacher = _train_teacher(run, data)
    student = _student(run, data, teacher, gen, aug_gen)
    first, history, elapsed = (0, [], 0.0) if run.resume is None else _restore(run.resume, student)
    try:
        for record in _epochs(run, student, data, first, elapsed):
            history.append(record)
            if run.group.main:  # the one process that writes
                _save_epoch(run, student, data, teacher, history)
            if on_epoch is not None:
                on_epoch(record)
    except KeyboardInterrupt:
        kept = run.checkpoint if len(history) > first else run.config.resume  # None: nothing finished yet
        raise Interrupted.at(kept) from None
    return TrainResult(
        test_accuracy=history[-1]["test_accuracy"],
        history=history,
        train_seconds=history[-1]["seconds"],
        device=str(run.device),
        checkpoint=str(run.checkpoint),
    )


def _student(
    run: _Run, data: _Material, teacher: Teacher | None, gen: torch.Generator, aug_gen: torch.Generator
) -> _Phase:
    """The network (the tutorial MLP, or ``--arch cnn``), its optimizer and its loss: cross-entropy on the
    digits or, with a teacher, its soft targets; under outlier exposure, plus the flat-softmax (or, with
    a background output, the background class's) loss of non-digits drawn into each batch."""
    recipe, device, norm = run.recipe, run.device, run.norm
    background = recipe.outliers is not None and recipe.outliers.background
    net = build_net(run.config.arch, background).to(device)
    outlier_loss = background_loss if background else flat_loss
    model = _wrap(net, device, run.group)
    batches = _Batches(len(data.train_x), recipe.batch_size, run.group)
    opt, sched = _make_optimizer(net, recipe, batches.steps() * recipe.epochs)

    def loss(idx: torch.Tensor) -> torch.Tensor:
        x = _unit(data.train_x[idx])
        extra = 0
        if data.non_digits is not None:
            extra = max(1, round(recipe.outliers.fraction * len(idx)))
            pick = torch.randint(len(data.non_digits), (extra,), generator=aug_gen).to(device)
            x = torch.cat([x, _unit(data.non_digits[pick])])
        if recipe.augment is not None:
            x = augment_batch(x, recipe.augment, aug_gen)
        x = normalize(x, norm)
        with _autocast(device, run.config.amp):
            logits = model(x).float()
            if teacher is None:  # with a background output, smoothing would reach that class too
                value = F.cross_entropy(
                    logits[: len(idx)], data.train_y[idx], label_smoothing=recipe.label_smoothing
                )
            else:
                with torch.no_grad():
                    soft = teacher.net(x[: len(idx)]).float()
                d = recipe.distill
                value = distill_loss(logits[: len(idx)], soft, data.train_y[idx], d.temperature, d.alpha)
        if extra:
            value = value + recipe.outliers.weight * outlier_loss(logits[len(idx) :])
        return value

    distilled = teacher is not None
    return _Phase(
        name="student" if distilled else "train",
        label="student " if distilled else "",
        net=net,
        model=model,
        opt=opt,
        sched=sched,
        batches=batches,
        gen=gen,
        aug_gen=aug_gen,
        seed=run.config.seed,
        epochs=recipe.epochs,
        loss=loss,
    )


def _save_epoch(
    run: _Run, student: _Phase, data: _Material, teacher: Teacher | None, history: list[dict]
) -> None:
    """Rewrite the checkpoint (with all that resuming needs) and the metrics, each atomically."""
    recipe = run.recipe
    metrics = _metrics(run, history)
    if data.calibration is not None:
        rendered, held_back = data.calibration
        metrics["reject"] = calibrate_rejection(
            student.net, [data.test_x, rendered], held_back, run.norm, recipe.outliers.keep
        )
    if teacher is not None:
        metrics["teacher"] = teacher.record()
    state = {
        "epoch": history[-1]["epoch"],
        "optimizer": student.opt.state_dict(),
        "scheduler": student.sched.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "gen_rng": student.gen.get_state(),
        "history": history,
        "elapsed": history[-1]["seconds"],
    }
    save_checkpoint(
        run.checkpoint,
        student.net,
        run.norm,
        recipe=recipe.name,
        config=run.config.describe(recipe),
        metrics=metrics,
        train_state=state,
    )
    write_json_atomic(run.config.out / METRICS_NAME, metrics)


def _wrap(net: nn.Module, device: torch.device, group: Group) -> nn.Module:
    """DistributedDataParallel over the group (gradients averaged in the backward pass), else ``net``."""
    if not group.active:
        return net
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)


def _given_teacher(run: _Run) -> Teacher | None:
    """A distill run's teacher when it is not trained here: the very one a resumed run was trained with,
    or ``--teacher``'s. None: train one."""
    if run.recipe.distill is None:
        return None
    if run.resume is not None and "teacher" in run.resume.loaded.metrics:
        return _resumed_teacher(run.config, run.resume.loaded.metrics["teacher"], run.device)
    if run.config.teacher is not None:
        return load_teacher(run.config.teacher, run.device)
    return None


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


def _train_teacher(run: _Run, data: _Material) -> Teacher:
    """A new CNN teacher, trained on the same augmented digits (its own seed) and saved beside the
    student."""
    config, recipe, d = run.config, run.recipe, run.recipe.distill
    seed, norm = config.seed + 7, run.norm
    torch.manual_seed(seed)
    net = TeacherCNN().to(run.device)
    model = _wrap(net, run.device, run.group)
    gen, aug_gen = _generators(seed, run.group)
    batches = _Batches(len(data.train_x), recipe.batch_size, run.group)
    teacher_recipe = replace(recipe, lr=d.teacher_lr, epochs=d.teacher_epochs)
    opt, sched = _make_optimizer(net, teacher_recipe, batches.steps() * d.teacher_epochs)

    def loss(idx: torch.Tensor) -> torch.Tensor:
        x = _unit(data.train_x[idx])
        if recipe.augment is not None:
            x = augment_batch(x, recipe.augment, aug_gen)
        with _autocast(run.device, config.amp):
            return F.cross_entropy(model(normalize(x, norm)).float(), data.train_y[idx])

    phase = _Phase(
        name="teacher",
        label="teacher ",
        net=net,
        model=model,
        opt=opt,
        sched=sched,
        batches=batches,
        gen=gen,
        aug_gen=aug_gen,
        seed=seed,
        epochs=d.teacher_epochs,
        loss=loss,
    )
    for record in _epochs(run, phase, data):
        accuracy = record["test_accuracy"]
    net.eval()
    saved = config.out / TEACHER_NAME
    if run.group.main:
        teacher = save_teacher(saved, net, accuracy, {"recipe": asdict(d), "seed": config.seed})
    if run.group.active:
        dist.barrier()  # the file is written before any rank reads its hash
    return teacher if run.group.main else load_teacher(saved, run.device)


def _material(run: _Run) -> _Material:
    """MNIST on the device; under outlier exposure, training digits plus their runtime-style
    renderings, the non-digit bank, and for calibration the test digits as the runtime renders them and
    non-digits held back. Deterministic per seed, so a resumed run gets the same material (built once
    per process: ``outliers.outlier_material``)."""
    config, out, device = run.config, run.recipe.outliers, run.device
    train_split = data.load_split("train", config.data_dir)
    test_split = data.load_split("test", config.data_dir)
    test_x, test_y = to_tensors(test_split, device)
    if out is None:
        return _Material(*to_tensors(train_split, device), test_x, test_y)
    from edgedigits.train.outliers import outlier_material

    made = outlier_material(
        train_split.images,
        test_split.images,
        config.seed,
        bank=out.bank,
        renderings=out.renderings,
        hand_drawn=out.hand_drawn,
    )
    images = np.concatenate([train_split.images, made.renderings])
    labels = np.concatenate([train_split.labels, train_split.labels[made.picked]]).astype(np.int64)
    return _Material(
        torch.from_numpy(images).to(device),
        torch.from_numpy(labels).to(device),
        test_x,
        test_y,
        non_digits=_on_device(made.bank, device),
        calibration=(_on_device(made.rendered_test, device), _on_device(made.held_back, device)),
    )


def _on_device(shared: np.ndarray, device: torch.device) -> torch.Tensor:
    """A tensor of its own from a read-only array that other runs share."""
    return torch.from_numpy(shared.copy()).to(device)


def _metrics(run: _Run, history: list[dict]) -> dict:
    config, recipe = run.config, run.recipe
    return {
        "processes": run.group.world,
        "amp": config.amp,
        "test_accuracy": history[-1]["test_accuracy"],
        "epochs": history[-1]["epoch"],
        "train_seconds": history[-1]["seconds"],
        "recipe": recipe.name,
        "arch": config.arch.value,
        "device": str(run.device),
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
    if loaded.arch != config.arch:
        raise UsageError(f"--resume checkpoint holds the {loaded.arch} network; pass --arch {loaded.arch}")
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
    recipe = replace(config.resolved, **saved)
    if recipe.outliers is not None:  # a CNN run from before the background class continues without it
        background = bool(getattr(loaded.net, "background", False))
        recipe = replace(recipe, outliers=replace(recipe.outliers, background=background))
    return _Resume(loaded, state, recipe, seed)


def _restore(resume: _Resume, student: _Phase) -> tuple[int, list[dict], float]:
    """The saved run's weights, optimizer, schedule and random streams; (epochs done, history, seconds)."""
    state = resume.state
    student.net.load_state_dict(resume.loaded.net.state_dict())
    student.opt.load_state_dict(state["optimizer"])
    student.sched.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    student.gen.set_state(state["gen_rng"])
    return int(state["epoch"]), list(state["history"]), float(state["elapsed"])
