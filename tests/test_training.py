import datetime
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import REPO, cli
from edgedigits.core.choices import Arch, Device, RecipeName
from edgedigits.core.errors import CheckpointError, Interrupted, UsageError
from edgedigits.train import loop
from edgedigits.train.checkpoint import load_model, save_checkpoint
from edgedigits.train.loop import (
    CHECKPOINT_NAME,
    METRICS_NAME,
    _load_resume,
    background_loss,
    train,
)
from edgedigits.train.model import TUTORIAL_NORMALIZATION, SimpleNN, SmallCNN, build_net, fold_background
from edgedigits.train.recipes import ARCH_OUTLIERS, RECIPES, TrainConfig


def _quick(data_dir, out, **kw):
    """A fast real run: 1 epoch at batch 2048 unless told otherwise."""
    return TrainConfig(
        recipe="default",
        epochs=kw.pop("epochs", 1),
        batch_size=kw.pop("batch_size", 2048),
        data_dir=data_dir,
        out=out,
        device="cpu",
        **kw,
    )


@pytest.mark.slow
def test_short_run_learns_well_above_chance(trained):
    _, result = trained
    assert result.test_accuracy > 0.90  # chance is 0.10
    assert [h["epoch"] for h in result.history] == [1]


@pytest.mark.slow
def test_checkpoint_and_metrics_contents(trained):
    out, result = trained
    obj = torch.load(out / CHECKPOINT_NAME, weights_only=True)
    assert set(obj["state_dict"]) == {f"fc{i}.{p}" for i in (1, 2, 3) for p in ("weight", "bias")}
    assert obj["normalization"] == {"mean": 0.1307, "std": 0.3081}
    assert obj["model_config"]["sizes"] == [784, 128, 64, 10]
    assert obj["metrics"]["test_accuracy"] == pytest.approx(result.test_accuracy)
    metrics = json.loads((out / METRICS_NAME).read_text())
    for key in ("test_accuracy", "epochs", "train_seconds", "recipe", "device", "seed", "history"):
        assert key in metrics
    assert 0 < metrics["test_accuracy"] <= 1 and metrics["recipe"] == "default" and metrics["device"] == "cpu"
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))


def test_checkpoint_round_trip_gives_identical_outputs(release, tmp_path):
    out = release
    loaded = load_model(out / CHECKPOINT_NAME)
    x = torch.rand(5, 1, 28, 28)
    save_checkpoint(
        tmp_path / "again.pt",
        loaded.net,
        loaded.normalization,
        recipe=loaded.recipe,
        config={},
        metrics=loaded.metrics,
    )
    again = load_model(tmp_path / "again.pt")
    assert torch.equal(loaded.net(x), again.net(x))
    assert again.normalization == loaded.normalization


@pytest.mark.slow
def test_same_seed_same_weights_and_other_seed_differs(data_dir, tmp_path):
    a = load_model(train(_quick(data_dir, tmp_path / "a", seed=3)).checkpoint).net.state_dict()
    b = load_model(train(_quick(data_dir, tmp_path / "b", seed=3)).checkpoint).net.state_dict()
    c = load_model(train(_quick(data_dir, tmp_path / "c", seed=4)).checkpoint).net.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["fc1.weight"], c["fc1.weight"])


@pytest.mark.slow
def test_resume_continues_to_the_same_weights(data_dir, tmp_path):
    full = train(_quick(data_dir, tmp_path / "full", epochs=2))

    def stop_after_first(record):
        if record["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted, match="the last finished epoch is in"):
        train(_quick(data_dir, tmp_path / "cut", epochs=2), on_epoch=stop_after_first)
    resumed = train(
        _quick(data_dir, tmp_path / "cut", epochs=None, resume=tmp_path / "cut" / CHECKPOINT_NAME)
    )
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    a = load_model(full.checkpoint).net.state_dict()
    b = load_model(resumed.checkpoint).net.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_resume_keeps_the_saved_run_and_refuses_to_change_it(data_dir, tmp_path):
    done = train(_quick(data_dir, tmp_path, epochs=1))
    ckpt = tmp_path / CHECKPOINT_NAME
    with pytest.raises(UsageError, match="already finished all 1 epochs"):
        train(_quick(data_dir, tmp_path, epochs=None, resume=ckpt))
    with pytest.raises(UsageError, match="--epochs 3 differs from the resumed run's 1"):
        train(_quick(data_dir, tmp_path, epochs=3, resume=ckpt))
    with pytest.raises(UsageError, match="--batch-size 64 differs"):
        train(_quick(data_dir, tmp_path, epochs=None, batch_size=64, resume=ckpt))
    with pytest.raises(UsageError, match="^--resume checkpoint holds the mlp network; pass --arch mlp$"):
        train(_quick(data_dir, tmp_path, epochs=None, arch="cnn", resume=ckpt))
    assert done.history[-1]["epoch"] == 1


@pytest.mark.slow
def test_cnn_trains_exports_and_is_proven_by_every_row_that_can_run_it(data_dir, tmp_path, monkeypatch):
    """--arch cnn: the small CNN, trained with its background class, its checkpoint and metadata say so,
    every default row but C's holds it and verify proves them all; the C rows refuse it in one line."""
    seen = []
    monkeypatch.setattr(
        loop, "background_loss", lambda logits: seen.append(logits.shape) or background_loss(logits)
    )
    monkeypatch.setattr(
        loop, "flat_loss", lambda logits: pytest.fail("the CNN trained towards a flat softmax")
    )
    result = train(_quick(data_dir, tmp_path, arch="cnn"))
    assert seen and all(shape[1] == 11 for shape in seen)
    loaded = load_model(result.checkpoint)
    assert isinstance(loaded.net, SmallCNN) and loaded.arch == Arch.CNN and result.test_accuracy > 0.9
    assert loaded.net.background and loaded.raw["model_config"]["sizes"] == [1568, 128, 11]
    assert (
        loaded.raw["config"]["recipe"]["outliers"] | ARCH_OUTLIERS[Arch.CNN]
        == loaded.raw["config"]["recipe"]["outliers"]
    )
    models = str(tmp_path / "m")
    proc = cli("export", "--checkpoint", str(result.checkpoint), "--out", models, "--quantize")
    assert proc.returncode == 0, proc.stderr
    assert "left out c, c_int8: takes the mlp network only, not a cnn" in proc.stderr
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["metadata"]["arch"] == "cnn" and "c" not in [a["format"] for a in manifest["artifacts"]]
    proc = cli("verify", "--models", models, "--require-all")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = cli("export", "--checkpoint", str(result.checkpoint), "--out", models, "--formats", "c")
    assert (proc.returncode, proc.stderr.strip()) == (
        2,
        "error: --formats c: takes the mlp network only, not a cnn",
    )


def test_cnn_checkpoint_round_trip_and_its_hand_drawn_material(tmp_path):
    net = SmallCNN().eval()
    save_checkpoint(tmp_path / "cnn.pt", net, TUTORIAL_NORMALIZATION, recipe="default", config={}, metrics={})
    loaded = load_model(tmp_path / "cnn.pt")
    x = torch.rand(3, 1, 28, 28)
    assert loaded.arch == Arch.CNN and torch.equal(loaded.net(x), net(x))
    assert loaded.raw["model_config"]["arch"] == "SmallCNN"
    assert load_model(REPO / "models" / CHECKPOINT_NAME).arch == Arch.MLP  # written before --arch
    mlp, cnn = TrainConfig(out=tmp_path), TrainConfig(out=tmp_path, arch="cnn")
    assert mlp.resolved == RECIPES["default"] and mlp.describe()["arch"] == "mlp"
    assert cnn.resolved.outliers.hand_drawn == ARCH_OUTLIERS[Arch.CNN]["hand_drawn"] > 0
    assert cnn.resolved.outliers.background and not mlp.resolved.outliers.background
    # the teacher's soft targets are ten classes: a distilled CNN keeps the flat softmax
    assert not TrainConfig(out=tmp_path, arch="cnn", recipe="distill").resolved.outliers.background


def test_a_background_class_folds_into_the_contracts_ten_logits(tmp_path):
    """The CNN's 11th output ("not a digit") trains as a class and deploys folded: softmax of the 10
    folded logits = p_digit + p_background / 10, so a sure background reads flat and is rejected by the
    same max-softmax rule; its checkpoint round-trips; a flat-softmax CNN's old checkpoint still loads."""
    torch.manual_seed(0)
    net = build_net("cnn", background=True)
    x = torch.rand(5, 1, 28, 28)
    raw = net.train()(x)
    folded = net.eval()(x)
    assert raw.shape == (5, 11) and folded.shape == (5, 10)
    p = torch.softmax(raw, 1)
    assert torch.allclose(torch.softmax(folded, 1), p[:, :10] + p[:, 10:] / 10, atol=1e-6)
    sure = fold_background(torch.tensor([[0.0] * 10 + [200.0], [50.0] + [0.0] * 10]))
    assert torch.isfinite(sure).all()
    assert torch.allclose(torch.softmax(sure, 1)[0], torch.full((10,), 0.1))
    assert torch.softmax(sure, 1)[1, 0] > 0.999
    peaked = torch.tensor([[0.0] * 10 + [9.0], [9.0] + [0.0] * 10])
    assert background_loss(peaked[:1]) < 0.01 < 5 < background_loss(peaked[1:])  # its target is class 10
    save_checkpoint(tmp_path / "bg.pt", net, TUTORIAL_NORMALIZATION, recipe="default", config={}, metrics={})
    loaded = load_model(tmp_path / "bg.pt")
    assert loaded.net.background and loaded.raw["model_config"]["background"] is True
    assert torch.equal(loaded.net(x), folded)
    save_checkpoint(
        tmp_path / "flat.pt", SmallCNN(), TUTORIAL_NORMALIZATION, recipe="default", config={}, metrics={}
    )
    assert not load_model(tmp_path / "flat.pt").net.background
    with pytest.raises(UsageError, match="^the mlp network has no background output$"):
        build_net("mlp", background=True)


def test_outlier_material_is_built_once_per_process_and_shared_read_only(test_split):
    from edgedigits.train import outliers

    digits, test = test_split.images[:300], test_split.images[300:400]
    first = outliers.outlier_material(digits, test, 11, bank=40, renderings=30)
    again = outliers.outlier_material(digits.copy(), test.copy(), 11, bank=40, renderings=30)
    assert again is first  # the same digits, seed and sizes: built once
    assert [len(a) for a in (first.picked, first.renderings, first.bank, first.held_back)] == [
        30,
        30,
        40,
        2000,
    ]
    assert len(first.rendered_test) == 100
    arrays = (first.picked, first.renderings, first.bank, first.held_back, first.rendered_test)
    assert not any(a.flags.writeable for a in arrays)
    fresh = outliers._build(digits, test, 11, 40, 30)  # what the cache stands for: the pure build
    assert all(
        np.array_equal(a, b)
        for a, b in zip(
            arrays,
            (fresh.picked, fresh.renderings, fresh.bank, fresh.held_back, fresh.rendered_test),
            strict=True,
        )
    )
    other = outliers.outlier_material(digits, test, 12, bank=40, renderings=30)
    assert other is not first and not np.array_equal(other.bank, first.bank)
    changed = digits.copy()
    changed[0, 0, 0] ^= 1
    assert outliers.outlier_material(changed, test, 11, bank=40, renderings=30) is not first


def test_tutorial_state_dict_loads(tmp_path):
    net = SimpleNN()
    torch.save(net.state_dict(), tmp_path / "tutorial.pt")
    loaded = load_model(tmp_path / "tutorial.pt")
    assert loaded.normalization is None and loaded.recipe == "external"
    x = torch.rand(3, 784)
    assert torch.equal(loaded.net(x), net.eval()(x))


def test_seed_recipe_is_the_tutorial():
    seed = RECIPES["seed"]
    assert (seed.epochs, seed.batch_size, seed.lr, seed.optimizer, seed.momentum) == (5, 64, 0.01, "sgd", 0.0)
    assert seed.normalization == (TUTORIAL_NORMALIZATION.mean, TUTORIAL_NORMALIZATION.std)
    assert seed.augment is None and seed.schedule == "constant"


@pytest.mark.parametrize(
    ("blob", "message"),
    [(b"", "not a readable"), (b"PK\x03\x04garbage", "not a readable")],
)
def test_corrupt_checkpoints_are_refused(tmp_path, blob, message):
    (tmp_path / "bad.pt").write_bytes(blob)
    with pytest.raises(CheckpointError, match=message):
        load_model(tmp_path / "bad.pt")


def test_truncated_checkpoint_is_refused(release, tmp_path):
    out = release
    blob = (out / CHECKPOINT_NAME).read_bytes()
    (tmp_path / "cut.pt").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_model(tmp_path / "cut.pt")


def test_pickled_code_is_never_loaded(tmp_path):
    torch.save({"when": datetime.date(2020, 1, 1)}, tmp_path / "evil.pt")  # needs a non-tensor global
    with pytest.raises(CheckpointError, match="not a safe checkpoint"):
        load_model(tmp_path / "evil.pt")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c.pop("normalization"),
        lambda c: c.update(state_dict=[1, 2]),
        lambda c: c.update(normalization={"mean": 0.1, "std": 0.0}),
    ],
)
def test_damaged_checkpoint_structure_is_refused(release, tmp_path, mutate):
    obj = torch.load(release / CHECKPOINT_NAME, weights_only=True)
    mutate(obj)
    torch.save(obj, tmp_path / "damaged.pt")
    with pytest.raises(CheckpointError, match="damaged checkpoint|do not fit"):
        load_model(tmp_path / "damaged.pt")


def test_resuming_a_cnn_run_from_before_the_background_class_continues_it_flat(tmp_path):
    config = TrainConfig(out=tmp_path, arch="cnn")
    saved = tmp_path / "flat.pt"
    state = {"epoch": 1}
    save_checkpoint(
        saved,
        SmallCNN(),
        TUTORIAL_NORMALIZATION,
        recipe="default",
        config=config.describe(),
        metrics={},
        train_state=state,
    )
    resumed = _load_resume(TrainConfig(out=tmp_path, arch="cnn", resume=saved))
    assert config.resolved.outliers.background and not resumed.recipe.outliers.background
    save_checkpoint(
        saved,
        SmallCNN(background=True),
        TUTORIAL_NORMALIZATION,
        recipe="default",
        config=config.describe(),
        metrics={},
        train_state=state,
    )
    assert _load_resume(TrainConfig(out=tmp_path, arch="cnn", resume=saved)).recipe.outliers.background


@pytest.mark.parametrize(
    ("net", "message"),
    [
        (SimpleNN(), r"do not fit SimpleNN \(784-128-64-10\): the mlp network has no background output$"),
        (SmallCNN(), r"1568-128-11, background\)"),
    ],
)
def test_a_forged_background_claim_is_refused_in_one_line(tmp_path, net, message):
    save_checkpoint(
        tmp_path / "forged.pt", net, TUTORIAL_NORMALIZATION, recipe="default", config={}, metrics={}
    )
    obj = torch.load(tmp_path / "forged.pt", weights_only=True)
    obj["model_config"]["background"] = True
    torch.save(obj, tmp_path / "forged.pt")
    with pytest.raises(CheckpointError, match=message):
        load_model(tmp_path / "forged.pt")


def test_wrong_shapes_are_refused(tmp_path):
    torch.save({"fc1.weight": torch.zeros(3, 3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="do not fit SimpleNN"):
        load_model(tmp_path / "other.pt")


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"epochs": 0}, "--epochs"),
        ({"batch_size": -1}, "--batch-size"),
        ({"lr": 0.0}, "--lr"),
        ({"device": "tpu"}, "^--device must be one of auto, cpu, cuda, got 'tpu'$"),
        ({"recipe": "fast"}, "^--recipe must be one of default, distill, seed, got 'fast'$"),
        ({"arch": "rnn"}, "^--arch must be one of mlp, cnn, got 'rnn'$"),
        ({"device": None}, "^--device must be one of auto, cpu, cuda, got None$"),
        ({"seed": -1}, "--seed"),
    ],
)
def test_bad_config_values(tmp_path, kw, message):
    with pytest.raises(UsageError, match=message):
        TrainConfig(out=tmp_path, **kw)


def test_recipe_and_device_are_choices_given_as_members_or_values(tmp_path):
    by_value = TrainConfig(recipe="seed", device="cpu", out=tmp_path)
    by_member = TrainConfig(recipe=RecipeName.SEED, device=Device.CPU, out=tmp_path)
    assert by_value == by_member and by_value.recipe is RecipeName.SEED and by_value.device is Device.CPU
    assert by_value.resolved == RECIPES["seed"] and set(RECIPES) == set(RecipeName)
    assert f"{by_value.device}" == str(by_value.device) == "cpu"
    assert by_value.describe()["device"] == "cpu" and type(by_value.describe()["device"]) is str


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "edgedigits", "train", "--epochs", "-3", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: --epochs must be >= 1, got -3"


def test_cli_help_shows_every_option_with_its_default(monkeypatch):
    """Every TrainConfig field is a `train` option (a new field without one fails here), with its
    default and, for the choices, every value."""
    from dataclasses import fields

    monkeypatch.setenv("COLUMNS", "200")
    proc = cli("train", "--help")
    assert proc.returncode == 0
    options = {f"--{f.name.replace('_', '-')}" for f in fields(TrainConfig) if f.init} | {"--nproc"}
    assert {o for o in options if o not in proc.stdout} == set()
    assert "[default: default]" in proc.stdout and "[default: auto]" in proc.stdout
    assert "default|distill|seed" in proc.stdout and "auto|cpu|cuda" in proc.stdout  # the choices
    assert "[default: 1]" in proc.stdout  # --nproc
