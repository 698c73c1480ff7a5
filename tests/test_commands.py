"""Tests for command granularity: splitting shell blocks into commands, choices, consoles, docs."""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runbook_engine.parse.commands import Fragment, console_commands, split_block

SEEDS = Path(os.environ.get("RUNBOOK_SEEDS", Path(__file__).resolve().parents[2] / "shared/seeds"))
SHELLISH = "ab $#<>|&;()'\"\\\n{}[]-:=/.OrSELECT"
FENCE = re.compile(r"^( *)(```|~~~)([\w-]*)[^\n]*\n(.*?)^\1\2[ \t]*$", re.S | re.M)


def commands(code: str, lang: str = "bash") -> list[Fragment]:
    return [f for f in split_block(code, lang) if f.kind == "command"]


def codes(code: str, lang: str = "bash") -> list[str]:
    return [f.code for f in commands(code, lang)]


def bash_ok(code: str) -> bool:
    """``bash -n``: the real shell agrees the fragment is complete, valid syntax."""
    return (
        subprocess.run(["bash", "-n"], input=code, text=True, capture_output=True).returncode == 0
    )


# ---------------------------------------------------------------- splitting


def test_top_level_commands_one_per_line() -> None:
    assert codes("git clone x\ncd builder-api\nnpm install\n") == [
        "git clone x",
        "cd builder-api",
        "npm install",
    ]


@pytest.mark.parametrize(
    "construct",
    [
        "curl -X POST https://x \\\n  -H 'A: b' \\\n  -d '{}'",
        "cat <<'EOF' > out.txt\nline one\n# not a comment\n\nEOF",
        "ps aux |\n  grep node",
        "make &&\n  make install",
        "if [ -f x ]; then\n  echo yes\n\n  # inside\nelse\n  echo no\nfi",
        'for f in *.log; do\n  gzip "$f"\ndone',
        "until curl -s localhost | grep -q ok; do\n  sleep 1\ndone",
        'case "$1" in\n  a) echo a ;;\n  *) echo other ;;\nesac',
        "cleanup() {\n  rm -f /tmp/x\n}",
        "(\n  cd /tmp\n  ls\n)",
        'echo "multi\nline string"',
    ],
)
def test_constructs_stay_whole(construct: str) -> None:
    block = f"echo before\n\n{construct}\n\necho after\n"
    assert codes(block) == ["echo before", construct, "echo after"]
    assert bash_ok(construct)


def test_line_offsets_and_same_line_commands_stay_together() -> None:
    frags = commands("\n# one\ncd /tmp; ls &\n\nuptime\n")
    assert [(f.code, f.line_offset) for f in frags] == [("cd /tmp; ls &", 2), ("uptime", 4)]


def test_hash_inside_quotes_is_not_a_comment() -> None:
    frags = commands("echo 'a # b' \"c # d\"  # real comment\n")
    assert frags[0].code == "echo 'a # b' \"c # d\""
    assert frags[0].title == "real comment"


def test_titles_come_from_the_last_comment_group() -> None:
    block = (
        "# Section header\n\n# Update .env\n# Restart application\npm2 restart api\n"
        "pm2 logs api\n\n# 2. Check\n\ncurl x\n"
    )
    frags = commands(block)
    assert [f.title for f in frags] == ["Restart application", None, "2. Check"]


def test_trailing_comment_titles_only_without_a_comment_above() -> None:
    frags = commands("# Above\nlsof -i :3000  # beside\nnode --version  # Should be 18.x\n")
    assert [f.title for f in frags] == ["Above", "Should be 18.x"]


# ---------------------------------------------------------------- placeholders


def test_placeholders_are_words_not_redirections() -> None:
    frags = commands("# Kill it\nkill -9 <PID>\nssh-keygen -R <production-ip>\n")
    assert [f.code for f in frags] == ["kill -9 <PID>", "ssh-keygen -R <production-ip>"]
    assert frags[0].title == "Kill it"


def test_real_redirections_are_untouched() -> None:
    block = (
        "sort < file\ncat <<EOF\n<name>\nEOF\ndiff <(ls a) <(ls b)\necho <a.b-c_d> > /tmp/<f>.txt"
    )
    assert codes(block) == [
        "sort < file",
        "cat <<EOF\n<name>\nEOF",
        "diff <(ls a) <(ls b)",
        "echo <a.b-c_d> > /tmp/<f>.txt",
    ]


# ---------------------------------------------------------------- alternatives


@pytest.mark.parametrize("marker", ["# Or", "# or:", "# OR", "# Alternatively", "#   or, simply"])
def test_or_comment_makes_a_choice(marker: str) -> None:
    frags = commands(f"pg_isready\n{marker}\nbrew services list | grep postgresql\n")
    assert len(frags) == 2
    assert frags[0].choice is not None and frags[0].choice == frags[1].choice


def test_or_chains_extend_one_choice_and_new_choices_get_new_numbers() -> None:
    block = "a\n# Or\nb\n\n# Or use c\nc\n\nd\n# Or\ne\n"
    frags = commands(block)
    assert [f.choice for f in frags] == [1, 1, 1, 2, 2]
    assert frags[2].title == "Or use c"
    assert frags[1].title is None  # a bare "# Or" is not a title


def test_no_or_means_no_choice() -> None:
    assert {f.choice for f in commands("a\n# Order matters\nb\n# Or\n")} == {None}
    assert commands("# Or\nfirst\nsecond\n")[0].choice is None


# ---------------------------------------------------------------- expected output


def test_expected_json_is_attached_not_run() -> None:
    block = (
        "# API health\ncurl http://localhost:3000/health\n\n# Expected response\n"
        '{\n  "status": "healthy",\n  "uptime": 3600\n}\n\n# Next\nuptime\n'
    )
    frags = split_block(block)
    assert [f.code for f in frags] == ["curl http://localhost:3000/health", "uptime"]
    assert frags[0].expected_output == '{\n  "status": "healthy",\n  "uptime": 3600\n}'
    assert frags[1].title == "Next"


@pytest.mark.parametrize(
    "marker", ["# Expected output", "# Output:", "# Response:", "# Should return", "# Returns"]
)
def test_expected_markers(marker: str) -> None:
    frags = split_block(f"curl -I x\n{marker}\nHTTP/1.1 200 OK\n\nls\n")
    assert [(f.kind, f.code) for f in frags] == [("command", "curl -I x"), ("command", "ls")]
    assert frags[0].expected_output == "HTTP/1.1 200 OK"


def test_expected_output_written_as_comments_and_inline() -> None:
    frags = split_block(
        'curl x\n\n# Expected response:\n# {"status":"ok"}\n\ncurl y\n# Output: 42\n'
    )
    assert frags[0].expected_output == '{"status":"ok"}'
    assert frags[1].expected_output == "42"


def test_expected_output_without_a_command_is_a_doc() -> None:
    frags = split_block("# Expected output:\nall good\n\necho hi\n")
    assert [(f.kind, f.code) for f in frags] == [("doc", "all good"), ("command", "echo hi")]


def test_expected_region_ends_at_a_comment_after_output() -> None:
    frags = split_block("curl x\n# Response:\nok\n# Then\nls\n")
    assert frags[0].expected_output == "ok"
    assert [f.code for f in frags] == ["curl x", "ls"] and frags[1].title == "Then"


# ---------------------------------------------------------------- not shell


def test_sql_at_a_shell_prompt_is_one_sql_statement() -> None:
    block = (
        "# Identify query\nSELECT pg_terminate_backend(pid) FROM pg_stat_activity\n"
        "WHERE pid = <problem-pid>;\nls\n"
    )
    frags = split_block(block)
    assert (frags[0].kind, frags[0].lang, frags[0].title) == ("command", "sql", "Identify query")
    assert frags[0].code.endswith("WHERE pid = <problem-pid>;")
    assert [(f.kind, f.code) for f in frags[1:]] == [("command", "ls")]


def test_json_and_invalid_shell_are_docs_at_their_line() -> None:
    frags = split_block('echo a\n[{"x": 1}]\necho it\'s broken\n\necho b\n')
    assert [(f.kind, f.line_offset) for f in frags] == [
        ("command", 0),
        ("doc", 1),
        ("doc", 2),
        ("command", 4),
    ]


def test_shell_group_braces_are_not_json() -> None:
    assert codes("{\n  echo a\n  echo b\n} > log\n") == ["{\n  echo a\n  echo b\n} > log"]


# ---------------------------------------------------------------- ssh sessions


def test_ssh_line_targets_following_commands() -> None:
    block = "# Connect\nssh deploy@api.booky.app\n\n# Pull\ncd /opt/app\ngit pull origin main\n"
    frags = split_block(block)
    assert [f.code for f in frags] == ["cd /opt/app", "git pull origin main"]
    assert {f.target for f in frags} == {"deploy@api.booky.app"}
    assert frags[0].title == "Pull"


def test_ssh_options_placeholders_and_exit() -> None:
    frags = split_block("ssh -i ~/.ssh/k -p 2222 deploy@<production-ip>\nuptime\nexit\nhostname\n")
    assert [(f.code, f.target) for f in frags] == [
        ("uptime", "deploy@<production-ip>:2222"),
        ("hostname", None),
    ]
    assert split_block("ssh -l root web1\nuptime\n")[0].target == "root@web1"


def test_ssh_that_is_not_a_session_opener() -> None:
    assert [(f.code, f.target) for f in split_block("ls\nssh deploy@host\n")] == [
        ("ls", None),
        ("ssh deploy@host", None),
    ]
    assert [f.target for f in split_block("ssh host uptime\nls\n")] == [None, None]
    assert [f.target for f in split_block("ssh -L 80:x:80 host\nls\n")] == [None, None]
    two = split_block("# Production\nssh deploy@<a>\n\n# Staging\nssh deploy@<b>\n")
    assert [f.code for f in two] == ["ssh deploy@<a>", "ssh deploy@<b>"]


# ---------------------------------------------------------------- client consoles


def test_psql_console_is_one_fragment_fed_sql() -> None:
    block = (
        '# Connect to database\npsql "$DATABASE_URL"\n\n# Check active connections\n'
        "SELECT count(*), state FROM pg_stat_activity GROUP BY state;\n\n"
        "-- long queries\nSELECT pid\nFROM pg_stat_activity\nWHERE state = 'active';\n\\dt\n\nls\n"
    )
    frags = split_block(block)
    assert len(frags) == 2
    console, after = frags
    assert console.interpreter == 'psql "$DATABASE_URL"' and console.title == "Connect to database"
    assert console.code.startswith("SELECT count(*), state FROM pg_stat_activity GROUP BY state;")
    assert "#" not in console.code and console.code.endswith("\\dt")
    assert (after.code, after.interpreter) == ("ls", None)


@pytest.mark.parametrize(
    "line",
    [
        'psql "$DATABASE_URL" -c "SELECT 1"',
        "psql -Atc 'SELECT 1' db",
        "psql -f x.sql",
        "redis-cli -a x ping",
        "redis-cli --stat",
        "mysql -e 'SELECT 1'",
        "sqlite3 app.db 'SELECT 1'",
        "mongosh --eval 'db.x.find()'",
        "docker exec web psql",  # no -i: stdin is not attached
        "psql < dump.sql",
    ],
)
def test_non_interactive_clients_are_normal_commands(line: str) -> None:
    frags = split_block(f"{line}\nSELECT 2;\n")
    assert frags[0].code == line and frags[0].interpreter is None
    assert (frags[1].lang, frags[1].interpreter) == ("sql", None)  # not read by that line


@pytest.mark.parametrize(
    ("opener", "body", "interpreter"),
    [
        ("mysql -u root -p shop", "SHOW TABLES;\nselect * from t\n  where x = 1;", None),
        ("redis-cli -h r1", "PING\nKEYS user:*\nget foo", None),
        ("sqlite3 app.db", ".tables\nSELECT * FROM users;", None),
        ("mongosh mongodb://h/db", "use shop\ndb.users.find()", None),
        (
            "docker exec -it pg psql -U postgres",
            "\\dt\nSELECT 1;",
            "docker exec -i pg psql -U postgres",
        ),
        ("docker compose exec db psql", "SELECT 1;", "docker compose exec -T db psql"),
        ("docker-compose exec db psql", "SELECT 1;", "docker-compose exec -T db psql"),
        ("docker exec -it web sh", "ls /app\ncat /etc/hostname", "docker exec -i web sh"),
        ("kubectl exec -it pod -- bash", "ls", "kubectl exec -i pod -- bash"),
    ],
)
def test_consoles(opener: str, body: str, interpreter: str | None) -> None:
    frags = split_block(f"# Open\n{opener}\n{body}\n\nuptime\n")
    assert [(f.code, f.interpreter) for f in frags] == [
        (body, interpreter or opener),
        ("uptime", None),
    ]
    assert frags[0].title == "Open"


def test_console_without_client_lines_is_an_interactive_command() -> None:
    assert [(f.code, f.interpreter) for f in split_block("psql $DATABASE_URL\n")] == [
        ("psql $DATABASE_URL", None)
    ]
    block = 'psql $DATABASE_URL\n\n# List tables\npsql $DATABASE_URL -c "\\dt"\n'
    assert [f.interpreter for f in split_block(block)] == [None, None]
    # a container shell reads its own paragraph only; later paragraphs run on the host
    frags = split_block("docker-compose exec backend sh\n\n# Check\ndocker stats\n")
    assert [(f.code, f.interpreter) for f in frags] == [
        ("docker-compose exec backend sh", None),
        ("docker stats", None),
    ]


def test_ssh_then_console_keeps_the_target() -> None:
    frags = split_block('ssh deploy@db1\npsql "$DATABASE_URL"\nSELECT 1;\n')
    assert [(f.code, f.target, f.interpreter) for f in frags] == [
        ("SELECT 1;", "deploy@db1", 'psql "$DATABASE_URL"')
    ]


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="sqlite3 not installed")
def test_fed_sqlite_code_really_runs(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    block = (
        f"sqlite3 {db}\n# make a table\nCREATE TABLE t (x INTEGER);\n"
        "INSERT INTO t VALUES (41);\n\nUPDATE t SET x = x + 1;\nSELECT x FROM t;\n"
    )
    (frag,) = split_block(block)
    assert frag.interpreter == f"sqlite3 {db}"
    done = subprocess.run(
        ["bash", "-c", frag.interpreter], input=frag.code, text=True, capture_output=True
    )
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "42", "")


# ---------------------------------------------------------------- prompts / transcripts


def test_console_commands_splits_commands_and_output() -> None:
    text = (
        "$ ls -la\ntotal 0\nuser@host:~$ echo a \\\n  b\na b\nroot@box:/etc# cat hosts\n"
        "127.0.0.1 localhost\n# apt-get update -y\nHit:1\n"
        "$ cat <<EOF\n> hi\n> EOF\nhi\nPS C:\\> dir\n"
    )
    cmds, out = console_commands(text)
    assert cmds.split("\n") == [
        "ls -la",
        "echo a \\",
        "  b",
        "cat hosts",
        "apt-get update -y",
        "cat <<EOF",
        "hi",
        "EOF",
        "dir",
    ]
    assert out.split("\n") == ["total 0", "a b", "127.0.0.1 localhost", "Hit:1", "hi"]


def test_console_block_gives_commands_with_expected_output() -> None:
    frags = split_block("$ whoami\nroot\n\n# Check disk\n$ df -h\nFilesystem\n", "console")
    assert [(f.code, f.line_offset, f.expected_output, f.title) for f in frags] == [
        ("whoami", 0, "root", None),
        ("df -h", 4, "Filesystem", "Check disk"),
    ]


def test_bash_block_with_prompts_uses_prompt_mode() -> None:
    frags = split_block("# install\n$ npm install\nadded 200 packages\n$ npm test\n")
    assert [(f.code, f.expected_output) for f in frags] == [
        ("npm install", "added 200 packages"),
        ("npm test", None),
    ]
    assert split_block("echo $HOME\n$ ls\n")[0].code == "echo $HOME"  # not a transcript


def test_output_only_console_block_is_documentation() -> None:
    frags = split_block("\nHTTP/1.1 200 OK\nContent-Type: text/plain\n", "shell-session")
    assert [(f.kind, f.line_offset) for f in frags] == [("doc", 1)]
    assert split_block("   \n", "console") == []


# ---------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list(SHELLISH)), max_size=120))
def test_arbitrary_text_never_raises_and_commands_come_from_the_input(text: str) -> None:
    for lang in ("bash", "console"):
        for frag in split_block(text, lang):
            assert frag.kind in ("command", "doc")
            if frag.kind == "command":
                assert all(line.strip() in text for line in frag.code.split("\n"))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_any_unicode_never_raises(text: str) -> None:
    assert isinstance(split_block(text), list)
    assert isinstance(console_commands(text), tuple)


# ---------------------------------------------------------------- the seeds


def seed_blocks(name: str) -> list[str]:
    if not SEEDS.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the seeds are missing: {SEEDS}")
        pytest.skip(f"no seeds at {SEEDS}")
    text = next(SEEDS.glob(f"{name}*")).read_text(encoding="utf-8")
    blocks = []
    for m in FENCE.finditer(text):
        if m.group(3) in ("bash", "sh", "shell", "console"):
            pad = len(m.group(1))
            blocks.append("\n".join(x[pad:] for x in m.group(4).split("\n")))
    return blocks


def seed_block(name: str, needle: str) -> list[Fragment]:
    return split_block(next(b for b in seed_blocks(name) if needle in b))


def test_seed_builder_api() -> None:
    lsof = seed_block("000_", "kill -9 <PID>")
    assert [f.kind for f in lsof] == ["command", "command"]
    assert "kill -9 <PID>" in lsof[1].code and lsof[1].title == "Kill process if needed"
    pg = seed_block("000_", "brew services list")
    assert len(pg) == 2 and pg[0].choice is not None and pg[0].choice == pg[1].choice
    health = seed_block("000_", '"status": "healthy"')
    assert all('"status"' not in f.code for f in health if f.kind == "command")
    assert '"status": "healthy"' in (health[0].expected_output or "")


def test_seed_booky_manual_deployment() -> None:
    frags = seed_block("001_", "git pull origin main\n\n# Build")
    pull = next(f for f in frags if f.code == "git pull origin main")
    assert pull.target == "deploy@api.booky.app"
    assert all("ssh " not in f.code for f in frags)


def test_seed_bunty_p1_database() -> None:
    (frag,) = seed_block("004_", "SELECT count(*), state FROM pg_stat_activity")
    assert frag.interpreter is not None and frag.interpreter.startswith("psql")
    assert "SELECT count(*), state FROM pg_stat_activity" in frag.code


def test_seed_commands_are_valid_bash_and_fast() -> None:
    blocks = [b for name in ("000_", "001_", "002_", "003_", "004_") for b in seed_blocks(name)]
    start = time.perf_counter()
    frags = [f for b in blocks for f in split_block(b)]
    elapsed = time.perf_counter() - start
    print(f"split {len(blocks)} seed blocks into {len(frags)} fragments in {elapsed:.3f}s")
    plain = [f for f in frags if f.kind == "command" and f.interpreter is None and not f.lang]
    assert len(plain) > 300
    # placeholders are substituted (shell-quoted) before running; mimic that for bash -n
    bodies = [re.sub(r"(?<!<)<[A-Za-z][\w.-]*>", "VALUE", f.code) for f in plain]
    script = "\n".join(f"__f{i}() {{\n{body}\n}}" for i, body in enumerate(bodies))
    assert bash_ok(script)  # every command fragment is complete, valid shell


@pytest.mark.parametrize(
    "comment", ["# Expected to take a while", "# Output logs to a file", "# Results vary"]
)
def test_comments_that_merely_mention_output_are_titles(comment: str) -> None:
    frags = split_block(f"make\n{comment}\nnpm run build\n")
    assert [(f.code, f.title, f.expected_output) for f in frags] == [
        ("make", None, None),
        ("npm run build", comment.lstrip("# "), None),
    ]


def test_inline_expected_output_does_not_swallow_the_next_command() -> None:
    frags = split_block("curl -I x\n# Should return 200\ncurl -I y\n# Output: 404\nls\n")
    assert [(f.code, f.expected_output) for f in frags] == [
        ("curl -I x", "200"),
        ("curl -I y", "404"),
        ("ls", None),
    ]


def test_ssh_line_with_a_trailing_comment_still_opens_a_session() -> None:
    frags = split_block("ssh deploy@web1  # production\nuptime\n")
    assert [(f.code, f.target) for f in frags] == [("uptime", "deploy@web1")]


def test_constructs_stay_whole_despite_errors_nearby_and_long_bodies() -> None:
    block = "echo it's\nfor x in a; do\n  echo $x\ndone\n"
    assert [(f.kind, f.code) for f in split_block(block)] == [
        ("doc", "echo it's"),
        ("command", "for x in a; do\n  echo $x\ndone"),
    ]
    long_loop = "while true; do\n" + "  echo line\n" * 300 + "done"
    assert codes(f"{long_loop}\nuptime\n") == [long_loop, "uptime"]


def test_curl_progress_lines_are_output_not_prompts() -> None:
    cmds, out = console_commands("$ curl -O x\n  % Total    % Received\n% Total\n")
    assert cmds == "curl -O x"
    assert out.split("\n") == ["  % Total    % Received", "% Total"]


def test_brace_before_an_astral_character_does_not_crash_the_parser() -> None:
    # tree-sitter-bash#337: `{` then a 4-byte UTF-8 character made the parser read out of
    # bounds (SIGSEGV about one run in two). In a child process, so a crash fails this test only.
    script = (
        "from runbook_engine.parse.commands import split_block\n"
        "for _ in range(300):\n"
        "    frags = split_block('{\\U000f9609\\necho \"{\\U0001F600}\" done')\n"
        "print(frags[-1].code)\n"
    )
    for _ in range(4):
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == 'echo "{\U0001F600}" done'


def test_a_damaged_long_line_is_read_as_a_doc_in_linear_time(tmp_path: Path) -> None:
    # The fuzzer's hang (issue 15): tree-sitter's error recovery is quadratic in a damaged
    # line's length (100 KB of `|`: over a minute of CPU in `plan`), even inside parentheses
    # where it signals no error until the end. Now a parse stops at the first error or past a
    # budget, and that unit is a doc (the `|` line goes on to the next one, as in bash).
    # CPU time of the children, so a loaded machine cannot fail it.
    pipes = "|" * 100_000
    parens = "echo ((" + "(" * 5000 + "1" + ")" * 2400 + "|" * 20_000 + ")" * 2600
    book = tmp_path / "damaged.md"
    code = f"echo hello\n{pipes}\necho bye\n{parens}\necho done"
    book.write_text(f"# Damaged\n\n```bash\n{code}\n```\n")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for args in (["--format", "mermaid"], ["--granularity", "command", "--format", "json"]):
        done = subprocess.run([sys.executable, "-m", "runbook_engine", "plan", *args, str(book)],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime < 10
    steps = json.loads(done.stdout)["steps"]
    assert [(s["kind"], s["code"][:10]) for s in steps] == [
        ("shell", "echo hello"), ("doc", "|" * 10), ("doc", "echo ((((("), ("shell", "echo done")]
