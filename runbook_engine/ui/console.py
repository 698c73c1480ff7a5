"""The rich Console factory (ui is the only package importing rich)."""

from __future__ import annotations

import os
from typing import TextIO

from rich.console import Console


def make_console(file: TextIO | None = None, *, stderr: bool = False) -> Console:
    """A Console that honours NO_COLOR and never wraps code lines mid-word."""
    return Console(
        file=file,
        stderr=stderr,
        highlight=False,
        no_color=bool(os.environ.get("NO_COLOR")),
        soft_wrap=False,
    )
