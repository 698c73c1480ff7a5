"""Reading round 5 (issue 9): root `# ` transcripts of tools with arguments, programs in a bin
directory, and a program-shaped line under a command in a block that shows no output."""

from __future__ import annotations

from runbook_engine.model import Step
from runbook_engine.parse import parse_text
from runbook_engine.safety import step_danger


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


def test_routeros_prompts_give_manual_steps_judged_by_their_menu_verbs() -> None:
    found = steps(fence('[admin@gw1] > /ip firewall filter remove [find comment="old"]\n'
                        "[admin@gw1] > /ip address print\n[admin@gw1] /system> reboot"))
    assert [(s.code, s.executable, bool(step_danger(s))) for s in found] == [
        ('/ip firewall filter remove [find comment="old"]', False, True),
        ("/ip address print", False, False), ("reboot", False, True)]


def test_mysql_shell_prompts_feed_javascript() -> None:
    found = steps(fence(" MySQL  db-a:3306 ssl  JS > cluster.status()\n{}\n"
                        " MySQL  db-a:3306 ssl  JS > cluster.dissolve({force: true})"))
    assert [(s.code, s.lang, bool(step_danger(s))) for s in found] == [
        ("cluster.status()", "javascript", False),
        ("cluster.dissolve({force: true})", "javascript", True)]


def test_junos_configuration_words_are_the_devices_not_a_root_shells() -> None:
    found = steps(fence("netops@core-2# rollback 1\nnetops@core-2# delete interfaces ge-0/0/1\n"
                        "root@web-1# set -o vi"))
    assert [(s.lang, bool(step_danger(s))) for s in found] == [
        ("netdev", False), ("netdev", True), ("", False)]


def test_a_database_shell_prompt_in_user_at_host_form_feeds_its_query() -> None:
    found = steps(fence("neo4j@sessions> MATCH (s:Session) DETACH DELETE s;"))
    assert [(s.lang, bool(step_danger(s))) for s in found] == [("cypher", True)]


def test_mqsc_typed_into_runmqsc_among_its_replies_is_fed_to_it() -> None:
    book = fence("$ runmqsc QM1\nStarting MQSC for queue manager QM1.\n\n"
                 "DISPLAY QLOCAL(Q1) CURDEPTH\n     1 : DISPLAY QLOCAL(Q1) CURDEPTH\n"
                 "AMQ8409I: Display Queue details.\nDELETE QLOCAL(Q1)\nEND")
    found = steps(book)
    assert [(s.code, s.interpreter, bool(step_danger(s))) for s in found] == [
        ("runmqsc QM1", None, False), ("DISPLAY QLOCAL(Q1) CURDEPTH", "runmqsc QM1", False),
        ("DELETE QLOCAL(Q1)", "runmqsc QM1", True), ("END", "runmqsc QM1", False)]


def test_a_csh_prompt_with_a_path_then_angle_is_a_shell() -> None:
    found = steps(fence("hdbadm@hana02:/usr/sap/HDB/HDB00> hdbnsutil -sr_state"))
    assert [s.code for s in found] == ["hdbnsutil -sr_state"]
