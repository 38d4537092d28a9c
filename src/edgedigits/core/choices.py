"""The choices options offer, one Enum each: typer validates them and ``--help`` lists them, and the
library checks the same values (torch-free and light, so the CLI imports them at the top)."""

from __future__ import annotations

from enum import Enum

from edgedigits.core.errors import UsageError


class Polarity(str, Enum):
    """How ink and paper differ in a frame; ``auto`` decides per frame (``resolve_polarity``)."""

    DARK_ON_LIGHT = "dark-on-light"
    LIGHT_ON_DARK = "light-on-dark"
    AUTO = "auto"

    def __str__(self) -> str:  # the value, on every Python (3.12 changed what format() shows)
        return self.value


def check_polarity(polarity: str) -> Polarity:
    """The ``Polarity`` a string names; anything else is a one-line usage error."""
    try:
        return Polarity(polarity)
    except ValueError:
        names = ", ".join(p.value for p in Polarity)
        raise UsageError(f"polarity must be one of {names}, got {polarity!r}") from None
