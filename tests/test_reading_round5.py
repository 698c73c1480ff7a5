"""Reading round 5 (issue 9): root `# ` transcripts of tools with arguments, programs in a bin
directory, and a program-shaped line under a command in a block that shows no output."""

from __future__ import annotations

from runbook_engine.model import Step
from runbook_engine.parse import parse_text


def steps(markdown: str) -> list[Step]:
    return [s for s in parse_text(markdown, "book.md", None).steps if s.kind != "doc"]


def fence(body: str, tag: str = "") -> str:
    return f"# Book\n\nRun:\n\n```{tag}\n{body}\n```\n"


def test_a_console_block_of_root_prompts_only_is_a_transcript() -> None:
    book = fence("# drbdadm status r0\n# drbdadm disconnect r0\n# frobctl connect --force r0",
                 "console")
    assert [(s.line, s.code) for s in steps(book)] == [
        (6, "drbdadm status r0"), (7, "drbdadm disconnect r0"), (8, "frobctl connect --force r0")]


def test_a_root_hash_comment_in_words_stays_a_comment() -> None:
    book = fence("# restart the service on node2 if it hangs\nsystemctl status nginx", "console")
    assert [s.code for s in steps(book)] == ["systemctl status nginx"]


def test_a_program_in_a_bin_directory_is_a_command_under_another() -> None:
    book = fence('curl -s "http://solr:8983/solr/admin/info/system" | jq .\n'
                 "bin/solr delete -c products_v5\nbin/solr zk rm -r /configs/old -z zk1:2181",
                 "bash")
    assert [s.line for s in steps(book)] == [6, 7, 8]


def test_a_program_shaped_line_under_a_command_is_typed_when_nothing_is_printed() -> None:
    found = steps(fence("pcs node standby db-b\ncrm_mon -1", "bash"))
    assert [s.code for s in found] == ["pcs node standby db-b", "crm_mon -1"]
    found = steps(fence("crontab -l\natq", "bash"))
    assert [s.code for s in found] == ["crontab -l", "atq"]


def test_a_word_under_a_command_stays_its_output_in_a_block_that_shows_output() -> None:
    found = steps(fence("systemctl is-enabled nginx\nenabled\n"
                        "ls -l /etc/nginx\n-rw-r--r-- 1 root root 1490 Jan  1 12:00 nginx.conf",
                        "bash"))
    assert [s.code for s in found] == ["systemctl is-enabled nginx", "ls -l /etc/nginx"]
