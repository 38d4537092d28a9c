"""Command-line wiring only: parse options, import the heavy module inside the command, call it.

Any ``EdgeDigitsError`` becomes one ``error: ...`` line on stderr and the error's exit code.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from typer.core import TyperCommand

from edgedigits.core.choices import Arch, Device, Polarity, RecipeName
from edgedigits.core.contract import DEFAULT_OPSET
from edgedigits.core.errors import EdgeDigitsError

app = typer.Typer(
    help="Train the tutorial MNIST MLP, export it, prove backend parity, and read digits on the edge.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

DataDir = Annotated[
    Path | None,
    typer.Option(
        help="Folder holding MNIST/raw/ (default: $EDGEDIGITS_DATA, else ~/.cache/edgedigits/data)."
    ),
]


def friendly_errors(fn):
    """Turn the error family into one actionable line; Ctrl-C into exit 130."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except EdgeDigitsError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except OSError as exc:  # a full disk, a folder that vanished: say which file, not a traceback
            where = f" ({exc.filename})" if exc.filename else ""
            typer.echo(f"error: {exc.strerror or exc}{where}", err=True)
            raise typer.Exit(1) from None

    return wrapper


def _print_version(value: bool) -> None:
    if value:
        from edgedigits import __version__

        typer.echo(f"edgedigits {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Train the tutorial MNIST MLP, export it, prove backend parity, and read digits on the edge."""


@app.command()
@friendly_errors
def train(
    recipe: Annotated[
        RecipeName,
        typer.Option(
            help="Recipe: the tuned default (99.0%), distill (a CNN teacher's soft targets too) or seed "
            "(the PyTorch tutorial)."
        ),
    ] = RecipeName.DEFAULT,
    arch: Annotated[
        Arch,
        typer.Option(
            help="Network: the tutorial's MLP (784-128-64-10), or a small CNN that rejects more non-digits "
            "and costs about 1.5x the frame time; the C targets cannot run it."
        ),
    ] = Arch.MLP,
    epochs: Annotated[int | None, typer.Option(help="Epochs (default: the recipe's).")] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Batch size over all processes (default: the recipe's).")
    ] = None,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate (default: the recipe's).")] = None,
    device: Annotated[Device, typer.Option(help="Where to train; auto: CUDA when available.")] = Device.AUTO,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, device and --nproc: same weights.")] = 0,
    data_dir: DataDir = None,
    out: Annotated[Path, typer.Option(help="Folder for mnist_mlp.pt and train_metrics.json.")] = Path(
        "models"
    ),
    resume: Annotated[Path | None, typer.Option(help="Continue from this checkpoint's saved state.")] = None,
    teacher: Annotated[
        Path | None, typer.Option(help="distill: reuse this teacher checkpoint instead of training one.")
    ] = None,
    nproc: Annotated[
        int, typer.Option(help="Training processes (torchrun, DistributedDataParallel; gloo on CPU).")
    ] = 1,
    amp: Annotated[bool, typer.Option("--amp", help="bf16 mixed precision for the forward passes.")] = False,
) -> None:
    """Train SimpleNN (784-128-64-10), or --arch cnn, on MNIST and write a checkpoint plus metrics."""
    from edgedigits.train.distributed import check_nproc, this_process
    from edgedigits.train.loop import CHECKPOINT_NAME
    from edgedigits.train.recipes import TrainConfig

    config = TrainConfig(
        recipe=recipe,
        arch=arch,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        device=device,
        seed=seed,
        data_dir=data_dir,
        out=out,
        resume=resume,
        teacher=teacher,
        amp=amp,
    )
    check_nproc(nproc, config.device, config.resolved.batch_size)
    if nproc > 1:
        from edgedigits.train.distributed import launch

        launch(nproc, _train_argv(config), out / CHECKPOINT_NAME)
        return
    from edgedigits.train.loop import train as run_training

    result = run_training(config)  # Ctrl-C: training raises Interrupted with the resume hint
    if this_process().main:  # under torchrun, rank 0 speaks for the job
        typer.echo(
            f"test accuracy {result.test_accuracy:.4f} in {result.train_seconds:.1f}s on {result.device}; "
            f"wrote {result.checkpoint}"
        )


def _train_argv(config) -> list[str]:
    """The same training, as the command line each torchrun process is started with. Every field of
    TrainConfig is the ``train`` option of its name (a bool: a flag), so none is left behind."""
    from dataclasses import fields

    argv: list[str] = []
    for field in fields(config):
        value = getattr(config, field.name)
        flag = "--" + field.name.replace("_", "-")
        if not field.init or value is None or value is False:
            continue
        argv += [flag] if value is True else [flag, str(value)]
    return argv


@app.command()
@friendly_errors
def export(
    checkpoint: Annotated[Path, typer.Option(help="Checkpoint, or a tutorial SimpleNN state_dict.")] = Path(
        "models/mnist_mlp.pt"
    ),
    out: Annotated[Path, typer.Option(help="Folder for the artifacts and manifest.json.")] = Path("models"),
    formats: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated formats to write, e.g. onnx,executorch,c (default: every fp32 format "
            "whose runtime is installed, but web, the browser reader's folder, which is asked for by "
            "name; see `edgedigits formats`)."
        ),
    ] = None,
    quantize: Annotated[
        bool, typer.Option("--quantize", help="Also write the int8 formats of the default set.")
    ] = False,
    opset: Annotated[int, typer.Option(help="ONNX opset version (17-23).")] = DEFAULT_OPSET,
    normalization: Annotated[
        str | None,
        typer.Option(help="MEAN,STD for a bare state_dict, which does not carry it (default: 0.5,0.5)."),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Export to every format (ONNX, TorchScript, torch.export, ORT, OpenVINO, ExecuTorch, C; int8 with
    --quantize), staged and all-or-nothing, with a manifest."""
    from edgedigits.export.exporter import ExportConfig
    from edgedigits.export.exporter import export as run_export
    from edgedigits.train.model import Normalization

    config = ExportConfig(
        checkpoint=checkpoint,
        out=out,
        quantize=quantize,
        opset=opset,
        normalization=Normalization.parse(normalization) if normalization else None,
        formats=None if formats is None else tuple(f.strip() for f in formats.split(",") if f.strip()),
        data_dir=data_dir,
    )
    run_export(config, log=lambda line: typer.echo(line, err=True))


def _print_table(table, json_text: str | None) -> None:
    """JSON when asked; on a terminal, rich (colour, aligned); piped, plain text that stays stable."""
    if json_text is not None:
        typer.echo(json_text)
    elif sys.stdout.isatty():
        typer.echo(table.rich(width=shutil.get_terminal_size().columns))
    else:
        typer.echo(table.plain())


@app.command()
@friendly_errors
def verify(
    models: Annotated[Path, typer.Option(help="Folder holding manifest.json and the artifacts.")] = Path(
        "models"
    ),
    data_dir: DataDir = None,
    require_all: Annotated[
        bool,
        typer.Option("--require-all", help="Fail when any artifact's runtime is missing (CI, releases)."),
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Prove every artifact, run by its own runtime, gives the eager model's answers; exit 1 if not."""
    from edgedigits.proof.reference import load_reference
    from edgedigits.proof.verify import raise_on_failure, table, to_json
    from edgedigits.proof.verify import verify as run_verify

    checks = run_verify(load_reference(models, data_dir))
    _print_table(table(checks), to_json(checks) if json_output else None)
    raise_on_failure(checks, require_all)


@app.command()
@friendly_errors
def bench(
    models: Annotated[Path, typer.Option(help="Folder holding manifest.json and the artifacts.")] = Path(
        "models"
    ),
    data_dir: DataDir = None,
    runs: Annotated[
        int, typer.Option(min=10, help="Timed batch-1 runs per backend, after 50 warm-up runs.")
    ] = 500,
    json_output: Annotated[bool, typer.Option("--json", help="Print the table as JSON.")] = False,
) -> None:
    """Size, flash/RAM (C), accuracy, batch-1 latency and throughput per artifact, on one thread."""
    from edgedigits.proof.bench import bench as run_bench
    from edgedigits.proof.bench import table, to_json
    from edgedigits.proof.reference import load_reference

    rows = run_bench(load_reference(models, data_dir), runs)
    _print_table(table(rows), to_json(rows) if json_output else None)


@app.command()
@friendly_errors
def formats(
    json_output: Annotated[bool, typer.Option("--json", help="Print the table as JSON.")] = False,
) -> None:
    """Every export target: its files, what runs it, the pip extra, and whether it exports and runs here."""
    from edgedigits.core.targets import table, to_json

    _print_table(table(), to_json() if json_output else None)


@app.command()
@friendly_errors
def serve(
    folder: Annotated[
        Path,
        typer.Option(help="The web export's folder (edgedigits export --formats web --out build writes it)."),
    ] = Path("build/web"),
    host: Annotated[
        str,
        typer.Option(help="Address to listen on: 127.0.0.1 for this machine, 0.0.0.0 for phones on the LAN."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one).")] = 8000,
    cert: Annotated[
        Path | None, typer.Option(help="TLS certificate (PEM): phone browsers need https:// for the camera.")
    ] = None,
    key: Annotated[Path | None, typer.Option(help="The certificate's private key (PEM).")] = None,
) -> None:
    """Serve the browser reader read-only: open it on this machine or, with --host, on a phone."""
    from edgedigits.runtime.serve import ServeConfig, serve

    serve(ServeConfig(folder, host, port, cert, key), log=lambda s: typer.echo(s, err=True))


ModelPath = Annotated[
    Path | None,
    typer.Option(
        "--model",
        help="Model artifact for --backend (default: the ONNX release model shipped in the package).",
    ),
]
InkPolarity = Annotated[Polarity, typer.Option(help="Ink polarity (auto: decided per frame).")]
Backend = Annotated[
    str,
    typer.Option(
        help="Runtime for the model; one that does not run ONNX needs --model to its artifact "
        "(from edgedigits export)."
    ),
]


class RuntimeCommand(TyperCommand):
    """detect and webcam: ``--backend`` offers the runtime rows of the format table as they are when the
    command line is parsed (``registry.backends()``), in ``--help`` and in its check alike."""

    def parse_args(self, ctx, args):
        from edgedigits.core.registry import backends

        for param in self.params:
            if param.name == "backend":  # typer builds a Literal's check and help from the annotation
                choices = Literal[tuple(backends())]
                param.type_descriptor = dataclasses.replace(param.type_descriptor, annotation=choices)
                param._runtime_param = None  # the check, built from the descriptor when first needed
        return super().parse_args(ctx, args)


def _run_detect(options) -> None:
    """Exit codes: 0 at the input's end or on SIGTERM, 130 on Ctrl-C, 1 when a source did not come back
    within --reconnect-timeout (the summary line first, then the error line)."""
    from edgedigits.runtime.app import run_detect

    summary = run_detect(options, emit=typer.echo, log=lambda s: typer.echo(s, err=True))
    typer.echo(summary.line(), err=True)
    if summary.failure is not None:
        raise summary.failure
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


@app.command(cls=RuntimeCommand)
@friendly_errors
def detect(
    source: Annotated[
        str, typer.Option(help="Camera index, device path, video, image, folder of images, or URL.")
    ],
    model: ModelPath = None,
    backend: Backend = "onnxruntime",
    polarity: InkPolarity = Polarity.DARK_ON_LIGHT,
    json_lines: Annotated[bool, typer.Option("--json", help="One JSON object per frame per line.")] = False,
    output: Annotated[
        Path | None,
        typer.Option(help="Write the annotated image, video (.mp4/.avi) or folder of images here."),
    ] = None,
    display: Annotated[
        bool, typer.Option("--display/--no-display", help="Show a window (if a display exists).")
    ] = False,
    stabilize: Annotated[int, typer.Option(help="Frames a video label is voted over.")] = 7,
    max_frames: Annotated[int | None, typer.Option(help="Stop after this many frames.")] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Draw rejected marks (grey) and show the 28x28 crops.")
    ] = False,
    jsonl: Annotated[
        Path | None,
        typer.Option(help="Append the JSON lines to this file too (whole lines only, even when killed)."),
    ] = None,
    segment_seconds: Annotated[
        float | None,
        typer.Option(
            help="Record --output video in closed, playable segments of this length (NAME_00000.mp4, ...); "
            "0: one file. Default: 60 for cameras and streams, one file for video files."
        ),
    ] = None,
    reconnect: Annotated[
        bool | None,
        typer.Option(
            "--reconnect/--no-reconnect",
            help="Reopen a camera or stream whose frames stop. Default: on for cameras and streams.",
            show_default=False,
        ),
    ] = None,
    reconnect_timeout: Annotated[
        float | None,
        typer.Option(help="Give up (exit 1) when the source is not back after this many seconds."),
    ] = None,
) -> None:
    """Find and read handwritten digits in images, videos, streams or a camera (torch-free).

    SIGTERM and Ctrl-C finish the frame in hand, close the recording and print the summary (exit 0 and
    130)."""
    from edgedigits.runtime.app import DetectOptions
    from edgedigits.runtime.live import ReconnectOptions

    _run_detect(
        DetectOptions(
            source=source,
            model=model,
            backend=backend,
            polarity=polarity,
            json_lines=json_lines,
            output=output,
            display=display,
            debug=debug,
            stabilize_window=stabilize,
            max_frames=max_frames,
            jsonl=jsonl,
            segment_seconds=segment_seconds,
            reconnect=ReconnectOptions(enabled=reconnect, timeout_s=reconnect_timeout),
        )
    )


@app.command(cls=RuntimeCommand)
@friendly_errors
def webcam(
    camera: Annotated[str, typer.Option(help="Camera index or device path.")] = "0",
    model: ModelPath = None,
    backend: Backend = "onnxruntime",
    polarity: InkPolarity = Polarity.DARK_ON_LIGHT,
    debug: Annotated[bool, typer.Option("--debug", help="Also show the normalized 28x28 crops.")] = False,
    display: Annotated[bool, typer.Option("--display/--no-display", help="Show the live view.")] = True,
    snapshot_dir: Annotated[Path, typer.Option(help="Where the s key saves snapshots.")] = Path("."),
    max_frames: Annotated[int | None, typer.Option(help="Stop after this many frames.")] = None,
) -> None:
    """Live view: boxes, labels, numbers read and FPS. Keys: q/Esc quit, space pause, s snapshot."""
    from edgedigits.runtime.app import DetectOptions

    _run_detect(
        DetectOptions(
            source=camera,
            per_frame_lines=False,
            model=model,
            backend=backend,
            polarity=polarity,
            display=display,
            debug=debug,
            snapshot_dir=snapshot_dir,
            max_frames=max_frames,
        )
    )


@app.command()
@friendly_errors
def report(
    models: Annotated[
        Path, typer.Option(help="Folder holding manifest.json, the artifacts and metrics.")
    ] = Path("models"),
    data_dir: DataDir = None,
    out: Annotated[Path, typer.Option(help="Folder for index.html and its PNGs.")] = Path("reports"),
    bench_runs: Annotated[
        int, typer.Option(min=10, help="Timed batch-1 runs per backend for the speed table.")
    ] = 200,
) -> None:
    """Write an HTML report: training curves, confusion, misclassified digits, parity, speed, scenes."""
    from edgedigits.evaluation.report import ReportConfig, build

    target = build(
        ReportConfig(models=models, data_dir=data_dir, out=out, bench_runs=bench_runs),
        log=lambda s: typer.echo(s, err=True),
    )
    typer.echo(f"wrote {target}")


def main() -> None:
    # torch's C++ side prints deprecation notices for quantized tensors straight to stderr (the Python
    # warnings filters cannot reach them); keep them out of the CLI unless the user asked for a level.
    os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")
    try:
        code = app(prog_name="edgedigits", standalone_mode=False)
    except typer.TyperException as exc:  # a wrong type, a missing option, an unknown command: one line
        typer.echo(f"error: {exc.format_message()} (see: edgedigits {_command_of(exc)}--help)", err=True)
        code = exc.exit_code
    except typer.Abort:
        typer.echo("interrupted", err=True)
        code = 130
    sys.exit(code if isinstance(code, int) else 0)


def _command_of(exc: typer.TyperException) -> str:
    ctx = getattr(exc, "ctx", None)
    return f"{ctx.info_name} " if ctx is not None and ctx.parent is not None else ""


if __name__ == "__main__":  # pragma: no cover
    main()
