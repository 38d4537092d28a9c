"""The choices options offer, one Enum each: typer validates them and ``--help`` lists them, and the
library checks the same values (torch-free and light, so the CLI imports them at the top)."""

from __future__ import annotations

from enum import Enum

from edgedigits.core.errors import UsageError


class Choice(str, Enum):
    """A closed set of option values, listed once: typer shows and checks them (``[auto|cpu|cuda]``),
    the library accepts a member or its value. ``str()`` and f-strings give the value."""

    def __str__(self) -> str:  # the value, on every Python (3.12 changed what format() shows)
        return self.value

    @classmethod
    def of(cls, value: object, flag: str):
        """``value`` as a member of this choice, or a one-line UsageError naming ``flag``."""
        try:
            return cls(value)
        except ValueError:
            choices = ", ".join(member.value for member in cls)
            raise UsageError(f"{flag} must be one of {choices}, got {value!r}") from None


class Polarity(Choice):
    """How ink and paper differ in a frame; ``auto`` decides per frame (``resolve_polarity``)."""

    DARK_ON_LIGHT = "dark-on-light"
    LIGHT_ON_DARK = "light-on-dark"
    AUTO = "auto"


def check_polarity(polarity: object) -> Polarity:
    """The ``Polarity`` a string names; anything else is a one-line usage error."""
    return Polarity.of(polarity, "polarity")


class Device(Choice):
    AUTO = "auto"  # CUDA when available
    CPU = "cpu"
    CUDA = "cuda"


class Arch(Choice):
    """The network ``train`` trains: the tutorial's MLP, or a small CNN (the distill teacher's shape)."""

    MLP = "mlp"
    CNN = "cnn"


class RecipeName(Choice):
    DEFAULT = "default"
    DISTILL = "distill"
    SEED = "seed"
