"""The import graph stays layered: each layer imports only itself and the layers under it, with
no circles, and each third-party library has one home. Imports are read with ``ast`` (those
inside functions and under TYPE_CHECKING count too), so a lazy import cannot hide a wrong edge."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "runbook_engine"

#: layer -> (its units: top-level modules or subpackages, the layers it may import besides itself)
LAYERS: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {
    # leaf helpers every layer may use: the model, secrets masking, timestamps, bounded output
    "foundation": (frozenset({"runbook_engine", "model", "redact", "stamps", "mdtext", "gcpause",
                              "outputs", "shell_lex", "placeholders", "records", "expected",
                              "folding", "hostpattern", "yamlsafe", "regexes", "lazyre"}), ()),
    # Markdown -> steps -> graph -> plan; templates and the danger rules
    "reading": (frozenset({"parse", "danger", "safety", "liveness", "template", "variables",
                           "graph", "inventory", "inventory_files", "targets", "hostlimit",
                           "lint", "load", "render", "programs",
                           "danger_rules", "danger_grammar", "danger_text", "danger_doc",
                           "danger_args", "danger_match", "danger_generic", "danger_lexicon"}),
                ("foundation",)),
    # the typed event stream and the run state folded from it
    "events": (frozenset({"events", "state"}), ("foundation",)),
    "runners": (frozenset({"runners"}), ("foundation", "reading")),
    "engine": (frozenset({"control", "answers", "inputs", "execution", "recording", "engine",
                          "checking", "fanout"}),
               ("foundation", "reading", "events", "runners")),
    # the JSONL writer and reader, resume, the reports
    "transcript": (frozenset({"transcript"}), ("foundation", "reading", "events")),
    # the terminal: the only rich importer; it implements the engine's Controller
    "ui": (frozenset({"ui"}), ("foundation", "events", "engine")),
    # the notebook page and the live run in a browser: the only Starlette/uvicorn importer
    "web": (frozenset({"web"}), ("foundation", "reading", "events", "engine", "transcript", "ui")),
    # the command line on top: wires everything
    "app": (frozenset({"runcmd", "termination", "servecmd", "followcmd", "cli", "__main__",
                       "testing"}),
            ("foundation", "reading", "events", "runners", "engine", "transcript", "ui", "web")),
}

#: third-party library -> the only units that may import it
HOMES = {
    "jinja2": {"template"},
    "rich": {"ui"},
    "click": {"cli"},
    "paramiko": {"runners.ssh"},
    "tree_sitter": {"parse.commands"},
    "tree_sitter_bash": {"parse.commands"},
    "starlette": {"web.server"},
    "uvicorn": {"web.server"},
}

def modules() -> dict[str, tuple[Path, bool]]:
    """Dotted module name (without ``runbook_engine.``; the root is ``runbook_engine``) -> path."""
    found: dict[str, tuple[Path, bool]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        found[".".join(parts) or "runbook_engine"] = (path, is_package)
    return found


MODULES = modules()


def imports(name: str) -> Iterator[tuple[str, int]]:
    """(imported name, line): ours as module names like the keys of MODULES, others by top name."""
    path, is_package = MODULES[name]
    here = [] if name == "runbook_engine" else name.split(".")
    package = here if is_package else here[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield _ours(alias.name) or alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                target = _ours(node.module or "")
                if target is None:
                    yield (node.module or "").split(".")[0], node.lineno
                    continue
                base = [] if target == "runbook_engine" else target.split(".")
            else:
                base = package[: len(package) - (node.level - 1)]
                base += (node.module or "").split(".") if node.module else []
            for alias in node.names:
                candidate = ".".join([*base, alias.name])
                yield (candidate if candidate in MODULES else ".".join(base) or "runbook_engine",
                       node.lineno)


def _ours(dotted: str) -> str | None:
    if dotted == "runbook_engine":
        return "runbook_engine"
    if dotted.startswith("runbook_engine."):
        return dotted.removeprefix("runbook_engine.")
    return None


def where(name: str) -> str:
    return str(MODULES[name][0].relative_to(PACKAGE.parent))


def unit_of(name: str) -> str:
    return name.split(".")[0]


def layer_of(name: str) -> str | None:
    unit = unit_of(name)
    return next((layer for layer, (units, _) in LAYERS.items() if unit in units), None)


def test_every_module_has_a_layer() -> None:
    missing = sorted(name for name in MODULES if layer_of(name) is None)
    assert not missing, (f"add {missing} to a layer in tests/test_layering.py (LAYERS), "
                         "and to docs/architecture.md")


def test_layers_import_only_themselves_and_the_layers_under_them() -> None:
    wrong = []
    for name in MODULES:
        layer = layer_of(name)
        if layer is None:
            continue
        allowed = {layer, *LAYERS[layer][1]}
        for target, line in imports(name):
            if target in MODULES and layer_of(target) not in allowed:
                wrong.append(f"{where(name)}:{line}: {layer} imports {target} "
                             f"({layer_of(target)})")
    assert not wrong, "\n".join(wrong)


def test_the_layer_table_has_no_circles() -> None:
    order: list[str] = []
    for layer, (_, below) in LAYERS.items():
        assert all(b in order for b in below), f"{layer} may import a layer not listed before it"
        order.append(layer)


def test_no_import_circles() -> None:
    graph = {name: {t for t, _ in imports(name) if t in MODULES and t != name} for name in MODULES}
    circles = [sorted(c) for c in _strongly_connected(graph) if len(c) > 1]
    assert not circles


def test_each_library_has_one_home() -> None:
    wrong = []
    for name in MODULES:
        for target, line in imports(name):
            homes = HOMES.get(target)
            if homes is not None and not any(name == h or name.startswith(h + ".")
                                              for h in homes):
                wrong.append(f"{where(name)}:{line}: imports {target} "
                             f"(only {', '.join(sorted(homes))} may)")
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_lazy_and_relative_imports() -> None:
    # ui.interactive imports control relatively; runcmd imports the SSH runner inside a function
    assert "control" in {t for t, _ in imports("ui.interactive")}
    assert "runners.ssh" in {t for t, _ in imports("runcmd")}
    assert "rich" in {t for t, _ in imports("ui.interactive")}
    found = _strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert sorted(map(sorted, found)) == [["a", "b", "c"], ["d"]]


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively (the package is small, but recursion limits are not)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                found.append(component)
    return found
