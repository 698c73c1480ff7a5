"""`python -m runbook_engine` runs the CLI."""

from .cli import main

main()
