"""The terminal view of a run: it observes the events (already masked) and prints them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.rule import Rule
from rich.text import Text

from ..events import (
    DocShown,
    Event,
    Invalid,
    Output,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
)
from ..state import RunState

RESULT_STYLES = {"ok": ("✓", "green"), "skipped": ("↷", "yellow")}


class TerminalDisplay:
    """Prints a run as it happens. ``unattended`` (--yes): a line per step started, no spinner,
    documentation blocks left out. With the run's ``state``, a resumed run's header says what
    the earlier sessions did."""

    def __init__(self, console: Console, *, state: RunState | None = None,
                 unattended: bool = False) -> None:
        self.console = console
        self.state = state
        self.unattended = unattended
        self._progress: Progress | None = None
        self._lock = threading.Lock()
        self._show: dict[type[Event], Callable[[TerminalDisplay, Any], None]] = {
            RunStarted: TerminalDisplay._run_started, StepStarted: TerminalDisplay._step_started,
            Output: TerminalDisplay._output, Invalid: TerminalDisplay._invalid,
            DocShown: TerminalDisplay._doc, StepFinished: TerminalDisplay._step_finished,
            RunFinished: TerminalDisplay._run_finished,
        }

    def __call__(self, event: Event) -> None:
        show = self._show.get(type(event))
        if show is not None:
            with self._lock:
                show(self, event)

    def pause(self) -> None:
        """Stop the spinner before a prompt takes the terminal."""
        with self._lock:
            self._stop_spinner()

    # -- the events -----------------------------------------------------------------------------

    def _run_started(self, event: RunStarted) -> None:
        self.console.print(Rule(Text(event.title, style="bold")))
        if event.description:
            self.console.print(Text(event.description.strip(), style="italic"))
        self.console.print(Text(event.path, style="dim"))
        if self.state is not None and self.state.segments:
            counts = ", ".join(f"{n} {s}" for s, n in self.state.counts.items())
            sessions = len(self.state.segments)
            self.console.print(Text(f"resuming run {event.run_id} ({sessions} earlier session"
                                    f"{'s' if sessions > 1 else ''}: {counts or 'nothing run'})",
                                    style="cyan"))
        for var in event.variables:
            line = Text(f"  {var.name} = ", style="cyan")
            line.append("(asked when needed)" if var.value is None else str(var.value))
            line.append(f"  ({var.source})", style="dim")
            self.console.print(line)

    def _step_started(self, event: StepStarted) -> None:
        if self.unattended:
            text = Text(f"▶ {event.index}. {event.title or event.step}", style="bold")
            if event.targets and event.targets != ("local",):
                text.append(f"  on {', '.join(event.targets)}", style="magenta")
            self.console.print(text)
            return
        if event.interactive or not self.console.is_terminal:
            return
        self._progress = Progress(SpinnerColumn(), TextColumn(f"running {event.step}"),
                                  TimeElapsedColumn(), console=self.console, transient=True)
        self._progress.add_task(event.step, total=None)
        self._progress.start()

    def _output(self, event: Output) -> None:
        prefix = f"{event.host} | " if event.host else ""
        style = "red" if event.stream == "stderr" else ""
        for line in event.text.splitlines():
            out = Text(prefix, style="magenta")
            out.append(line, style=style)
            self.console.print(out, soft_wrap=True)

    def _invalid(self, event: Invalid) -> None:
        self.console.print(Text(f"  {event.text}", style="yellow"))

    def _doc(self, event: DocShown) -> None:
        """Documentation blocks are shown, dimmed, never run (and not shown under --yes)."""
        code = event.code.rstrip()
        if self.unattended or not code:
            return
        self.console.print()
        self.console.print(Text(f"ℹ {event.title} (documentation, not run)", style="dim"))
        self.console.print(Text("  " + code.replace("\n", "\n  "), style="dim"))

    def _step_finished(self, event: StepFinished) -> None:
        self._stop_spinner()
        mark, style = RESULT_STYLES.get(event.status, ("✗", "red"))
        line = Text(f"{mark} {event.step} {event.status}", style=f"bold {style}")
        if event.exit_code is not None:
            line.append(f"  exit {event.exit_code}", style="dim")
        if event.duration_s is not None:
            line.append(f"  {event.duration_s:.2f}s", style="dim")
        if event.attempts > 1:
            line.append(f"  {event.attempts} attempts", style="dim")
        if event.reason:
            line.append(f"  ({event.reason})", style="dim")
        self.console.print(line)
        for host, result in event.hosts.items():
            self.console.print(Text(f"    {host}: {result.status} exit {result.exit_code}",
                                    style="dim"))

    def _run_finished(self, event: RunFinished) -> None:
        self._stop_spinner()
        summary = ", ".join(f"{count} {name}" for name, count in event.counts.items() if count)
        style = "bold green" if event.status == "ok" else "bold red"
        self.console.print()
        self.console.print(Text(f"Run {event.status}: {summary or 'nothing run'}", style=style))
        for item in event.open_items:
            self.console.print(Text(f"  open item: {item}", style="yellow"))
        if event.transcript:
            self.console.print(Text(f"transcript: {event.transcript}", style="dim"))

    def _stop_spinner(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
