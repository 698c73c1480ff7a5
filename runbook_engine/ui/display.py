"""The terminal view of a run: it observes the events (already masked) and prints them.

Each event becomes a few lines of styled text written straight to the console's file (ANSI colours
on a colour terminal, plain otherwise): rich renders only the header rule and the spinner, so a
run of many short steps is not slowed down by its own display. The writing is done by a thread
of its own (ScreenWriter), so a step's output is shown while the next chunk is read and recorded.
On a terminal every line shows at once; into a pipe (CI, a log) lines are flushed at most FLUSH_S
late, not one write per line."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.rule import Rule
from rich.text import Text

if TYPE_CHECKING:  # rich.progress is imported for a spinner only (~10 ms of an unattended start)
    from rich.progress import Progress

from ..events import (
    DocShown,
    Event,
    Invalid,
    Output,
    OutputChecked,
    OutputSpilled,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
)
from ..folding import fold_names, fold_rows
from ..stamps import spell_elapsed
from ..state import RunState
from .fleet import HostOutputs, grid_lines
from .highlight import Styled, sgr
from .screen import ScreenWriter

RESULT_STYLES = {"ok": ("✓", "green"), "skipped": ("↷", "yellow")}
#: output keeps the terminal's own colour; stderr is told apart without red (kept for failures)
STDERR_STYLE = "yellow"
FLUSH_S = 0.1  # how late a line written into a pipe may show


class TerminalDisplay:
    """Prints a run as it happens. ``unattended`` (--yes): a line per step started, no spinner,
    documentation blocks left out. With the run's ``state``, a resumed run's header says what
    the earlier sessions did, and a fleet run ends with its host x step grid. ``fold``: a step
    on several hosts shows its output folded by host when an attempt ends (else streamed, each
    line prefixed by its host)."""

    def __init__(self, console: Console, *, state: RunState | None = None,
                 unattended: bool = False, fold: bool = True) -> None:
        self.console = console
        self.state = state
        self.unattended = unattended
        self.fold = fold
        self._fleet: HostOutputs | None = None  # the fan-out attempt being folded
        self.colour = console.is_terminal and not console.no_color
        self._terminal = console.is_terminal
        # written from a thread of its own: a slow terminal does not hold up the step's reading
        self._screen = ScreenWriter(console.file, terminal=self._terminal, flush_s=FLUSH_S)
        self._progress: Progress | None = None
        # (host, stream) of output whose last line is not finished yet, else None
        self._open: tuple[str | None, str] | None = None
        self._on_terminal: set[str] = set()  # steps that have the terminal: not echoed again
        self._lock = threading.Lock()
        self._show: dict[type[Event], Callable[[TerminalDisplay, Any], None]] = {
            RunStarted: TerminalDisplay._run_started, StepStarted: TerminalDisplay._step_started,
            Output: TerminalDisplay._output, OutputSpilled: TerminalDisplay._spilled,
            Invalid: TerminalDisplay._invalid, OutputChecked: TerminalDisplay._output_checked,
            DocShown: TerminalDisplay._doc, StepFinished: TerminalDisplay._step_finished,
            RunFinished: TerminalDisplay._run_finished,
        }

    def __call__(self, event: Event) -> None:
        show = self._show.get(type(event))
        if show is not None:
            with self._lock:
                show(self, event)
                if self._terminal and type(event) is not Output:
                    self._screen.drain()  # on a terminal all but output shows at once, as before

    def pause(self) -> None:
        """Stop the spinner (and show what is pending) before a prompt takes the terminal."""
        with self._lock:
            self._stop_spinner()
            self._folded()
            self._screen.drain()

    def close(self) -> None:
        """Show what is pending: the run is over (or ended by an error about to be printed)."""
        with self._lock:
            self._stop_spinner()
            self._screen.drain()

    def _write(self, *lines: Styled) -> None:
        if self._open is not None:  # output left a line unfinished: our lines start on their own
            self._open = None
            self._screen.write("\n")
        if self._progress is not None:  # the spinner owns the bottom line: go through rich
            self._screen.drain()
            for line in lines:
                self.console.print(line.to_rich(), soft_wrap=True)
            return
        self._screen.write("".join((line.ansi() if self.colour else line.plain) + "\n"
                                   for line in lines))

    # -- the events -----------------------------------------------------------------------------

    def _run_started(self, event: RunStarted) -> None:
        self._screen.drain()
        self.console.print(Rule(Text(event.title, style="bold")))
        lines = []
        if event.description:
            lines.append(Styled(textwrap.fill(" ".join(event.description.split()),
                                              self.console.width), "italic"))
        lines.append(Styled(event.path, "dim"))
        if self.state is not None and self.state.segments:
            counts = ", ".join(f"{n} {s}" for s, n in self.state.counts.items())
            sessions = len(self.state.segments)
            lines.append(Styled(f"resuming run {event.run_id} ({sessions} earlier session"
                                f"{'s' if sessions > 1 else ''}: {counts or 'nothing run'})",
                                "cyan"))
        for var in event.variables:
            line = Styled(f"  {var.name} = ", "cyan")
            line.append("(asked when needed)" if var.value is None else str(var.value))
            lines.append(line.append(f"  ({var.source})", "dim"))
        self._write(*lines)

    def _folded(self) -> None:
        """The fan-out attempt that ended, folded by host (ClusterShell's ``clubak -b``)."""
        fleet, self._fleet = self._fleet, None
        if fleet is not None:
            self._write(*fleet.folded())

    def _step_started(self, event: StepStarted) -> None:
        self._stop_spinner()
        self._folded()
        if event.interactive:
            self._on_terminal.add(event.step)
        if self.fold and len(event.running_on) > 1 and not event.interactive:
            self._fleet = HostOutputs(event.step, event.running_on)
        if self.unattended:
            line = Styled(f"▶ {event.index}. {event.title or event.step}", "bold")
            if event.targets and event.targets != ("local",):
                line.append(f"  on {fold_names(event.running_on)}", "dim")
                if event.hosts:  # a retry where it failed, or a resume where it did not end well
                    line.append(f" ({len(event.hosts)} of {len(event.targets)} hosts)", "dim")
            self._write(line)
            return
        if event.interactive or not self.console.is_terminal or self.console.is_dumb_terminal:
            return  # the step has the terminal, or the terminal cannot draw a spinner
        self._screen.drain()
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(SpinnerColumn(), TextColumn(f"running {event.step}"),
                                  TimeElapsedColumn(), console=self.console, transient=True)
        self._progress.add_task(event.step, total=None)
        self._progress.start()

    def _output(self, event: Output) -> None:
        """A chunk of output is written as it came, in one write: styled with a few string
        replaces, not line by line (a step's output must not be slowed by its display)."""
        if event.step in self._on_terminal:
            return  # a remote pty's output: the terminal showed it as it came (recorded only)
        if self._fleet is not None and event.host and event.step == self._fleet.step:
            self._fleet.add(event.host, event.stream, event.text)  # shown folded at its end
            return
        self._stop_spinner()  # output flowing says the step is alive; rich would redraw per line
        key = (event.host, event.stream)
        continuing = self._open == key
        if self._open is not None and not continuing:
            self._screen.write("\n")  # another stream interrupts an unfinished line
        text = event.text
        self._open = None if text.endswith("\n") else key
        prefix = f"{event.host} | " if event.host else ""
        style = STDERR_STYLE if event.stream == "stderr" else ""
        self._screen.write(shape_output(text, prefix, style, self.colour, continuing))

    def _output_checked(self, event: OutputChecked) -> None:
        """Says the output matched what was expected, or shows how it differs."""
        self._stop_spinner()
        self._folded()
        self._write(*checked_lines(event))

    def _spilled(self, event: OutputSpilled) -> None:
        """Seen when following a transcript: the rest of this output is in a side file."""
        prefix = f"{event.host} | " if event.host else ""
        self._write(Styled(f"{prefix}… the rest of {event.stream} goes to {event.file}", "dim"))

    def _invalid(self, event: Invalid) -> None:
        self._write(Styled(f"  {event.text}", "yellow"))

    def _doc(self, event: DocShown) -> None:
        """Documentation blocks are shown, dimmed, never run (and not shown under --yes)."""
        code = event.code.rstrip()
        if self.unattended or not code:
            return
        self._write(Styled(), Styled(f"ℹ {event.title} (documentation, not run)", "dim"),
                    Styled("  " + code.replace("\n", "\n  "), "dim"))

    def _step_finished(self, event: StepFinished) -> None:
        self._stop_spinner()
        self._folded()
        if event.step in self._on_terminal:  # the step may leave the cursor mid-line (^C)
            self._on_terminal.discard(event.step)
            self._write(Styled())
        mark, style = RESULT_STYLES.get(event.status, ("✗", "red"))
        line = Styled(f"{mark} {event.step} {event.status}", f"bold {style}")
        if event.exit_code is not None:
            line.append(f"  exit {event.exit_code}", "dim")
        if event.duration_s and event.exit_code is not None:  # not for what never ran
            line.append(f"  {spell_elapsed(event.duration_s)}", "dim")
        if event.attempts > 1:
            line.append(f"  {event.attempts} attempts", "dim")
        reason = event.reason
        if event.exit_code is not None:  # said already: "exit 2"
            reason = reason.removeprefix(f"exit code {event.exit_code}").lstrip("; ")
        if reason:
            line.append(f"  ({reason})", "dim")
        rows = fold_rows({host: (r.status, str(r.exit_code)) for host, r in event.hosts.items()})
        self._write(line, *(Styled(f"    {hosts}: {status} exit {code}", "dim")
                            for hosts, (status, code) in rows))

    def _run_finished(self, event: RunFinished) -> None:
        self._stop_spinner()
        self._folded()
        summary = ", ".join(f"{count} {name}" for name, count in event.counts.items() if count)
        style = "bold green" if event.status == "ok" else "bold red"
        grid = grid_lines(self.state) if self.state is not None else []
        lines = [Styled(), *grid, *([Styled()] if grid else []),
                 Styled(f"Run {event.status}: {summary or 'nothing run'}", style)]
        lines += [Styled(f"  open item: {item}", "yellow") for item in event.open_items]
        drift = [step for step in self.state.drift if self.state.status_of(step) == "ok"] \
            if self.state is not None else []  # a failed step says so already
        if drift:
            lines.append(Styled(f"  output differs from what was expected: {', '.join(drift)}",
                                "yellow"))
        if event.transcript:
            lines.append(Styled(f"transcript: {event.transcript}", "dim"))
        self._write(*lines)
        self._screen.drain()

    def _stop_spinner(self) -> None:
        if self._progress is not None:
            self._screen.drain()
            self._progress.stop()
            self._progress = None


def shape_output(text: str, prefix: str, style: str, colour: bool, continuing: bool) -> str:
    """Output ready to write: each line behind ``prefix`` (a host's), in ``style`` on a colour
    terminal; ``continuing`` when the first line goes on from an unfinished one (no prefix)."""
    if colour:
        start, end = sgr(style), ("\x1b[0m" if style else "")
        prefix = f"{sgr('dim')}{prefix}\x1b[0m" if prefix else ""
    else:
        start = end = ""
    if not (prefix or start):
        return text
    ended = text.endswith("\n")
    body = text[:-1] if ended else text
    lead = start if continuing else prefix + start
    return lead + body.replace("\n", f"{end}\n{prefix}{start}") + end + ("\n" if ended else "")


def checked_lines(event: OutputChecked) -> list[Styled]:
    """An output check as a few lines: matched, or differs and the diff (a failed ``expect`` is
    already the step's failure reason: not said twice)."""
    where = f"{event.host}: " if event.host else ""
    source = "the step's expect" if event.source == "expect" else event.source_label
    if event.verdict == "matches":
        return [Styled(f"  ✓ {where}output as expected ({source}, {event.mode})", "green")]
    if event.strict:
        return []
    lines = [Styled(f"  ≠ {where}output differs from {source} ({event.mode}):", "bold yellow")]
    for line in event.diff.splitlines():
        # red is kept for failures: the expected side cyan, what came instead yellow
        style = "cyan" if line.startswith("- ") else "yellow"
        lines.append(Styled(f"    {line}", style))
    return lines
