"""The `runbook` CLI as a user runs it: real subprocesses, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT.parent / "shared" / "seeds"
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "120"}


def runbook(*args: str, cwd: Path | None = None, input: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runbook_engine", *args], capture_output=True,
                          text=True, cwd=cwd or ROOT, env=env or ENV, input=input, timeout=120)


def write(tmp_path: Path, text: str, name: str = "book.md") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_plan_json_has_the_contract_fields() -> None:
    result = runbook("plan", "books/host-health.md", "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["title"] == "Host health check"
    step = doc["steps"][0]
    for key in ("index", "id", "title", "section", "line", "lang", "kind", "executable", "code",
                "targets", "needs", "confirm", "danger", "placeholders", "env", "capture", "when",
                "timeout", "parent", "choice", "interpreter"):
        assert key in step, key
    assert [s["id"] for s in doc["steps"]][:3] == ["identity", "load", "memory"]
    disk = next(s for s in doc["steps"] if s["id"] == "disk")
    assert "limit=90" in disk["code"]  # the default filled in and shell-quoted
    assert any(s["kind"] == "manual" for s in doc["steps"])


def test_plan_text_shows_unresolved_values_visibly(tmp_path: Path) -> None:
    book = write(tmp_path, "# T\n\n```bash {#a}\necho {{ later }}\n```\n\n"
                           "```bash {#b capture=later}\necho x\n```\n")
    result = runbook("plan", str(book))
    assert result.returncode == 0, result.stderr
    assert "{{ later }}" in result.stdout


def test_plan_missing_file_is_one_line_exit_2(tmp_path: Path) -> None:
    result = runbook("plan", str(tmp_path / "nope.md"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "nope.md" in result.stderr
    assert "Traceback" not in result.stderr


def test_plan_broken_front_matter_names_the_line(tmp_path: Path) -> None:
    book = write(tmp_path, "---\ntitle: x\nvars: [a\n---\n# T\n")
    result = runbook("plan", str(book))
    assert result.returncode == 2
    assert f"{book}:" in result.stderr and "Traceback" not in result.stderr


def test_plan_not_utf8_and_random_bytes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_bytes(bytes(range(256)) * 10)
    result = runbook("plan", str(bad))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert str(bad) in result.stderr


def test_plan_cycle_exits_1_naming_every_step(tmp_path: Path) -> None:
    book = write(tmp_path, "# T\n\n```bash {#a needs=b}\necho a\n```\n\n"
                           "```bash {#b needs=a}\necho b\n```\n")
    result = runbook("plan", str(book))
    assert result.returncode == 1
    assert "cycle" in result.stderr and "a" in result.stderr and "b" in result.stderr
    assert f"{book}:" in result.stderr


def test_plan_unknown_needs_exits_1(tmp_path: Path) -> None:
    book = write(tmp_path, "# T\n\n```bash {#a needs=zzz}\necho a\n```\n")
    result = runbook("plan", str(book))
    assert result.returncode == 1 and "zzz" in result.stderr


def test_plan_formats_markdown_and_mermaid() -> None:
    md = runbook("plan", "books/host-health.md", "--format", "markdown")
    assert md.returncode == 0 and "- [ ]" in md.stdout
    mermaid = runbook("plan", "books/api-not-starting.md", "--format", "mermaid")
    assert mermaid.returncode == 0 and mermaid.stdout.startswith("flowchart")
    assert "port-owner" in mermaid.stdout or "port_owner" in mermaid.stdout


def test_only_pulls_in_needs() -> None:
    result = runbook("plan", "books/api-not-starting.md", "--only", "free-port", "--format", "json")
    assert result.returncode == 0, result.stderr
    ids = [s["id"] for s in json.loads(result.stdout)["steps"]]
    assert ids == ["port-owner", "free-port"]


def test_unknown_only_is_a_usage_error() -> None:
    result = runbook("plan", "books/api-not-starting.md", "--only", "free-prot")
    assert result.returncode == 2 and "free-port" in result.stderr  # did you mean


def test_list_shows_a_table() -> None:
    result = runbook("list", "books/api-not-starting.md")
    assert result.returncode == 0
    assert "free-port" in result.stdout and "danger" in result.stdout


def test_lint_reports_path_line_col_and_exit_code(tmp_path: Path) -> None:
    book = write(tmp_path, "# T\n\n```bash {#a timout=5}\nif true; then\necho x\n```\n")
    result = runbook("lint", str(book))
    assert result.returncode == 1
    assert f"{book}:3:" in result.stdout and "timeout" in result.stdout  # did-you-mean
    assert "syntax" in result.stdout
    data = json.loads(runbook("lint", str(book), "--format", "json").stdout)
    assert {p["severity"] for p in data["problems"]} >= {"warning", "error"}


def test_lint_clean_books_exit_0() -> None:
    books = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "books").glob("*.md"))
    result = runbook("lint", *books)
    assert result.returncode == 0, result.stdout + result.stderr


def test_plan_lint_list_never_import_paramiko(tmp_path: Path) -> None:
    code = ("import sys, runpy; sys.argv=['runbook', *sys.argv[1:]]\n"
            "try:\n    runpy.run_module('runbook_engine', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print('PARAMIKO' if 'paramiko' in sys.modules else 'CLEAN', file=sys.stderr)\n")
    for args in (["plan", "examples/fleet.md"], ["lint", "examples/fleet.md"],
                 ["list", "examples/fleet.md"]):
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                                text=True, cwd=ROOT, env=ENV, timeout=60)
        assert result.stderr.strip().endswith("CLEAN"), (args, result.stderr)


def test_version_imports_only_the_command_line() -> None:
    # a start that needs nothing else pays for nothing else (the run's prompts' help included)
    code = ("import sys, runpy; sys.argv=['runbook', '--version']\n"
            "try:\n    runpy.run_module('runbook_engine', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "heavy = {'paramiko', 'rich', 'jinja2', 'markdown_it', 'tree_sitter', 'yaml'} & "
            "{m.split('.')[0] for m in sys.modules}\n"
            "ours = sorted(m for m in sys.modules if m.startswith('runbook_engine.'))\n"
            "print('LOADED', sorted(heavy), ours, file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, env=ENV, timeout=60)
    assert result.stdout.startswith("runbook, version")
    loaded = result.stderr.strip().splitlines()[-1]
    assert loaded == "LOADED [] ['runbook_engine.cli', 'runbook_engine.model']", result.stderr


@pytest.mark.skipif(not SEEDS.is_dir() and os.environ.get("CI") != "true",
                    reason="../shared/seeds not present")
@pytest.mark.parametrize("granularity", ["block", "command"])
def test_every_seed_plans_and_lints(granularity: str) -> None:
    seeds = sorted(SEEDS.glob("*.txt"))
    assert len(seeds) == 5
    for seed in seeds:
        result = runbook("plan", str(seed), "--format", "json", "--granularity", granularity)
        assert result.returncode == 0, (seed, result.stderr)
        doc = json.loads(result.stdout)
        assert len(doc["steps"]) > 10
        assert all(s["line"] >= 1 for s in doc["steps"])
        lint = runbook("lint", str(seed), "--granularity", granularity)
        assert lint.returncode in (0, 1) and "Traceback" not in lint.stderr


def test_run_without_terminal_and_without_yes_exits_2() -> None:
    result = runbook("run", "books/host-health.md", input="")
    assert result.returncode == 2
    assert "--yes" in result.stderr and result.stderr.count("\n") == 1


def test_run_yes_on_the_health_book(tmp_path: Path) -> None:
    result = runbook("run", "books/host-health.md", "--yes", "--transcript-dir",
                     str(tmp_path / "t"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "kernel:" in result.stdout
    transcripts = list((tmp_path / "t").glob("*.jsonl"))
    assert len(transcripts) == 1
    assert oct(transcripts[0].stat().st_mode & 0o777) == "0o600"
    events = [json.loads(line) for line in transcripts[0].read_text().splitlines()]
    assert events[0]["event"] == "run_started" and events[-1]["event"] == "run_finished"
    assert events[-1]["open_items"]  # the hand-over checklist item


def test_run_yes_refuses_dangerous_steps_before_running(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    book = write(tmp_path, f"# T\n\n```bash {{#first}}\ntouch {marker}\n```\n\n"
                           "```bash {#wipe}\nrm -rf /tmp/runbook-test-nothing-here\n```\n")
    result = runbook("run", str(book), "--yes", "--transcript-dir", str(tmp_path / "t"))
    assert result.returncode == 1
    assert "wipe" in result.stderr and "rm -r" in result.stderr
    assert not marker.exists()
    allowed = runbook("run", str(book), "--yes", "--allow-danger", "--transcript-dir",
                      str(tmp_path / "t"))
    assert allowed.returncode == 0, allowed.stderr
    assert marker.exists()


def test_run_failed_step_exits_1_and_stops(tmp_path: Path) -> None:
    marker = tmp_path / "after"
    book = write(tmp_path, f"# T\n\n```bash {{#bad}}\nfalse\n```\n\n"
                           f"```bash {{#after}}\ntouch {marker}\n```\n")
    result = runbook("run", str(book), "--yes", "--transcript-dir", str(tmp_path / "t"))
    assert result.returncode == 1 and not marker.exists()
    result = runbook("run", str(book), "--yes", "--continue-on-error", "--transcript-dir",
                     str(tmp_path / "t"))
    assert result.returncode == 1 and marker.exists()


def test_a_mistyped_filter_or_test_is_one_line_in_every_command(tmp_path: Path) -> None:
    book = write(tmp_path, "# T\n\nIntro\n\n```bash {#a}\necho one\necho {{ name | uper }}\n```\n\n"
                           "```bash {#b}\n{% if name is nmber %}echo x{% endif %}\n```\n")
    filter_line = f"{book}:7: error: step 'a': unknown filter 'uper' (did you mean 'upper'?)"
    test_line = f"{book}:11: error: step 'b': unknown test 'nmber' (did you mean 'number'?)"
    for command in ("plan", "list"):
        result = runbook(command, str(book), "--var", "name=x")
        assert result.returncode == 0 and "Traceback" not in result.stdout + result.stderr
        shown = [line.strip() for line in (result.stdout + result.stderr).splitlines()]
        assert filter_line in shown and test_line in shown, command
    lint = runbook("lint", str(book))
    assert lint.returncode == 1 and "Traceback" not in lint.stderr
    assert f"{book}:7:1: error: step 'a': unknown filter 'uper'" in lint.stdout
    assert f"{book}:11:1: error: step 'b': unknown test 'nmber'" in lint.stdout
    run = runbook("run", str(book), "--yes", "--var", "name=x", "--transcript",
                  str(tmp_path / "t.jsonl"), cwd=tmp_path)
    assert run.returncode == 2 and not (tmp_path / "t.jsonl").exists()
    assert run.stderr.splitlines()[:2] == [filter_line.replace(" error:", ""),
                                           test_line.replace(" error:", "")]
