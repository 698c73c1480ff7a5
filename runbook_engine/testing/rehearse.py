"""`runbook test BOOK...`: run each runbook unattended (the rules of ``--yes``), judge each step,
print a summary per book and write the JUnit report.

What a rehearsal cannot do here is said, not failed: a step that needs a value nobody gave, an
input the runbook declares from the environment that is not set, a program this machine does not
have (``command -v``), a manual step, a dangerous step without ``--allow-danger``. Everything
else runs, keeping going after a failure (each step is its own test), with a transcript like every
run; ``--against`` compares each step's output with an earlier run's too.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from .. import programs, safety, template
from ..checking import Reference
from ..control import AutoController, Controller
from ..events import Event, StepFinished
from ..graph import RESERVED, outputs_of, step_templates
from ..inputs import has_template
from ..load import Loaded, Selection, load
from ..model import Runbook, RunbookError, Step, UsageError
from ..recording import Recorder
from ..runcmd import RunRequest, run_loaded
from ..stamps import parse_ts, spell_elapsed
from ..state import RunState
from .cases import BookResult, Case, judge
from .junit import to_junit

#: folders never searched for runbooks (and README files are documentation, not runbooks)
SKIPPED_DIRS = frozenset({"transcripts", "node_modules", "venv", ".venv"})
#: lines of a failure's details and of its output shown on the console (the report has all)
SHOWN_LINES = 12
MARKS = {"passed": "✓", "failed": "✗", "not verified": "○"}


@dataclass(frozen=True)
class TestRequest:
    """What ``runbook test`` was asked to do: the typed form of its command line."""

    books: tuple[str, ...]
    var_items: tuple[str, ...] = ()
    selection: Selection = field(default_factory=Selection)
    junit: str | None = None
    against: tuple[str, ...] = ()
    allow_danger: bool = False
    keep_going: bool = True
    transcript_dir: str = "transcripts"
    inventory: str | None = None
    ssh_config: str | None = None
    accept_new_host_keys: bool = False
    forks: int = 10
    limit: str | None = None


def rehearse(request: TestRequest, out: TextIO = sys.stdout) -> int:
    """Run every book, print the summaries, write the JUnit file; the exit code (0/1/2)."""
    books = find_books(request.books)
    references = match_references(books, request.against)
    results = [rehearse_book(book, request, references.get(book), out) for book in books]
    if len(results) > 1:
        _write(out, f"{len(results)} runbooks: {_counts(results)}")
    if request.junit:
        Path(request.junit).parent.mkdir(parents=True, exist_ok=True)
        from ..transcript.formats import write_private

        write_private(request.junit, to_junit(results))
        _write(out, f"JUnit report: {request.junit}")
    if any(r.error and r.exit_code == 2 for r in results):
        return 2
    return 1 if any(r.failed for r in results) else 0


def find_books(args: Sequence[str]) -> list[str]:
    """Each argument, or the runbooks (``*.md``, README excepted) under a folder, sorted."""
    found: list[str] = []
    for arg in args:
        path = Path(arg)
        if not path.is_dir():
            found.append(_shown(path))
            continue
        inside = sorted(p for p in path.rglob("*.md") if p.name.lower() != "readme.md"
                        and not any(part.startswith(".") or part in SKIPPED_DIRS
                                    for part in p.relative_to(path).parts[:-1]))
        if not inside:
            raise UsageError(f"{arg}: no runbooks (*.md) in this folder")
        found.extend(_shown(p) for p in inside)
    return found


def _shown(path: Path) -> str:
    """A runbook's path as reports name it: relative to here when it is below here."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve())) if path.is_absolute() \
            else str(path)
    except ValueError:
        return str(path)


# -- one runbook --------------------------------------------------------------------------------


def match_references(books: Sequence[str], paths: Sequence[str]) -> dict[str, Reference]:
    """Each ``--against`` transcript with the runbook it recorded (before anything runs): a
    transcript that is not one, or that records none of the books, is a usage error."""
    from ..parse import load_runbook
    from ..transcript.resume import check_same_runbook, load_state

    runbooks: dict[str, Runbook | None] = {}
    for book in books:
        try:
            runbooks[book] = load_runbook(book)
        except RunbookError:
            runbooks[book] = None  # reported when the book is tested
    found: dict[str, Reference] = {}
    for path in paths:
        state, _warnings = load_state(path)
        problem: RunbookError | None = None
        for book, runbook in runbooks.items():
            if runbook is None or book in found:
                continue
            try:
                check_same_runbook(state, runbook, path)
            except RunbookError as exc:
                problem = problem or exc
                continue
            found[book] = Reference.from_state(state, path)
            break
        else:
            if problem is not None and len(runbooks) == 1:
                raise UsageError(str(problem))
            raise UsageError(f"--against {path}: it records none of the runbooks tested "
                             f"({state.path or 'no runbook named'})")
    return found


def rehearse_book(book: str, request: TestRequest, against: Reference | None,
                  out: TextIO) -> BookResult:
    result = BookResult(book)
    try:
        loaded = load(book, request.var_items, request.selection)
    except RunbookError as exc:
        return _failed_to_start(result, str(exc), exc.exit_code, out)
    runbook = loaded.runbook
    result.title = runbook.title
    problems = [p for p in (*runbook.problems, *loaded.graph.problems)
                if p.severity == "error" and p.code != "RB210"]
    if problems:
        lines = "; ".join(f"{p.path}:{p.line}: {p.message}" for p in problems)
        return _failed_to_start(result, f"the runbook has errors: {lines}", 2, out)
    _write(out, f"▶ {book} — {runbook.title}")
    from ..transcript.log import default_transcript_path

    path = default_transcript_path(runbook.path, request.transcript_dir)
    state = RunState()
    steps = {step.id: step for step in loaded.steps}
    progress = Progress(steps, state, out)
    run = RunRequest(book=book, var_items=request.var_items, selection=request.selection,
                     yes=True, allow_danger=request.allow_danger,
                     continue_on_error=request.keep_going, transcript_dir=request.transcript_dir,
                     inventory=request.inventory, ssh_config=request.ssh_config,
                     accept_new_host_keys=request.accept_new_host_keys, forks=request.forks,
                     limit=request.limit)
    try:
        run_loaded(run, loaded, state, path=path, display=None, controller=_auto,
                   against=against, skip_if=unverifiable(loaded, os.environ, state),
                   kept=[progress])
    except RunbookError as exc:
        result.error, result.exit_code = str(exc), exc.exit_code
    except Exception as exc:  # an unreachable host ends this runbook, not the rehearsal
        from ..runners.base import TargetError

        if not isinstance(exc, TargetError):
            raise
        result.error, result.exit_code = str(exc), 1
    result.cases = judge(loaded.steps, state)
    result.transcript, result.run_id = str(path), state.run_id
    result.started = state.first_ts or ""
    start, end = parse_ts(state.first_ts), parse_ts(state.last_ts)
    result.duration_s = (end - start).total_seconds() if start and end else 0.0
    progress.unreached(result.cases)
    if result.error:
        _write(out, f"  error: {result.error}")
    _write(out, f"{book}: {_counts([result])} · transcript {path}")
    return result


def _auto(emit: Recorder) -> Controller:
    return AutoController()


def _failed_to_start(result: BookResult, error: str, code: int, out: TextIO) -> BookResult:
    result.error, result.exit_code = error, code
    _write(out, f"▶ {result.path}\n  error: {error}\n{result.path}: not run")
    return result


def unverifiable(loaded: Loaded, environ: Mapping[str, str], state: RunState,
                 lookup: Callable[[str], str | None] = shutil.which,
                 ) -> Callable[[Step], str | None]:
    """Why a step cannot be verified on this machine, asked just before it would run: a value
    nobody gave (or an earlier step did not capture), a declared environment input that is not
    set, a program that is not installed."""
    unset = {spec.env for spec in loaded.runbook.vars
             if spec.env and spec.name not in loaded.variables and spec.env not in environ}
    defined = programs.defined_in(loaded.runbook)
    producers = {name: step.id for step in loaded.runbook.steps for name in outputs_of(step)}

    def skip_if(step: Step) -> str | None:
        if not step.executable:
            return None
        name = _missing_value(step, loaded, state)
        if name is not None:
            if name in producers:
                return f"needs {name}, which step {producers[name]} did not set"
            return f"needs {name}: pass --var {name}=VALUE"
        code = f"{step.interpreter or ''}\n{step.code}"
        reads = [name for name in safety.env_reads(code) if name in unset] if unset else []
        if reads:
            return f"needs ${reads[0]}: set it in the environment (the runbook reads it)"
        if all(target in ("local", "localhost") for target in step.on):
            lacking = programs.missing(programs.calls(step, defined), lookup)
            if lacking:
                name = lacking[0].name
                return f"needs {name}, which this machine does not have (command -v {name})"
        return None

    return skip_if


def _missing_value(step: Step, loaded: Loaded, state: RunState) -> str | None:
    """The first value a step's templates or placeholders use that no source has given."""
    known = set(loaded.variables) | set(state.values()) | RESERVED
    names = [n for text in step_templates(step) if has_template(text)
             for n in sorted(template.variables_used(text))]
    names += safety.placeholders(step.code)
    return next((name for name in names if name not in known), None)


# -- the console ------------------------------------------------------------------------------


class Progress:
    """Prints each step's verdict as its result is recorded (a kept observer: the state has
    applied the event), the details of a failure under it."""

    def __init__(self, steps: Mapping[str, Step], state: RunState, out: TextIO) -> None:
        self.steps, self.state, self.out = steps, state, out
        self.shown: set[str] = set()

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepFinished) and event.step in self.steps:
            step = self.steps[event.step]
            if step.kind != "doc":
                (case,) = judge([step], self.state)
                self.show(case)

    def show(self, case: Case) -> None:
        self.shown.add(case.step.id)
        line = f"  {MARKS[case.outcome]} {case.step.id}"
        if case.outcome == "passed":
            line += f"  {spell_elapsed(case.duration_s)}"
            if case.reason:
                line += f"  ({case.reason})"
        else:
            line += f": {'not verified: ' if case.outcome == 'not verified' else ''}{case.reason}"
        _write(self.out, line)
        if case.outcome != "failed":
            return
        differing = [c for c in case.checks if c.differs]
        shown = [line for c in differing for line in _tail(c.diff, SHOWN_LINES)]
        if case.kind not in ("drift", "expect"):  # why it failed is in what it printed
            shown += _tail(case.stderr or case.stdout, SHOWN_LINES)
        for text in shown:
            _write(self.out, f"      {text}")

    def unreached(self, cases: Sequence[Case]) -> None:
        for case in cases:
            if case.step.id not in self.shown:
                self.show(case)


def _tail(text: str, lines: int) -> list[str]:
    rows = text.rstrip("\n").splitlines()
    return rows[-lines:] if len(rows) > lines else rows


def _counts(results: Sequence[BookResult]) -> str:
    passed = sum(r.count("passed") for r in results)
    failed = sum(r.count("failed") for r in results)
    unverified = sum(r.count("not verified") for r in results)
    errors = sum(1 for r in results if r.error)
    text = f"{passed} passed, {failed} failed, {unverified} not verified"
    return text + (f", {errors} error(s)" if errors else "")


def _write(out: TextIO, text: str) -> None:
    out.write(text + "\n")
    out.flush()
