"""One error family: the CLI turns any of these into a single actionable line and a non-zero exit."""

from __future__ import annotations


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message (library errors can be pages long), or its type."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__


class EdgeDigitsError(Exception):
    """Base of every error a user can act on. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class UsageError(EdgeDigitsError):
    """A bad option or argument value (exit code 2, like a parse error)."""

    exit_code = 2


class Interrupted(EdgeDigitsError):
    """The user pressed Ctrl-C; the message says what was kept (exit code 130, like a shell)."""

    exit_code = 130

    @classmethod
    def at(cls, checkpoint: object | None) -> Interrupted:
        """Interrupted, with the checkpoint to resume from (None: no epoch finished)."""
        if checkpoint is None:
            return cls("interrupted")
        return cls(
            f"interrupted; the last finished epoch is in {checkpoint}, continue with --resume {checkpoint}"
        )


class DataError(EdgeDigitsError):
    """MNIST files are missing, truncated or not what they claim to be."""


class CheckpointError(EdgeDigitsError):
    """A checkpoint cannot be read, is of the wrong kind, or does not match the model."""


class ArtifactError(EdgeDigitsError):
    """An exported artifact is missing, corrupt, or does not match its manifest."""


class MissingRuntime(EdgeDigitsError):
    """A runtime or tool a step needs is not installed here; the message says what to install."""


class LaunchFailed(EdgeDigitsError):
    """A process of a multi-process training run died; torchrun stopped the others."""


class ParityError(EdgeDigitsError):
    """A backend's outputs disagree with the reference beyond its tolerance."""


class FrameError(EdgeDigitsError, ValueError):
    """A frame handed to the runtime is not an image it can read (wrong dtype or shape)."""


class SourceError(EdgeDigitsError):
    """A camera, video, image or stream cannot be opened or read."""
