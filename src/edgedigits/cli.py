"""Command-line wiring only: parse options, import the heavy module inside the command, call it.

Any ``EdgeDigitsError`` becomes one ``error: ...`` line on stderr and the error's exit code.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Annotated

import typer

from edgedigits.errors import EdgeDigitsError

app = typer.Typer(
    help="Train the tutorial MNIST MLP, export it, prove backend parity, and read digits on the edge.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

DataDir = Annotated[
    Path | None,
    typer.Option(help="Folder holding MNIST/raw/ (default: $EDGEDIGITS_DATA, else ~/.cache/edgedigits/data)."),
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

    return wrapper


def _print_version(value: bool) -> None:
    if value:
        from edgedigits import __version__

        typer.echo(f"edgedigits {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Train the tutorial MNIST MLP, export it, prove backend parity, and read digits on the edge."""


@app.command()
@friendly_errors
def train(
    recipe: Annotated[str, typer.Option(help="Recipe: 'default' (tuned, >=98.5%) or 'seed' (the tutorial).")] = "default",
    epochs: Annotated[int | None, typer.Option(help="Epochs (default: the recipe's).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Batch size (default: the recipe's).")] = None,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate (default: the recipe's).")] = None,
    device: Annotated[str, typer.Option(help="auto (CUDA when available), cpu or cuda.")] = "auto",
    seed: Annotated[int, typer.Option(help="Random seed; same seed and device give the same weights.")] = 0,
    data_dir: DataDir = None,
    out: Annotated[Path, typer.Option(help="Folder for mnist_mlp.pt and train_metrics.json.")] = Path("models"),
    resume: Annotated[Path | None, typer.Option(help="Continue from this checkpoint's saved state.")] = None,
) -> None:
    """Train SimpleNN (784-128-64-10) on MNIST and write a checkpoint plus metrics."""
    from edgedigits.recipes import TrainConfig
    from edgedigits.training import train as run_training

    config = TrainConfig(recipe=recipe, epochs=epochs, batch_size=batch_size, lr=lr, device=device,
                         seed=seed, data_dir=data_dir, out=out, resume=resume)
    result = run_training(config)
    typer.echo(f"test accuracy {result.test_accuracy:.4f} in {result.train_seconds:.1f}s on {result.device}; "
               f"wrote {result.checkpoint}")


def main() -> None:
    app(prog_name="edgedigits")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
