"""One error family: the CLI turns any of these into a single actionable line and a non-zero exit."""


class EdgeDigitsError(Exception):
    """Base of every error a user can act on. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class UsageError(EdgeDigitsError):
    """A bad option or argument value (exit code 2, like a parse error)."""

    exit_code = 2


class DataError(EdgeDigitsError):
    """MNIST files are missing, truncated or not what they claim to be."""


class CheckpointError(EdgeDigitsError):
    """A checkpoint cannot be read, is of the wrong kind, or does not match the model."""


class ArtifactError(EdgeDigitsError):
    """An exported artifact is missing, corrupt, or does not match its manifest."""


class ParityError(EdgeDigitsError):
    """A backend's outputs disagree with the reference beyond its tolerance."""


class SourceError(EdgeDigitsError):
    """A camera, video, image or stream cannot be opened or read."""
