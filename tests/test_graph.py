"""The step graph: explicit and implicit edges, stable order, errors, selection."""

from __future__ import annotations

import time
from typing import Any

import pytest

from runbook_engine.graph import build_graph, select
from runbook_engine.model import GraphError, Runbook, Step, UsageError, VarSpec


def step(step_id: str, index: int, code: str = "true", **kw: Any) -> Step:
    return Step(id=step_id, title=kw.pop("title", step_id), path="rb.md", line=index * 10,
                kind=kw.pop("kind", "shell"), lang="bash", code=code, index=index, **kw)


def book(*steps: Step, vars: tuple[VarSpec, ...] = ()) -> Runbook:
    return Runbook(path="rb.md", title="T", steps=steps, vars=vars)


def ids(steps: Any) -> list[str]:
    return [s.id for s in steps]


def test_document_order_without_edges() -> None:
    graph = build_graph(book(step("a", 1), step("b", 2), step("c", 3)))
    assert ids(graph.steps) == ["a", "b", "c"]
    assert graph.edges == ()
    assert graph.problems == ()


def test_needs_moves_a_step_after_what_it_needs() -> None:
    graph = build_graph(book(step("a", 1, needs=("c",)), step("b", 2), step("c", 3)))
    assert ids(graph.steps) == ["b", "c", "a"]
    assert graph.edges == (("c", "a"),)
    assert graph.preds["a"] == ("c",)


def test_implicit_capture_edge_reorders() -> None:
    graph = build_graph(book(step("deploy", 1, "deploy {{ version }}"),
                             step("other", 2),
                             step("get-version", 3, "cat VERSION", capture="version")))
    assert ids(graph.steps) == ["other", "get-version", "deploy"]
    assert ("get-version", "deploy") in graph.edges
    assert graph.problems == ()


def test_implicit_edge_uses_nearest_earlier_capture() -> None:
    graph = build_graph(book(step("v1", 1, capture="v"), step("v2", 2, capture="v"),
                             step("use", 3, "echo {{ v | q }}")))
    assert graph.preds["use"] == ("v2",)


def test_declared_variable_does_not_wait_for_a_later_capture() -> None:
    graph = build_graph(book(step("use", 1, "echo {{ v }}"), step("cap", 2, capture="v"),
                             vars=(VarSpec("v", default="1", has_default=True),)))
    assert ids(graph.steps) == ["use", "cap"]
    assert graph.edges == ()


def test_outputs_file_steps_and_attribute_templates_make_edges() -> None:
    graph = build_graph(book(
        step("use", 1, "echo hi", cwd="{{ workdir }}", when="steps.probe.stdout == 'yes'"),
        step("probe", 2, "echo yes"),
        step("out", 3, 'echo "workdir=/srv" >> "$RUNBOOK_OUTPUT"'),
    ))
    assert ids(graph.steps) == ["probe", "out", "use"]
    assert set(graph.preds["use"]) == {"probe", "out"}


def test_unknown_needs_is_an_error_with_location() -> None:
    with pytest.raises(GraphError) as info:
        build_graph(book(step("a", 1), step("b", 2, needs=("x",))))
    assert str(info.value) == "rb.md:20: step 'b' needs unknown step 'x'"
    assert info.value.exit_code == 1


def test_duplicate_id_reported_at_second_occurrence() -> None:
    with pytest.raises(GraphError) as info:
        build_graph(book(step("a", 1), step("b", 2), step("a", 3)))
    assert str(info.value) == "rb.md:30: duplicate step id 'a' (first used on line 10)"


def test_cycle_names_every_step_in_it() -> None:
    with pytest.raises(GraphError) as info:
        build_graph(book(step("free", 1), step("a", 2, needs=("c",)), step("b", 3, needs=("a",)),
                         step("c", 4, needs=("b",))))
    assert str(info.value) == "rb.md:20: cycle: a -> b -> c -> a"


def test_cycle_through_a_capture() -> None:
    with pytest.raises(GraphError, match=r"cycle: a -> b -> a"):
        build_graph(book(step("a", 1, "echo {{ y }}", capture="x"),
                         step("b", 2, "echo {{ x }}", capture="y")))


def test_variable_nothing_defines_is_a_problem_not_an_exception() -> None:
    graph = build_graph(book(step("a", 1, "echo {{ ghost }} {{ given }} {{ steps.a.rc }}"
                                          " {% for h in hosts %}{{ h }}{% endfor %}"),
                             vars=(VarSpec("hosts"),)), known=["given"])
    assert [(p.severity, p.line, p.message) for p in graph.problems] == [
        ("error", 10, "step 'a' uses variable 'ghost' that nothing defines (add it to front matter "
                      "vars, pass --var ghost=..., or capture it in an earlier step)")]


def test_doc_steps_are_not_templates() -> None:
    graph = build_graph(book(step("gha", 1, "token: ${{ secrets.TOKEN }}", kind="doc")))
    assert graph.problems == ()


def test_unknown_step_reference_is_a_problem() -> None:
    graph = build_graph(book(step("build", 1), step("b", 2, "echo {{ steps.biuld.stdout }}")))
    assert [p.message for p in graph.problems] == [
        "step 'b' refers to unknown step 'steps.biuld' (did you mean 'build'?)"]


def test_template_syntax_error_is_a_problem() -> None:
    graph = build_graph(book(step("a", 1, "{% if x %}")))
    assert len(graph.problems) == 1
    assert "template syntax error" in graph.problems[0].message


SELECTION = book(
    step("prep", 1, section=("Deploy", "Prepare"), tags=("setup",)),
    step("build", 2, section=("Deploy", "Build"), needs=("prep",)),
    step("ship", 3, "ship {{ artifact }}", section=("Deploy", "Ship"), tags=("prod",)),
    step("art", 4, capture="artifact", needs=("build",), section=("Deploy", "Build")),
    step("verify", 5, section=("Verify",), tags=("prod", "check")),
    step("manual", 6, kind="manual", section=("Verify",), exclude_from_run_all=True),
)


def test_select_everything_in_plan_order() -> None:
    graph = build_graph(SELECTION)
    assert ids(select(graph)) == ["prep", "build", "art", "ship", "verify", "manual"]


def test_select_only_pulls_in_needs_transitively() -> None:
    graph = build_graph(SELECTION)
    assert ids(select(graph, only=["ship"])) == ["prep", "build", "art", "ship"]
    assert ids(select(graph, only=["verify", "manual"])) == ["verify", "manual"]


def test_select_from_until_inclusive() -> None:
    graph = build_graph(SELECTION)
    assert ids(select(graph, from_="art", until="verify")) == ["art", "ship", "verify"]


def test_select_tags_and_sections() -> None:
    graph = build_graph(SELECTION)
    assert ids(select(graph, tags=["PROD"])) == ["ship", "verify"]
    assert ids(select(graph, sections=["build"])) == ["build", "art"]
    assert ids(select(graph, sections=["verify", "prep"])) == ["prep", "verify", "manual"]


def test_select_unknown_names() -> None:
    graph = build_graph(SELECTION)
    with pytest.raises(UsageError, match=r"^no step 'shp' \(did you mean 'ship'\?\)$"):
        select(graph, only=["shp"])
    with pytest.raises(UsageError, match=r"^no step 'zzz'$"):
        select(graph, from_="zzz")
    with pytest.raises(UsageError, match="no step has tag nope"):
        select(graph, tags=["nope"])


def test_needs_closure() -> None:
    graph = build_graph(SELECTION)
    assert graph.needs_closure(["ship"]) == {"ship", "art", "build", "prep"}


def test_twenty_thousand_steps_are_fast() -> None:
    steps = [step(f"s{i}", i + 1, f"echo {{{{ v{i % 10} }}}}" if i % 3 else "echo hi",
                  needs=(f"s{i - 1}",) if i % 4 == 1 else (),
                  capture=f"v{i % 10}" if i < 10 else None)
             for i in range(20_000)]
    start = time.perf_counter()
    graph = build_graph(book(*steps))
    elapsed = time.perf_counter() - start
    assert len(graph.steps) == 20_000 and graph.problems == ()
    assert elapsed < 1.5  # measured ~0.15 s; generous for loaded CI machines


def test_a_step_that_needs_itself_is_a_cycle() -> None:
    from runbook_engine.parse import parse_text

    with pytest.raises(GraphError, match="cycle: x -> x"):
        build_graph(parse_text("# T\n\n```bash {#x needs=x}\necho\n```\n"))
