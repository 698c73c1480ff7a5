"""Patterns compiled at first use (lazyre): the same answers as ``re``, every table compiles."""

from __future__ import annotations

import importlib
import pkgutil
import re
import threading
from pathlib import Path

from cliprobe import after_cli

import runbook_engine
from runbook_engine import lazyre


def test_a_stand_in_answers_as_the_compiled_pattern() -> None:
    lazy = lazyre.compile(r"(?P<word>[a-z]+)-(\d+)", re.IGNORECASE)
    real = re.compile(r"(?P<word>[a-z]+)-(\d+)", re.IGNORECASE)
    assert lazy.pattern == real.pattern
    text = "Web-1 db-22 x"
    found, expected = lazy.search(text), real.search(text)
    assert found is not None and expected is not None
    assert found.group("word") == expected.group("word") == "Web"
    assert lazy.findall(text) == real.findall(text)
    assert lazy.sub(r"\2", text) == real.sub(r"\2", text) == "1 22 x"
    assert [m.span() for m in lazy.finditer(text)] == [m.span() for m in real.finditer(text)]
    assert lazy.fullmatch("a-1") is not None and lazy.match(" a-1") is None
    assert (lazy.flags, lazy.groups, lazy.groupindex) == (real.flags, real.groups, real.groupindex)
    assert lazy.split(text) == real.split(text)
    assert repr(lazy) == repr(real)
    raw = lazyre.compile(rb"a(b)")
    assert raw.sub(rb"\1", b"xab") == b"xb"


def test_composing_a_pattern_compiles_nothing() -> None:
    lazy = lazyre.compile(r"[")  # would raise at compile: nothing compiles it until a use
    assert lazy.pattern == "["
    lazyre.MADE.remove(lazy)  # (the package's patterns are all checked below)
    try:
        lazy.search("x")
    except re.error:
        pass
    else:
        raise AssertionError("a bad pattern compiled")


def test_threads_meeting_a_new_pattern_agree() -> None:
    lazy = lazyre.compile(r"(\w+)@(\w+)")
    found: list[object] = []

    def use() -> None:
        match = lazy.match("a@b")
        found.append(match.groups() if match else None)

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == [("a", "b")] * 8


def test_every_pattern_of_the_package_compiles() -> None:
    for module in pkgutil.walk_packages(runbook_engine.__path__, "runbook_engine."):
        if not module.name.startswith(("runbook_engine.web", "runbook_engine.__main__")):
            importlib.import_module(module.name)
    assert len(lazyre.MADE) > 200  # the reading tables are made lazily
    for stand_in in lazyre.MADE:
        re.compile(stand_in.pattern, stand_in._flags)  # raises for a pattern that cannot


def test_a_run_compiles_only_what_it_uses(tmp_path: Path) -> None:
    book = tmp_path / "book.md"
    book.write_text("# T\n\n```bash\necho hi\n```\n")
    expression = ("(sum('match' in s.__dict__ for s in sys.modules['runbook_engine.lazyre'].MADE),"
                  " len(sys.modules['runbook_engine.lazyre'].MADE))")
    out, value = after_cli(["plan", str(book)], expression)
    used, made = map(int, value.strip("()").split(","))
    assert made > 200 and used < made / 2, out
