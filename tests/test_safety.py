"""Safety analysis: danger rules (hits and near misses), env reads, placeholders, bash -n."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runbook_engine.model import Step
from runbook_engine.safety import (
    danger_reasons,
    env_reads,
    placeholders,
    secret_env_names,
    step_danger,
    syntax_problems,
)
from runbook_engine.template import TemplateError, render_lenient, substitute_placeholders

DANGEROUS = [
    ("rm -rf /tmp/x", "rm -rf deletes files recursively without asking"),
    ("rm -fr build", "rm -rf deletes files recursively without asking"),
    ("rm -r -f build", "rm -rf deletes files recursively without asking"),
    ("rm --recursive --force build", "rm -rf deletes files recursively without asking"),
    ("sudo rm -R /var/cache/app", "rm -r deletes directories recursively"),
    ("rm -f app.pid", "rm -f deletes files without asking"),
    ("/bin/rm -rf x", "rm -rf deletes files recursively without asking"),
    ("kill -9 1234", "kill -9 stops processes without letting them clean up"),
    ("kill -KILL 1234", "kill -9 stops processes without letting them clean up"),
    ("kill -s KILL 1234", "kill -9 stops processes without letting them clean up"),
    ("pkill -f node", "pkill kills every process matching a name or pattern"),
    ("killall nginx", "killall kills every process matching a name or pattern"),
    ('psql -c "DROP TABLE users"', "DROP TABLE deletes it and its data"),
    ("drop database shop;", "DROP DATABASE deletes it and its data"),
    ('psql -c "TRUNCATE TABLE sessions"', "TRUNCATE deletes every row of a table"),
    ('psql "$DB" -c "DELETE FROM users"', "DELETE FROM without WHERE deletes every row"),
    ("delete from users;", "DELETE FROM without WHERE deletes every row"),
    ("redis-cli FLUSHDB", "FLUSHDB deletes every key in the Redis database"),
    ("redis-cli flushall", "FLUSHALL deletes every key in every Redis database"),
    ("docker system prune -af",
     "docker system prune deletes unused containers, images and networks"),
    ("docker compose down -v", "docker compose down -v deletes the volumes and their data"),
    ("docker-compose down --volumes", "docker compose down -v deletes the volumes and their data"),
    ("terraform destroy -auto-approve", "terraform destroy deletes the resources it manages"),
    ("turso db destroy mydb", "turso db destroy may delete data or resources: its name says so"),
    ("git reset --hard origin/main", "git reset --hard discards uncommitted changes"),
    ("git push --force origin main", "git push --force rewrites history on the remote"),
    ("git push -f", "git push --force rewrites history on the remote"),
    ("git push --force-with-lease", "git push --force rewrites history on the remote"),
    ("kubectl delete pod api-0", "kubectl delete removes cluster resources"),
    ('psql -c "VACUUM FULL orders"',
     "VACUUM FULL locks the table exclusively while it rewrites it"),
    ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity;",
     "pg_terminate_backend kills database sessions"),
    ("pg_restore -d shop backup.dump", "pg_restore restores into a database, overwriting data"),
    ('psql "$DATABASE_URL" < dump.sql', "psql fed a file restores or replays it into a database"),
    ("mysql shop < backup.sql", "mysql fed a file restores or replays it into a database"),
    ("gunzip < b.sql.gz | psql shop", "psql fed a file restores or replays it into a database"),
    ("mongorestore --drop dump/", "mongorestore --drop drops each collection before restoring it"),
    ("mongorestore dump/", "mongorestore restores into a database, overwriting data"),
    ("dd if=/dev/zero of=/dev/sdb bs=1M", "dd writes raw bytes to a device"),
    ("mkfs.ext4 /dev/sdb1", "mkfs.ext4 erases a filesystem or disk"),
    ("sudo shutdown -r now", "shutdown takes the machine down"),
    ("reboot", "reboot takes the machine down"),
    ("chmod -R 777 /srv", "chmod -R 777 makes files writable by everyone"),
    ("cat image > /dev/sda",
     "writing to a raw disk device (/dev/sda) can destroy data or take the machine down"),
    ("find /var/log -name '*.log' -delete", "find -delete deletes every file it matches"),
    # nested commands: ssh strings, sh -c, command substitution, find -exec, line continuations
    ('ssh web1 "rm -rf /srv/app/releases/old"', "rm -rf deletes files recursively without asking"),
    ("sh -c 'kill -9 $(cat app.pid)'", "kill -9 stops processes without letting them clean up"),
    ("old=$(rm -rf /tmp/cache)", "rm -rf deletes files recursively without asking"),
    ("find . -exec rm -rf {} +", "rm -rf deletes files recursively without asking"),
    ("rm \\\n  -rf /tmp/x", "rm -rf deletes files recursively without asking"),
    ("cat <<'SQL' | psql\nDROP TABLE t;\nSQL", "DROP TABLE deletes it and its data"),
]


@pytest.mark.parametrize(("code", "reason"), DANGEROUS)
def test_danger_rules_fire(code: str, reason: str) -> None:
    assert reason in danger_reasons(code)


SAFE = [
    "grep -r TODO src/",
    'echo "DROP"',
    'echo "rm -rf / would be bad"',
    "kill 1234",
    "kill -HUP 1234",
    "git reset --soft HEAD~1",
    "git push origin main",
    "kubectl get pods",
    'psql -c "SELECT count(*) FROM users WHERE deleted_at IS NULL"',
    "docker compose up -d",
    "docker ps -a",
    'grep -i "select\\|union\\|drop\\|insert" access.log',
    "VACUUM ANALYZE orders;",
    "cat <<EOF\nhello\nEOF",
    "pg_dump shop > backup.sql",
    "psql shop -c 'SELECT 1'",
    "# rm -rf /\necho fine",
    "echo hi  # then kill -9 everything",
    "chmod 644 file",
    "ls -rf",
]


@pytest.mark.parametrize("code", SAFE)
def test_danger_rules_stay_quiet(code: str) -> None:
    assert danger_reasons(code) == []


def test_danger_sql_language_uses_text_rules_only() -> None:
    assert danger_reasons("-- DROP TABLE old\nSELECT 1;", "sql") == []
    assert danger_reasons("TRUNCATE audit_log;", "sql") == ["TRUNCATE deletes every row of a table"]
    # shell command rules do not apply to SQL text
    assert danger_reasons("SELECT 'rm -rf';", "sql") == []


def test_danger_reasons_unique_one_per_rule() -> None:
    reasons = danger_reasons("rm -rf a\nrm -rf b\nkill -9 1")
    assert reasons == ["rm -rf deletes files recursively without asking",
                       "kill -9 stops processes without letting them clean up"]


def _step(code: str, danger: bool | None = None, kind: str = "shell") -> Step:
    return Step(id="s", title="S", path="rb.md", line=3, kind=kind, lang="bash", code=code,  # type: ignore[arg-type]
                danger=danger)


def test_step_danger_overrides() -> None:
    assert step_danger(_step("echo hi", danger=True)) == ["marked dangerous"]
    assert step_danger(_step("rm -rf /x", danger=False)) == []
    # a manual step that carries code is read too: the operator runs it by hand
    assert step_danger(_step("rm -rf /x", kind="manual")) == [
        "rm -rf deletes files recursively without asking"]
    assert step_danger(_step("rm -rf /x", kind="doc")) == [
        "rm -rf deletes files recursively without asking"]
    assert step_danger(_step("rm -rf /x")) == ["rm -rf deletes files recursively without asking"]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("echo $HOME ${DB_URL} ${PORT:-8080} $1 $? $@ $# $$ $!", ["DB_URL", "HOME", "PORT"]),
        ("X=1\necho $X $Y", ["Y"]),
        ("export API=http://x; curl $API", []),
        ("echo $LATE\nLATE=1\necho $LATE", ["LATE"]),
        ("echo '$NOT_READ' \"$READ\"", ["READ"]),
        ("read -r NAME; echo $NAME", []),
        ("for host in a b; do ssh $host; done", []),
        ("# uses $COMMENTED\necho $lower_case", ["lower_case"]),
        ("cat <<'EOF'\n$LITERAL\nEOF\ncat <<EOF\n$EXPANDED\nEOF", ["EXPANDED"]),
        ('awk "{print \\$NF}" f', []),
        ("echo ${#ITEMS} $RANDOM $RUNBOOK_OUTPUT", ["ITEMS"]),
        ("echo $B $A $B", ["A", "B"]),
    ],
)
def test_env_reads(code: str, expected: list[str]) -> None:
    assert env_reads(code) == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("kill -9 <PID>", ["PID"]),
        ("turso db shell <your-db-name> 'SELECT 1'\nturso db tokens create <your-db-name>",
         ["your-db-name"]),
        ("ssh deploy@<production-ip> && scp f deploy@<staging-ip>:/tmp",
         ["production-ip", "staging-ip"]),
        ("cat <<EOF > out\nhello\nEOF", []),
        ("cat <<-EOF\n\thello\n\tEOF", []),
        ("diff <(sort a) <(sort b)", []),
        ("sort < input.txt > output.txt", []),
        ("# replace <not-this>\necho <this>", ["this"]),
        ("echo <b.c_d-e> <1bad> <>", ["b.c_d-e"]),
    ],
)
def test_placeholders(code: str, expected: list[str]) -> None:
    assert placeholders(code) == expected


def test_syntax_problems_reports_line_and_message() -> None:
    assert syntax_problems("echo ok\nif true; then\n  echo <PID>\n") == [
        (4, "syntax error: unexpected end of file")
    ]
    problems = syntax_problems("echo ok\necho )")
    assert problems == [(2, "syntax error near unexpected token `)'")]


def test_syntax_problems_neutralises_placeholders_and_templates() -> None:
    code = "kill -9 <PID>\necho {{ name | q }}\n{% if x %}\necho x\n{% endif %}"
    assert syntax_problems(code) == []


def test_secret_env_names() -> None:
    assert secret_env_names(["HOME", "API_TOKEN", "db_password", "AWS_SECRET_ACCESS_KEY"]) == [
        "API_TOKEN", "db_password", "AWS_SECRET_ACCESS_KEY"]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab $<>{}'\"\\#;|&()\n=-rfEOF")), max_size=80))
def test_analysis_never_crashes_on_arbitrary_text(code: str) -> None:
    assert isinstance(danger_reasons(code), list)
    assert env_reads(code) == sorted(set(env_reads(code)))
    found = placeholders(code)
    assert len(found) == len(set(found))
    try:
        filled = substitute_placeholders(code, dict.fromkeys(found, "v"), lenient=False)
    except TemplateError as refused:  # a value its context cannot hold (text in arithmetic)
        assert "\n" not in str(refused)
    else:
        assert filled.count("<") <= code.count("<")
    assert isinstance(render_lenient(code, {}), str)


@pytest.mark.parametrize("code", ['grep -i "DROP TABLE" migrations/*.sql', 'echo "TRUNCATE users"',
                                  "echo FLUSHALL", 'printf "DELETE FROM t\\n"'])
def test_sql_words_in_text_commands_are_not_danger(code: str) -> None:
    assert danger_reasons(code) == []


def test_multi_line_sql_in_a_heredoc_keeps_its_where() -> None:
    # with WHERE a DELETE still deletes rows, but not every row: the reason says which
    assert danger_reasons("psql <<EOF\nDELETE FROM t\nWHERE id = 1;\nEOF\n") == [
        "DELETE FROM ... WHERE deletes rows"]
    assert danger_reasons("psql <<EOF\nDELETE FROM t;\nEOF\n") == [
        "DELETE FROM without WHERE deletes every row"]
    assert danger_reasons("DELETE FROM sessions\nWHERE expires_at < now();") == [
        "DELETE FROM ... WHERE deletes rows"]
