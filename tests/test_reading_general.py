"""Reading habits of runbooks nobody here wrote (issue 9): sessions, prompts, placeholders."""

from __future__ import annotations

from runbook_engine.model import Step
from runbook_engine.parse import parse_text


def steps(markdown: str) -> list[Step]:
    return [s for s in parse_text(markdown, "book.md", None).steps if s.kind != "doc"]


def fence(body: str, tag: str = "", before: str = "") -> str:
    return f"# Book\n\n{before}\n\n```{tag}\n{body}\n```\n"


# ---------------------------------------------------------------- sessions


def test_an_ssh_line_and_its_exit_are_the_session_of_the_steps_between() -> None:
    book = fence("ssh ops@cache-07\nsudo systemctl status memcached\nfree -m\nexit\ndate", "bash")
    found = steps(book)
    assert [(s.line, s.on) for s in found] == [(7, ("ops@cache-07",)), (8, ("ops@cache-07",)),
                                               (10, ())]
    assert [s.session_lines for s in found] == [(6,), (6, 9), ()]


def test_a_client_opened_in_a_block_is_the_session_of_each_statement_fed_to_it() -> None:
    book = fence("mysql -h db-3 -u admin inventory\nSHOW PROCESSLIST;\nSELECT 1;", "")
    found = steps(book)
    assert [(s.line, s.interpreter, s.session_lines) for s in found] == [
        (7, "mysql -h db-3 -u admin inventory", (6,)),
        (8, "mysql -h db-3 -u admin inventory", (6,))]


def test_transcript_sessions_name_the_prompted_opener_and_closer() -> None:
    book = fence("$ ssh admin@vault-2\n$ vault status\nSealed  false\n$ exit\n"
                 "$ psql -U app orders\norders=> \\dt\norders=> \\q", "console")
    found = steps(book)
    assert [(s.line, s.session_lines) for s in found] == [(7, (6, 9)), (11, (10,)), (12, (10,))]
