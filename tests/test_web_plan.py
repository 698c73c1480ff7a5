"""`runbook plan --format html`: one self-contained notebook page (prose, cells, dangers, graph),
with everything from the runbook escaped and nothing loaded from elsewhere."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}

HOSTILE = """---
title: "Restore <img src=x onerror=alert(1)>"
vars:
  token: {secret: true}
---

# Restore <script>alert('prose')</script>

Some *prose* with [a link](javascript:alert(3)) and <b onclick="alert(4)">raw html</b>.

<!-- runbook: id=not-shown -->

```bash {#wipe}
rm -rf /var/lib/app/cache   # </code></pre><script>alert(2)</script>
```

Expected output of the check:

```text
<script>alert('output example')</script>
```

```bash {#use-token needs=wipe}
curl -H "Authorization: Bearer {{ token }}" https://<HOST>/restore
```

- [ ] Tell the <i>team</i> it is done
"""


def plan_html(book: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runbook_engine", "plan", str(book),
                           "--format", "html", *args], capture_output=True, text=True,
                          cwd=ROOT, env=ENV, timeout=60)


def test_the_page_has_the_prose_each_step_as_a_cell_and_the_graph() -> None:
    result = plan_html(ROOT / "books" / "host-health.md")
    assert result.returncode == 0, result.stderr
    page = result.stdout
    assert page.startswith("<!doctype html>")
    for step in ("identity", "load", "memory", "top-memory", "disk"):
        assert f'data-step="{step}"' in page  # a cell and a graph node
        assert page.count(f'data-step="{step}"') == 2
    assert "<h2>Identity</h2>" in page  # prose headings, rendered from the Markdown
    assert "Every step only reads." in page
    assert "limit=90" in page  # {{ disk_warn_percent | q }} filled in
    assert '<svg class="graph"' in page
    assert 'class="hl-bold">echo</span>' in page  # highlighted like the terminal


def test_the_page_is_self_contained_and_allows_nothing_else() -> None:
    page = plan_html(ROOT / "books" / "host-health.md").stdout
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp is not None and "default-src 'none'" in csp.group(1)
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp.group(1)  # the inline style is the only one allowed


def test_runbook_text_is_escaped_everywhere(tmp_path: Path) -> None:
    book = tmp_path / "hostile.md"
    book.write_text(HOSTILE)
    result = plan_html(book)
    assert result.returncode == 0, result.stderr
    page = result.stdout
    assert "<script" not in page and "<img" not in page and "onclick=" not in page.replace(
        "onclick=&quot;", "")
    assert not re.search(r"href=[\"']?javascript:", page)  # the link stays text
    assert "&lt;script&gt;alert('prose')&lt;/script&gt;" in page
    assert "&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;" in page  # in the code, as text
    assert "&lt;b onclick=&quot;alert(4)&quot;&gt;" in page  # raw HTML shown as text
    assert "not-shown" not in page  # annotation comments are not prose
    assert "Restore &lt;img src=x onerror=alert(1)&gt;" in page


def test_dangers_placeholders_needs_and_manual_steps_are_shown(tmp_path: Path) -> None:
    book = tmp_path / "hostile.md"
    book.write_text(HOSTILE)
    page = plan_html(book).stdout
    wipe = re.search(r'<section class="cell[^"]*" id="step-wipe".*?</section>', page, re.S)
    assert wipe is not None and "danger" in wipe.group(0).split(">")[0]
    assert "the operator types <code>wipe</code> to run it" in wipe.group(0)
    use = re.search(r'<section class="cell[^"]*" id="step-use-token".*?</section>', page, re.S)
    assert use is not None
    assert 'asks for <code>HOST</code>' in use.group(0)
    assert 'after <a href="#step-wipe">wipe</a>' in use.group(0)
    assert '<path class="edge"' in page  # needs=wipe is an arc in the graph
    assert re.search(r'data-step="[^"]+" data-kind="manual"', page)  # the task item's cell
    assert 'data-kind="doc"' in page and "reference, not run" in page  # the example output


def test_blocks_outside_the_selection_are_shown_but_not_cells(tmp_path: Path) -> None:
    book = tmp_path / "hostile.md"
    book.write_text(HOSTILE)
    page = plan_html(book, "--only", "wipe").stdout
    assert 'data-step="wipe"' in page and 'data-step="use-token"' not in page
    assert '<div class="unrun">' in page and "Bearer {{ token }}" in page


def test_a_secret_given_on_the_command_line_is_masked(tmp_path: Path) -> None:
    book = tmp_path / "hostile.md"
    book.write_text(HOSTILE)
    result = plan_html(book, "--var", "token=s3cr3t-value-42")
    assert result.returncode == 0, result.stderr
    assert "s3cr3t-value-42" not in result.stdout
    assert "****" in result.stdout


def test_plan_html_imports_neither_the_web_server_nor_rich() -> None:
    code = ("import sys, runpy; sys.argv=['runbook', *sys.argv[1:]]\n"
            "try:\n    runpy.run_module('runbook_engine', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "heavy = {'starlette', 'uvicorn', 'rich', 'paramiko'} & "
            "{m.split('.')[0] for m in sys.modules}\n"
            "print('LOADED', sorted(heavy), file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", code, "plan", "books/host-health.md",
                             "--format", "html"], capture_output=True, text=True, cwd=ROOT,
                            env=ENV, timeout=60)
    assert result.stderr.strip().endswith("LOADED []"), result.stderr
