"""The `runbook` command line: the one place where exceptions become exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import click

from . import __version__
from .model import RunbookError

if TYPE_CHECKING:
    from .load import Loaded, Selection

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _fail(message: str, code: int) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def selection_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--var and the selection flags shared by plan, list and run."""
    options = [
        click.option("--var", "var_items", multiple=True, metavar="NAME=VALUE",
                     help="Set a variable (or a <placeholder>); repeatable."),
        click.option("--only", multiple=True, metavar="ID",
                     help="Only this step and what it needs; repeatable."),
        click.option("--from", "from_", metavar="ID", help="Start at this step."),
        click.option("--until", metavar="ID", help="Stop after this step."),
        click.option("--tag", "tags", multiple=True, metavar="TAG", help="Steps with this tag."),
        click.option("--section", "sections", multiple=True, metavar="TEXT",
                     help="Steps under headings containing TEXT."),
        click.option("--granularity", type=click.Choice(["auto", "block", "command"]),
                     default=None, help="auto (default): one step per command, except in "
                     "annotated blocks and runbooks with front matter; block: one step per code "
                     "block; command: one per command everywhere."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _selection(only: tuple[str, ...], from_: str | None, until: str | None,
               tags: tuple[str, ...], sections: tuple[str, ...],
               granularity: str | None) -> Selection:
    from .load import Selection

    return Selection(only=only, from_=from_, until=until, tags=tags, sections=sections,
                     granularity=granularity)


def _prompt_keys() -> str:
    """What `run --help` says about the keys each prompt takes (answers.py's help texts)."""
    from .answers import DANGER_HELP, DRIFT_HELP, FAILURE_HELP, MANUAL_HELP, STEP_HELP

    parts = [("At each step [y/n/e/a/q/?]", STEP_HELP),
             ("At a dangerous step (type its id)", DANGER_HELP.format(id="ID")),
             ("After a failure [r/e/s/q/?] (on some hosts of a fleet [r/a/e/s/q/?])",
              FAILURE_HELP),
             ("At a manual step [d/n/s/q/?]", MANUAL_HELP),
             ("When the output differs [g/n/r/e/q/?]", DRIFT_HELP)]
    # \b keeps click from re-wrapping each block into one paragraph
    return "\n\n".join(f"\b\n{title}:\n" + "\n".join(f"  {line}" for line in text.splitlines())
                       for title, text in parts)


def plan_doc(loaded: Loaded) -> dict[str, Any]:
    from .render import plan_document

    return plan_document(loaded.graph, loaded.steps, loaded.variables,
                         placeholder_values=loaded.cli_vars)


def _limited(loaded: Loaded, inventory: str | None, limit: str) -> Loaded:
    """The plan under --limit: steps with a host left, each on the hosts it keeps."""
    from dataclasses import replace

    from .hostlimit import host_limit
    from .inventory import load_inventory

    groups = load_inventory(inventory) if inventory else None
    kept = host_limit(limit, loaded.runbook, loaded.steps, groups)
    return replace(loaded, steps=kept.on_names(loaded.steps, loaded.runbook, groups))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="runbook")
def cli() -> None:
    """Turn Markdown runbooks into steps you can plan, run and record."""


@cli.command()
@click.argument("book", type=click.Path(dir_okay=False))
@selection_options
@click.option("--format", "fmt",
              type=click.Choice(["text", "markdown", "json", "mermaid", "html"]),
              default="text", show_default=True)
@click.option("--inventory", type=click.Path(),
              help="An Ansible inventory: file, folder, plugin (its groups, for --limit).")
@click.option("--limit", metavar="PATTERN",
              help="Only these hosts (Ansible patterns: names, groups, globs, ~regex, @FILE; "
                   "a,b union, !x leaves out, &x keeps only those also in x).")
def plan(book: str, var_items: tuple[str, ...], only: tuple[str, ...], from_: str | None,
         until: str | None, tags: tuple[str, ...], sections: tuple[str, ...],
         granularity: str | None, fmt: str, inventory: str | None, limit: str | None) -> None:
    """Show the whole procedure with variables filled in, without running anything."""
    from .load import load

    loaded = load(book, var_items, _selection(only, from_, until, tags, sections, granularity))
    if limit:
        loaded = _limited(loaded, inventory, limit)
    for warning in loaded.warnings():
        click.echo(warning, err=True)
    doc = plan_doc(loaded)
    if fmt == "text":
        if sys.stdout.isatty():
            from .ui.console import make_console
            from .ui.plan_view import print_plan

            print_plan(doc, make_console())
        else:  # piped: the same text without colours, and without rich's Console import
            from .ui.plan_view import plan_text

            click.echo(plan_text(doc).plain, nl=False)
        return
    if fmt == "html":  # the notebook page: prose, cells, dangers, the graph, in one file
        from .web.notebook import page

        with open(loaded.runbook.path, encoding="utf-8") as handle:
            click.echo(page(loaded.runbook, doc, handle.read()), nl=False)
        return
    from .render import plan_json_pieces, plan_markdown, plan_mermaid

    if fmt == "json":  # written as it is encoded: a big plan's text would double its memory
        for piece in plan_json_pieces(doc):
            click.echo(piece, nl=False)
        return
    click.echo({"markdown": plan_markdown, "mermaid": plan_mermaid}[fmt](doc), nl=False)


@cli.command(name="list")
@click.argument("book", type=click.Path(dir_okay=False))
@selection_options
def list_steps(book: str, var_items: tuple[str, ...], only: tuple[str, ...], from_: str | None,
               until: str | None, tags: tuple[str, ...], sections: tuple[str, ...],
               granularity: str | None) -> None:
    """A table of the steps: index, id, title, target, flags."""
    from .load import load

    loaded = load(book, var_items, _selection(only, from_, until, tags, sections, granularity))
    from .ui.console import make_console
    from .ui.plan_view import print_step_table, problem_line

    doc = plan_doc(loaded)
    print_step_table(doc, make_console())
    for problem in doc["problems"]:  # the table has no room for them: one line each
        click.echo(problem_line(problem), err=True)


@cli.command()
@click.argument("books", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--granularity", type=click.Choice(["block", "command"]), default=None)
@click.option("--strict", is_flag=True,
              help="For CI: warnings fail too, and every program a local step calls must exist "
                   "on this machine (command -v).")
def lint(books: tuple[str, ...], fmt: str, granularity: str | None, strict: bool) -> None:
    """Check runbooks: annotations, graph, variables, shell syntax. Exit 1 on errors (with
    --strict, on warnings too)."""
    from .lint import lint_book

    problems = []
    for book in books:
        problems.extend(lint_book(book, granularity=granularity, strict=strict))
    if fmt == "json":
        import json

        click.echo(json.dumps({"problems": [p.as_dict() for p in problems]}, indent=2))
    else:
        for problem in problems:
            click.echo(str(problem))
        sys.stdout.flush()  # on one terminal the summary comes after the last problem
        errors = sum(1 for p in problems if p.severity == "error")
        warnings = sum(1 for p in problems if p.severity == "warning")
        click.echo(f"{len(books)} runbook(s): {errors} error(s), {warnings} warning(s)", err=True)
    failing = ("error", "warning") if strict else ("error",)
    if any(p.severity in failing for p in problems):
        sys.exit(EXIT_FAILED)


class _RunCommand(click.Command):
    """``run``: its epilog, the prompts' keys, is built when help is shown, not at every start
    (it imports the prompts' module, and what that imports)."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.epilog = self.epilog or _prompt_keys()
        super().format_epilog(ctx, formatter)


@cli.command(cls=_RunCommand)
@click.argument("book", type=click.Path(dir_okay=False))
@selection_options
@click.option("-y", "--yes", is_flag=True, help="Run every step without asking.")
@click.option("--allow-danger", is_flag=True, help="With --yes: also run dangerous steps.")
@click.option("--continue-on-error", is_flag=True, help="Go on after a failed step.")
@click.option("--transcript", "transcript_path", type=click.Path(dir_okay=False),
              help="Where to write the JSONL event log.")
@click.option("--transcript-dir", default="transcripts", show_default=True,
              type=click.Path(file_okay=False), help="Folder for the default transcript path.")
@click.option("--resume", "resume_path", type=click.Path(dir_okay=False),
              help="Continue the run recorded in this transcript.")
@click.option("--force", is_flag=True, help="With --resume: resume even if finished steps changed.")
@click.option("--inventory", type=click.Path(), help="Ansible inventory: file, folder, plugin.")
@click.option("--ssh-config", type=click.Path(dir_okay=False), help="SSH config (~/.ssh/config).")
@click.option("--accept-new-host-keys", is_flag=True, help="Trust and record unknown host keys.")
@click.option("--ask-pass", is_flag=True, help="Allow SSH password authentication (prompted).")
@click.option("--forks", type=click.IntRange(1, 500), default=10, show_default=True,
              help="Hosts a step runs on at once.")
@click.option("--limit", metavar="PATTERN",
              help="Only these hosts (Ansible patterns: names, groups, globs, ~regex, @FILE; "
                   "a,b union, !x leaves out, &x keeps only those also in x).")
@click.option("--output", type=click.Choice(["fold", "stream"]), default="fold",
              show_default=True,
              help="A step on several hosts: fold (its output once per group of hosts that "
                   "printed the same, the others as a diff, when it ends) or stream (each line "
                   "as it comes, prefixed by its host).")
def run(book: str, var_items: tuple[str, ...], only: tuple[str, ...], from_: str | None,
        until: str | None, tags: tuple[str, ...], sections: tuple[str, ...],
        granularity: str | None, **options: Any) -> None:
    """Step through a runbook: show, confirm and run each step, and record a transcript."""
    from .runcmd import RunRequest, execute

    selection = _selection(only, from_, until, tags, sections, granularity)
    _leave(execute(RunRequest(book=book, var_items=var_items, selection=selection, **options)))


def _leave(code: int) -> NoReturn:
    """End the process once a run has returned (its transcript closed, its screen written),
    without Python's own shutdown: after a 200-host run that spent a quarter of a second of CPU
    on the run's objects and its connections' threads while the hosts, their connections just
    closed, took both CPUs to clean up: the prompt came back a second after the last step."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@cli.command(name="test")
@click.argument("books", nargs=-1, required=True, type=click.Path())
@selection_options
@click.option("--junit", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write a JUnit XML report here (one suite per runbook, one case per step).")
@click.option("--against", multiple=True, type=click.Path(dir_okay=False), metavar="TRANSCRIPT",
              help="Also compare each step's output with this earlier run's; repeatable.")
@click.option("--allow-danger", is_flag=True, help="Also run dangerous steps.")
@click.option("--keep-going/--stop-at-failure", default=True, show_default=True,
              help="Go on after a failed step (each step is its own test).")
@click.option("--transcript-dir", default="transcripts", show_default=True,
              type=click.Path(file_okay=False), help="Folder for the transcripts.")
@click.option("--inventory", type=click.Path(), help="Ansible inventory: file, folder, plugin.")
@click.option("--ssh-config", type=click.Path(dir_okay=False), help="SSH config (~/.ssh/config).")
@click.option("--accept-new-host-keys", is_flag=True, help="Trust and record unknown host keys.")
@click.option("--forks", type=click.IntRange(1, 500), default=10, show_default=True,
              help="Hosts a step runs on at once.")
@click.option("--limit", metavar="PATTERN",
              help="Only these hosts (Ansible patterns: names, groups, globs, ~regex, @FILE; "
                   "a,b union, !x leaves out, &x keeps only those also in x).")
def test(books: tuple[str, ...], var_items: tuple[str, ...], only: tuple[str, ...],
         from_: str | None, until: str | None, tags: tuple[str, ...], sections: tuple[str, ...],
         granularity: str | None, **options: Any) -> None:
    """Rehearse runbooks unattended: each step a test case (exit status and expected output).

    Runs like `run --yes` (dangerous steps refused unless --allow-danger), keeps going after a
    failure, says which steps it could not verify here and why, and records a transcript per
    runbook. BOOKS may be files or folders. Exit 0 when all pass, 1 when any fails, 2 for usage
    errors.
    """
    from .testing.rehearse import TestRequest, rehearse

    selection = _selection(only, from_, until, tags, sections, granularity)
    sys.exit(rehearse(TestRequest(books=books, var_items=var_items, selection=selection,
                                  **options)))


@cli.command()
@click.argument("book", type=click.Path(dir_okay=False))
@selection_options
@click.option("--continue-on-error", is_flag=True, help="Go on after a failed step.")
@click.option("--transcript", "transcript_path", type=click.Path(dir_okay=False),
              help="Where to write the JSONL event log.")
@click.option("--transcript-dir", default="transcripts", show_default=True,
              type=click.Path(file_okay=False), help="Folder for the default transcript path.")
@click.option("--resume", "resume_path", type=click.Path(dir_okay=False),
              help="Continue the run recorded in this transcript.")
@click.option("--force", is_flag=True, help="With --resume: resume even if finished steps changed.")
@click.option("--inventory", type=click.Path(), help="Ansible inventory: file, folder, plugin.")
@click.option("--ssh-config", type=click.Path(dir_okay=False), help="SSH config (~/.ssh/config).")
@click.option("--accept-new-host-keys", is_flag=True, help="Trust and record unknown host keys.")
@click.option("--forks", type=click.IntRange(1, 500), default=10, show_default=True,
              help="Hosts a step runs on at once.")
@click.option("--limit", metavar="PATTERN",
              help="Only these hosts (Ansible patterns: names, groups, globs, ~regex, @FILE; "
                   "a,b union, !x leaves out, &x keeps only those also in x).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (anything but loopback is shown a warning).")
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="Port to listen on (default: a free one).")
def serve(book: str, var_items: tuple[str, ...], only: tuple[str, ...], from_: str | None,
          until: str | None, tags: tuple[str, ...], sections: tuple[str, ...],
          granularity: str | None, host: str, port: int, **options: Any) -> None:
    """Run a runbook from a browser: prints the operator's URL and a read-only one to share."""
    from .runcmd import RunRequest
    from .servecmd import ServeRequest
    from .servecmd import serve as serve_run

    selection = _selection(only, from_, until, tags, sections, granularity)
    run_request = RunRequest(book=book, var_items=var_items, selection=selection, **options)
    sys.exit(serve_run(ServeRequest(run_request, host=host, port=port)))


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
def follow(file: str) -> None:
    """Follow a live run from another terminal: each step as it happens, until the run ends."""
    from .followcmd import follow as follow_run

    sys.exit(follow_run(file))


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["markdown", "html", "json", "notebook"]),
              default="markdown", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here, not stdout.")
def transcript(file: str, fmt: str, output: str | None) -> None:
    """Render a run's transcript as an incident report."""
    from .transcript.formats import render_transcript, write_private

    text = render_transcript(file, fmt)
    if output:
        write_private(output, text)
    else:
        click.echo(text, nl=False)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: run click, map our exceptions to exit codes with one clear line."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="runbook",
                 standalone_mode=False)
    except click.exceptions.Abort:
        _fail("interrupted", EXIT_INTERRUPTED)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except RunbookError as exc:
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", EXIT_INTERRUPTED)
    except BrokenPipeError:
        sys.exit(EXIT_OK)
    except OSError as exc:
        _fail(f"{getattr(exc, 'filename', '') or 'runbook'}: {exc.strerror or exc}", EXIT_USAGE)
    except Exception as exc:  # TargetError and friends carry their own one-line messages
        from .runners.base import TargetError

        if isinstance(exc, TargetError):
            _fail(str(exc), EXIT_FAILED)
        raise
    sys.exit(EXIT_OK)
