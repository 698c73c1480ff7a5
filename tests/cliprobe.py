"""Run the CLI in a fresh interpreter, then look inside it (what it imported, compiled)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_PROBE = """import sys
from runbook_engine.cli import main
expression, sys.argv = sys.argv[1], ['runbook', *sys.argv[2:]]
try:
    main()
except SystemExit:
    pass
print('PROBE', eval(expression))
"""


def after_cli(args: list[str], expression: str) -> tuple[str, str]:
    """(what the CLI printed, ``str`` of ``expression`` evaluated after it in that process)."""
    done = subprocess.run([sys.executable, "-c", _PROBE, expression, *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=60, check=True)
    out, _, value = done.stdout.rpartition("PROBE ")
    return out + done.stderr, value.strip()
