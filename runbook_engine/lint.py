"""`runbook lint`: every problem of a runbook as ``path:line:col: severity: message``."""

from __future__ import annotations

from dataclasses import replace

from .model import SHELL_LANGS, GraphError, LoadError, Problem, Runbook, Step

COMMAND_HINT = "`--granularity command`"


def lint_book(path: str, granularity: str | None = None, strict: bool = False) -> list[Problem]:
    """Parse, build the graph and syntax-check shell steps; never raises for a bad runbook.
    ``strict`` also reports the programs the steps call that this machine lacks (RB230)."""
    from .graph import build_graph
    from .parse import load_runbook

    try:
        runbook = load_runbook(path, granularity=granularity)
    except LoadError as exc:
        return [Problem("error", exc.path or path, exc.line or 1, exc.message, "RB001")]
    problems = list(runbook.problems)
    try:
        graph = build_graph(runbook, known=_declared(runbook))
        problems.extend(graph.problems)
    except GraphError as exc:
        problems.append(Problem("error", exc.path or path, exc.line or 1, exc.message, "RB300"))
    for step in runbook.steps:
        problems.extend(_shell_problems(runbook, step))
    if granularity != "command" and any(step.parent is None and step.kind == "shell"
                                        for step in runbook.steps):
        problems = _command_hints(runbook, problems)
    if strict:
        problems.extend(_missing_programs(runbook))
    return sorted(_unique(problems), key=lambda p: (p.path, p.line, p.column))


def _command_hints(runbook: Runbook, problems: list[Problem]) -> list[Problem]:
    """Blocks read whole (annotated, or a runbook with its own front matter) that read right
    command by command: a syntax error that goes away, or a client (``psql``) whose lines would
    run as shell. Each says so, with ``--granularity command``."""
    from .parse import load_runbook

    try:
        commands = load_runbook(runbook.path, granularity="command")
    except LoadError:
        return problems
    spans = {s.id: range(s.line, s.line + s.code.count("\n") + 2) for s in runbook.steps}
    unread = [p.line for p in lint_book(runbook.path, "command")
              if p.code in ("RB105", "RB200", "RB220")]  # what command by command still fails
    hinted = []
    for problem in problems:
        span = next((lines for lines in spans.values() if problem.line in lines), None)
        if problem.code == "RB200" and span and not any(line in span for line in unread):
            problem = replace(problem, message=problem.message + f" ({COMMAND_HINT} parses it)")
        hinted.append(problem)
    for step in commands.steps:
        if step.parent in spans and step.interpreter and step.kind == "engine":
            hinted.append(Problem("info", step.path, step.line, f"block '{step.parent}' runs as "
                                  f"one shell script, so the lines meant for {step.interpreter} "
                                  f"would run as shell: {COMMAND_HINT} feeds them to it",
                                  "RB120"))
            spans.pop(step.parent)  # once a block
    return hinted


def _declared(runbook: Runbook) -> set[str]:
    return {spec.name for spec in runbook.vars}


def _shell_problems(runbook: Runbook, step: Step) -> list[Problem]:
    """`bash -n` on shell steps; command-granularity regions that are not shell are reported."""
    from .safety import syntax_problems

    if step.kind == "doc" and step.parent and step.lang in SHELL_LANGS and not step.expected_output:
        return [Problem("warning", step.path, step.line, "this region is not valid shell and will "
                        "not be run (feed it to a client such as psql, or mark the block doc)",
                        "RB220")]
    if step.kind != "shell" or step.interpreter or "{%" in step.code:
        return []
    shell = step.shell or str(runbook.defaults.get("shell") or "bash")
    if shell not in ("bash", "sh"):
        return []
    # code starts on the line after the fence (command steps: on their own line)
    first = step.line if step.parent else step.line + 1
    return [Problem("error", step.path, first + offset - 1, f"shell syntax: {message}", "RB200")
            for offset, message in syntax_problems(step.code, shell)]


def _missing_programs(runbook: Runbook) -> list[Problem]:
    """A warning per program a step calls that ``command -v`` would not find here."""
    from .programs import calls, defined_in, missing

    defined = defined_in(runbook)
    # a remote step's programs are the remote host's business: only local steps are checked
    found = [call for step in runbook.steps
             if all(target in ("local", "localhost") for target in step.on)
             for call in calls(step, defined)]
    return [Problem("warning", call.path, call.line, f"{call.name}: not found on this machine "
                    "(command -v)", "RB230") for call in missing(found)]


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, int, str]] = set()
    unique = []
    for problem in problems:
        key = (problem.path, problem.line, problem.message)
        if key not in seen:
            seen.add(key)
            unique.append(problem)
    return unique
