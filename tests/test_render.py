"""The plan document and its JSON / Markdown / Mermaid renderings; variables resolution."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from runbook_engine.graph import build_graph
from runbook_engine.model import Runbook, RunbookError, Step, UsageError, VarSpec
from runbook_engine.parse import parse_text
from runbook_engine.render import plan_document, plan_json, plan_markdown, plan_mermaid
from runbook_engine.variables import Variable, initial_variables, parse_var_args, validate

STEP_KEYS = {"index", "id", "title", "section", "line", "lang", "kind", "executable", "code",
             "targets", "needs", "confirm", "danger", "placeholders", "env", "capture", "when",
             "timeout", "parent", "choice", "interpreter", "description", "expected_output", "tags",
             "interactive", "needs_terminal", "runs_until_stopped", "session_lines"}

DEMO = """---
title: Demo
vars:
  token: {secret: true, env: DEMO_TOKEN}
  version: "1.2"
---
# Deploy

## Prepare

```bash {#ship confirm}
deploy --token {{ token }} --build {{ build | q }} {{ version }}
kill -9 <PID>
echo "$API_URL"
```

```bash {#get-build capture=build}
cat BUILD_ID
```

- [ ] Tell the team

```python
print(1)
```
"""


def demo_doc(cli: dict[str, str] | None = None, env: dict[str, str] | None = None
             ) -> dict[str, Any]:
    runbook = parse_text(DEMO, "demo.md")
    graph = build_graph(runbook, known=list(cli or {}))
    return plan_document(graph, graph.steps, initial_variables(runbook, cli or {}, env or {}))


def test_plan_document_shape() -> None:
    doc = demo_doc()
    assert set(doc) == {"title", "path", "granularity", "default_targets", "variables", "steps",
                        "edges", "problems"}
    assert (doc["title"], doc["path"], doc["granularity"]) == ("Demo", "demo.md", "auto")
    assert all(set(s) == STEP_KEYS for s in doc["steps"])
    assert [s["id"] for s in doc["steps"]] == [
        "get-build", "ship", "tell-the-team", "tell-the-team-2"]
    assert doc["edges"] == [["get-build", "ship"]]
    assert [set(p) for p in doc["problems"]] == [{"severity", "path", "line", "message", "code"}]


def test_plan_step_fields() -> None:
    ship = demo_doc()["steps"][1]
    assert ship["code"] == ("deploy --token {{ token }} --build {{ build }} 1.2\nkill -9 <PID>\n"
                            'echo "$API_URL"\n')
    assert ship["danger"] == ["kill -9 stops processes without letting them clean up"]
    assert ship["placeholders"] == ["PID"]
    assert ship["env"] == ["API_URL"]
    assert ship["needs"] == ["get-build"]
    assert ship["targets"] == ["local"]
    assert (ship["confirm"], ship["section"], ship["line"]) == (True, ["Deploy", "Prepare"], 11)
    kinds = [(s["kind"], s["executable"]) for s in demo_doc()["steps"]]
    assert kinds == [("shell", True), ("shell", True), ("manual", False), ("doc", False)]


def test_plan_variables_sources_and_secret_masking() -> None:
    doc = demo_doc(cli={"PID": "4242"}, env={"DEMO_TOKEN": "s3cr3t-token"})
    assert doc["variables"] == [
        {"name": "token", "source": "env", "secret": True, "value": "****"},
        {"name": "version", "source": "default", "secret": False, "value": "1.2"},
        {"name": "PID", "source": "cli", "secret": False, "value": "4242"},
    ]
    text = plan_json(doc)
    assert "s3cr3t-token" not in text
    assert "deploy --token **** --build {{ build }} 1.2\nkill -9 4242\n" in doc["steps"][1]["code"]


def test_plan_unknown_values_are_prompts() -> None:
    doc = demo_doc()
    assert doc["variables"][0] == {"name": "token", "source": "prompt", "secret": True,
                                   "value": None}
    assert doc["variables"][2] == {"name": "PID", "source": "prompt", "secret": False,
                                   "value": None}


def test_danger_override_and_targets() -> None:
    steps = (Step("a", "A", "rb.md", 1, "shell", "bash", "echo hi", index=1, danger=True,
                  on=("web", "db")),
             Step("b", "B", "rb.md", 5, "shell", "bash", "rm -rf /x", index=2, danger=False))
    graph = build_graph(Runbook("rb.md", "T", steps))
    doc = plan_document(graph, graph.steps, {})
    assert [s["danger"] for s in doc["steps"]] == [["marked dangerous"], []]
    assert doc["steps"][0]["targets"] == ["web", "db"]


def test_plan_json_round_trips() -> None:
    doc = demo_doc()
    assert json.loads(plan_json(doc)) == doc
    assert plan_json(doc).startswith('{\n  "title": "Demo"')


def test_plan_markdown_is_a_checklist() -> None:
    md = plan_markdown(demo_doc(env={"DEMO_TOKEN": "s3cr3t-token"}))
    assert md.startswith("# Demo\n")
    assert "| `token` | `****` | env |" in md
    assert "### Deploy › Prepare" in md
    assert "- [ ] **2. Prepare** (`ship`) — on local" in md
    assert "  - ⚠ DANGER: kill -9 stops processes without letting them clean up" in md
    assert "  - capture: `build`" in md
    assert "- [ ] **3. Tell the team** (`tell-the-team`) — manual" in md
    assert "(reference, not run)\n>\n> ```python\n> print(1)\n> ```" in md
    assert "  ```bash\n  cat BUILD_ID\n  ```" in md
    assert "s3cr3t-token" not in md


def test_plan_mermaid_has_nodes_edges_and_danger_style() -> None:
    out = plan_mermaid(demo_doc())
    lines = out.splitlines()
    assert lines[0] == "flowchart TD"
    assert '    get_build["1. Prepare"]' in lines
    assert "    get_build --> ship" in lines
    assert "    class ship danger" in lines


def test_mermaid_escapes_labels() -> None:
    doc = {"steps": [{"id": "a", "title": 'Say "hi" <now> & go', "kind": "shell", "danger": []},
                     {"id": "end", "title": "2. Done", "kind": "doc", "danger": []},
                     {"id": "a.b", "title": "x", "kind": "shell", "danger": []},
                     {"id": "a_b", "title": "y", "kind": "shell", "danger": []}],
           "edges": [["a", "end"]]}
    lines = plan_mermaid(doc).splitlines()
    assert '    a["1. Say #quot;hi#quot; #lt;now#gt; #amp; go"]' in lines
    assert '    s_end(["2. Done"])' in lines
    assert '    a_b["3. x"]' in lines and '    a_b_2["4. y"]' in lines
    assert "    a --> s_end" in lines


def test_initial_variables_precedence() -> None:
    runbook = Runbook("rb.md", "T", (), vars=(
        VarSpec("a", default="d", has_default=True, env="A_ENV"),
        VarSpec("b", default="d", has_default=True, env="B_ENV"),
        VarSpec("c", default="d", has_default=True),
        VarSpec("d"),
        VarSpec("pw", env="PW", secret=True),
    ))
    found = initial_variables(runbook, {"a": "cli", "undeclared": "u", "API_TOKEN": "t"},
                              {"A_ENV": "env", "B_ENV": "env", "PW": "hunter2"})
    assert found["a"] == Variable("a", "cli", "cli")
    assert found["b"] == Variable("b", "env", "env")
    assert found["c"] == Variable("c", "d", "default")
    assert "d" not in found
    assert found["pw"].secret and found["pw"].display == "****"
    assert found["undeclared"].source == "cli" and found["API_TOKEN"].secret


def test_initial_variables_validation_errors_carry_the_line() -> None:
    runbook = Runbook("rb.md", "T", (), vars=(VarSpec("env", choices=("dev", "prod"), line=4),
                                             VarSpec("n", pattern=r"\d+", line=7)))
    with pytest.raises(RunbookError) as info:
        initial_variables(runbook, {"env": "qa"}, {})
    assert str(info.value) == ("rb.md:4: variable 'env' must be one of dev, prod (got 'qa') "
                               "from --var")
    with pytest.raises(RunbookError, match=r"^rb.md:7: variable 'n' must match"):
        initial_variables(runbook, {"n": "x1"}, {})
    assert validate(VarSpec("n", pattern=r"\d+"), "12") is None


def test_parse_var_args() -> None:
    assert parse_var_args(["a=1", "your-db-name=x=y", "a=2", "e="]) == {
        "a": "2", "your-db-name": "x=y", "e": ""}
    with pytest.raises(UsageError, match="--var expects NAME=VALUE, got 'bad'"):
        parse_var_args(["bad"])


def test_ten_thousand_step_plan_is_fast() -> None:
    steps = tuple(Step(f"s{i}", f"Step {i}", "b.md", i * 4 + 1, "shell", "bash",
                       f"echo {i} {{{{ v | q }}}} $HOME\nkill -9 <PID>\n", index=i + 1)
                  for i in range(10_000))
    runbook = Runbook("b.md", "bench", steps, vars=(VarSpec("v", default="x", has_default=True),))
    start = time.process_time()  # the plan's own work, not the other processes of a busy machine
    graph = build_graph(runbook)
    doc = plan_document(graph, graph.steps, initial_variables(runbook, {}, {}))
    elapsed = time.process_time() - start
    assert len(doc["steps"]) == 10_000 and doc["steps"][5]["code"].startswith("echo 5 x $HOME")
    assert elapsed < 3.0  # measured ~0.4 s; generous for loaded CI machines
