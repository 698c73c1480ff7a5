"""The step graph: edges from ``needs``, captures and ``steps.X``; plan order and selection."""

from __future__ import annotations

import difflib
import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from . import lazyre
from .gcpause import paused_gc
from .model import GraphError, Problem, Runbook, Step, UsageError
from .template import GLOBALS, expression_template, problem, steps_referenced, variables_used

#: names the engine always provides to templates
RESERVED = GLOBALS | frozenset({"steps", "env", "vars", "loop", "true", "false", "none", "True",
                                "False", "None"})
# ``echo "name=value" >> "$RUNBOOK_OUTPUT"`` (or ``name<<EOF``): outputs become variables
_OUTPUT_RE = lazyre.compile(r"(?:echo|printf)\s+(?:-\w+\s+)*['\"]?([A-Za-z_]\w*)(?:=|<<)")


@dataclass(frozen=True)
class Graph:
    """Steps in plan order (topological, stable in document order) and the edges between them."""

    runbook: Runbook
    steps: tuple[Step, ...]
    edges: tuple[tuple[str, str], ...]
    problems: tuple[Problem, ...] = ()
    preds: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # id -> predecessor ids

    def needs_closure(self, ids: Iterable[str]) -> set[str]:
        """The ids and everything they need, transitively."""
        seen: set[str] = set()
        stack = list(ids)
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(self.preds.get(current, ()))
        return seen

    def position(self) -> dict[str, int]:
        """Plan position (0-based) of each step id."""
        return {step.id: i for i, step in enumerate(self.steps)}


def step_templates(step: Step) -> list[str]:
    """Every template text of a step: code, ``when``, and attribute values."""
    texts = [step.code, *step.on, *(value for _, value in step.env)]
    texts += [t for t in (step.cwd, step.expect, step.extract, step.user) if t]
    if isinstance(step.confirm, str):
        texts.append(step.confirm)
    if step.when:
        texts.append(expression_template(step.when))
    return texts


def outputs_of(step: Step) -> set[str]:
    """Variables a step defines: its capture and what it writes to ``$RUNBOOK_OUTPUT``."""
    names = {step.capture} if step.capture else set()
    if "RUNBOOK_OUTPUT" in step.code:
        for line in step.code.splitlines():
            if "RUNBOOK_OUTPUT" in line:
                names.update(_OUTPUT_RE.findall(line))
    return names


def build_graph(runbook: Runbook, known: Iterable[str] = ()) -> Graph:
    """Order the steps; GraphError for unknown/duplicate ids and cycles, Problems for the rest."""
    with paused_gc():
        return _build_graph(runbook, known)


def _build_graph(runbook: Runbook, known: Iterable[str]) -> Graph:
    steps = runbook.steps
    order = {step.id: i for i, step in enumerate(steps)}
    _check_ids(runbook, order)
    preds: dict[str, list[str]] = {step.id: [] for step in steps}
    problems: list[Problem] = []
    for step in steps:
        for need in step.needs:
            if need not in order:
                raise GraphError(f"step '{step.id}' needs unknown step '{need}'",
                                 path=step.path, line=step.line)
            if need == step.id:
                raise GraphError(f"cycle: {need} -> {need}", path=step.path, line=step.line)
            _add(preds, need, step.id)
    _implicit_edges(runbook, order, preds, set(known), problems)
    plan = _topological(steps, order, preds)
    if len(plan) < len(steps):
        _raise_cycle(steps, order, preds, {s.id for s in plan})
    edges = tuple((src, dst) for dst in (s.id for s in plan) for src in preds[dst])
    return Graph(runbook, tuple(plan), edges, tuple(problems),
                 {k: tuple(v) for k, v in preds.items()})


def _add(preds: dict[str, list[str]], src: str, dst: str) -> None:
    if src != dst and src not in preds[dst]:
        preds[dst].append(src)


def _check_ids(runbook: Runbook, order: dict[str, int]) -> None:
    if len(order) == len(runbook.steps):
        return
    first: dict[str, Step] = {}
    for step in runbook.steps:
        if step.id in first:
            raise GraphError(f"duplicate step id '{step.id}' (first used on line "
                             f"{first[step.id].line})", path=step.path, line=step.line)
        first[step.id] = step


def _implicit_edges(runbook: Runbook, order: dict[str, int], preds: dict[str, list[str]],
                    known: set[str], problems: list[Problem]) -> None:
    """Capture → use edges, ``steps.X`` edges, and problems for variables nothing defines."""
    producers: dict[str, list[str]] = {}
    for step in runbook.steps:
        for name in outputs_of(step):
            producers.setdefault(name, []).append(step.id)
    declared = {spec.name for spec in runbook.vars}
    for step in runbook.steps:
        used: set[str] = set()
        refs: set[str] = set()
        # doc steps are shown as written (a workflow's ``${{ secrets.X }}`` is not ours)
        for text in step_templates(step) if step.executable else ():
            if "{" not in text:
                continue
            used |= variables_used(text)
            refs |= steps_referenced(text)
            error = problem(text)
            if error:
                # the line inside the block for the code; the step's line for its attributes
                line = step.code_line + (error.line or 1) - 1 if text is step.code else step.line
                problems.append(Problem("error", step.path, line,
                                        f"step '{step.id}': {error.message}", "RB212"))
        for ref in sorted(refs):
            if ref in order:
                _add(preds, ref, step.id)
            else:
                problems.append(_problem(step, _unknown_ref(step.id, ref, order), "RB211"))
        for name in sorted(used - RESERVED):
            if name in known:
                continue
            producer = _producer(producers.get(name, []), order, step.id, name in declared)
            if producer:
                _add(preds, producer, step.id)
            elif name not in declared:
                problems.append(_problem(step, (
                    f"step '{step.id}' uses variable '{name}' that nothing defines (add it to "
                    f"front matter vars, pass --var {name}=..., or capture it in an earlier step)"
                ), "RB210"))


def _producer(sources: list[str], order: dict[str, int], user: str, declared: bool) -> str | None:
    """The nearest capturing step before the user, else (when nothing else can give the value)
    the first one after it, which moves the user after it."""
    before = [s for s in sources if order[s] < order[user]]
    if before:
        return before[-1]
    return sources[0] if sources and not declared else None


def _unknown_ref(step_id: str, ref: str, order: dict[str, int]) -> str:
    hint = difflib.get_close_matches(ref, list(order), n=1)
    extra = f" (did you mean '{hint[0]}'?)" if hint else ""
    return f"step '{step_id}' refers to unknown step 'steps.{ref}'{extra}"


def _problem(step: Step, message: str, code: str) -> Problem:
    return Problem("error", step.path, step.line, message, code)


def _topological(steps: Sequence[Step], order: dict[str, int],
                 preds: dict[str, list[str]]) -> list[Step]:
    """Kahn's algorithm, always taking the ready step earliest in the document."""
    indegree = {sid: len(p) for sid, p in preds.items()}
    succs: dict[str, list[str]] = {sid: [] for sid in preds}
    for dst, sources in preds.items():
        for src in sources:
            succs[src].append(dst)
    heap = [order[sid] for sid, deg in indegree.items() if deg == 0]
    heapq.heapify(heap)
    plan: list[Step] = []
    while heap:
        step = steps[heapq.heappop(heap)]
        plan.append(step)
        for nxt in succs[step.id]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                heapq.heappush(heap, order[nxt])
    return plan


def _raise_cycle(steps: Sequence[Step], order: dict[str, int], preds: dict[str, list[str]],
                 done: set[str]) -> None:
    """Find one cycle among the unplaced steps and raise it, starting at its earliest step."""
    start = next(s.id for s in steps if s.id not in done)
    path: list[str] = []
    index: dict[str, int] = {}
    current = start
    while current not in index:  # every unplaced step has an unplaced predecessor
        index[current] = len(path)
        path.append(current)
        current = next(p for p in preds[current] if p not in done)
    cycle = path[index[current]:][::-1]  # predecessors walked backwards: reverse to get a -> b
    first = min(range(len(cycle)), key=lambda i: order[cycle[i]])
    cycle = cycle[first:] + cycle[:first]
    step = steps[order[cycle[0]]]
    raise GraphError("cycle: " + " -> ".join([*cycle, cycle[0]]), path=step.path, line=step.line)


def _unknown(step_id: str, order: Mapping[str, int]) -> UsageError:
    hint = difflib.get_close_matches(step_id, list(order), n=1)
    extra = f" (did you mean '{hint[0]}'?)" if hint else ""
    return UsageError(f"no step '{step_id}'{extra}")


def select(graph: Graph, only: Sequence[str] = (), from_: str | None = None,
           until: str | None = None, tags: Sequence[str] = (),
           sections: Sequence[str] = ()) -> list[Step]:
    """The steps to run, in plan order. ``exclude_from_run_all`` steps stay (the engine decides)."""
    position = graph.position()
    for step_id in [*only, *(x for x in (from_, until) if x is not None)]:
        if step_id not in position:
            raise _unknown(step_id, position)
    chosen = list(graph.steps)
    if only:
        wanted = graph.needs_closure(only)
        chosen = [s for s in chosen if s.id in wanted]
    if from_ is not None:
        chosen = [s for s in chosen if position[s.id] >= position[from_]]
    if until is not None:
        chosen = [s for s in chosen if position[s.id] <= position[until]]
    if tags:
        wanted_tags = {t.lower() for t in tags}
        _require(graph, lambda s: bool(wanted_tags & {t.lower() for t in s.tags}),
                 f"no step has tag {', '.join(tags)}")
        chosen = [s for s in chosen if wanted_tags & {t.lower() for t in s.tags}]
    if sections:
        needles = [text.lower() for text in sections]

        def in_section(step: Step) -> bool:
            return any(n in heading.lower() for n in needles for heading in step.section)

        _require(graph, in_section, f"no section matches {', '.join(sections)}")
        chosen = [s for s in chosen if in_section(s)]
    return chosen


def _require(graph: Graph, predicate: Callable[[Step], bool], message: str) -> None:
    if not any(predicate(step) for step in graph.steps):
        raise UsageError(message)
