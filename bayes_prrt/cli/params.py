"""Option types shared by the commands."""

from __future__ import annotations

import click

from ..errors import BayesPrrtError
from ..seeds import SEED_MAX


class OptionError(BayesPrrtError):
    """A command-line value that cannot be used; like the package's other errors, one line, exit 2."""


class Seed(click.IntRange):
    """A random seed, a whole number from 0 to SEED_MAX; anything else is an OptionError (one line)
    instead of click's usage block."""

    def __init__(self) -> None:
        super().__init__(0, SEED_MAX)

    def convert(self, value, param, ctx):
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            raise OptionError(f"--seed '{value}' is not a whole number from 0 to {SEED_MAX}") from None


SEED = Seed()
