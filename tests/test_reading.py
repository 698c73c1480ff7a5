"""How blocks are read: content decides (not the fence tag), transcripts, other languages, auto."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runbook_engine.model import Step
from runbook_engine.parse import parse_text
from runbook_engine.parse.blocks import PWSH, Context, split_plain
from runbook_engine.parse.reading import read_block
from runbook_engine.parse.shapes import Known

SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "000_354c440e5cc73968.txt"
NO_PATH = Known(on_path=None)


def steps(markdown: str, granularity: str | None = None) -> list[Step]:
    return list(parse_text(markdown, "book.md", granularity).steps)


def runnable(markdown: str) -> list[tuple[str, str]]:
    return [(s.kind, s.code) for s in steps(markdown) if s.kind != "doc"]


def fence(body: str, tag: str = "", before: str = "") -> str:
    return f"# Book\n\n{before}\n\n```{tag}\n{body}\n```\n"


def ctx(**kwargs: object) -> Context:
    return Context(path_lookup=None, pwsh=lambda: False, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------- content over tags


@pytest.mark.parametrize("tag", ["", "text", "console", "shell-session", "sh"])
def test_commands_run_whatever_the_tag(tag: str) -> None:
    body = "systemctl restart nginx\ncurl -fsS http://localhost/health"
    assert runnable(fence(body, tag)) == [("shell", "systemctl restart nginx"),
                                          ("shell", "curl -fsS http://localhost/health")]


@pytest.mark.parametrize("before", ["You should see something like:", "Example output:",
                                    "The command returns:"])
def test_output_after_a_promise_of_output_is_not_run(before: str) -> None:
    body = "NAME       READY   STATUS    RESTARTS   AGE\nweb-7d9f   1/1     Running   0          3d"
    assert runnable(fence(body, "", before)) == []
    assert runnable(fence("Active: active (running) since Tue 2024-05-07 10:01:02 UTC", "text",
                          before)) == []


def test_a_command_followed_by_its_table_keeps_the_table_as_expected_output() -> None:
    body = ("kubectl -n shop get pods\nNAME        READY   STATUS    RESTARTS   AGE\n"
            "api-5c6d    1/1     Running   0          2h")
    (step,) = [s for s in steps(fence(body, "bash")) if s.kind != "doc"]
    assert step.code == "kubectl -n shop get pods"
    assert step.expected_output is not None and "api-5c6d" in step.expected_output


def test_data_and_diagrams_are_documentation() -> None:
    assert runnable(fence('{"replicas": 3, "image": "api:1.2"}')) == []
    assert runnable(fence("replicas: 3\nimage: api:1.2\nresources:\n  cpu: 2")) == []
    assert runnable(fence("[mysqld]\nmax_connections = 500\ninnodb_buffer_pool_size = 4G")) == []
    diagram = "client --> gateway --> service\n            |\n            v\n  db"
    assert runnable(fence(diagram)) == []
    assert runnable(fence("listen_addresses = '*'\nmax_wal_senders = 10", "bash")) == []


def test_a_shell_error_message_in_a_bash_fence_is_not_a_command() -> None:
    reading = read_block("deployctl: command not found", "bash", "You may get:", known=NO_PATH)
    assert not reading.runnable


def test_a_tie_leans_to_commands() -> None:
    reading = read_block("frobnicate", "", "", known=NO_PATH)
    assert reading.kind == "commands"


def test_close_calls_are_reported_with_their_signals() -> None:
    markdown = fence("uptime\nload average: 0.52, 0.58, 0.59", "text", "Check the load:")
    problems = [p for p in parse_text(markdown, "b.md").problems if p.code == "RB110"]
    assert problems and "tag:text" in problems[0].message and "close call" in problems[0].message


# ---------------------------------------------------------------- transcripts


def test_root_and_user_prompts_with_output() -> None:
    body = ("[root@db1 ~]# systemctl is-active postgresql\nactive\n"
            "deploy@web1:/srv/app$ git log -1 --oneline\n3f2a1bc Fix cache key")
    got = [(s.code, s.expected_output) for s in steps(fence(body)) if s.kind == "shell"]
    assert got == [("systemctl is-active postgresql", "active"),
                   ("git log -1 --oneline", "3f2a1bc Fix cache key")]


def test_root_hash_prompt_only_before_a_command_and_never_in_bash_fences() -> None:
    assert runnable(fence("# rabbitmqctl list_queues\nname\tmessages")) == [
        ("shell", "rabbitmqctl list_queues")]
    assert runnable(fence("# rabbitmqctl list_queues\nrabbitmqctl status", "bash")) == [
        ("shell", "rabbitmqctl status")]


def test_a_forgotten_prompt_after_a_silent_command() -> None:
    body = "$ cd /srv/app\ngit pull --ff-only\nAlready up to date."
    got = [(s.code, s.expected_output) for s in steps(fence(body, "console")) if s.kind != "doc"]
    assert got == [("cd /srv/app", None), ("git pull --ff-only", "Already up to date.")]


def test_database_prompts_are_fed_to_the_client_the_transcript_opened() -> None:
    body = ("$ psql -h db1 -U app orders\norders=> SELECT count(*) FROM jobs;\n count\n-------\n"
            "    42\norders=> \\q")
    step, quit_step = [s for s in steps(fence(body)) if s.kind != "doc"]
    assert (step.kind, step.interpreter, step.code) == (
        "engine", "psql -h db1 -U app orders", "SELECT count(*) FROM jobs;")
    assert (quit_step.code, quit_step.interpreter) == ("\\q", step.interpreter)
    assert "42" in (step.expected_output or "")


def test_database_prompts_without_a_client_are_manual_steps_with_code() -> None:
    body = "mysql> SHOW REPLICA STATUS\\G\nmysql> START REPLICA;"
    got = [(s.kind, s.code, s.interpreter, s.lang) for s in steps(fence(body))]
    assert got == [("manual", "SHOW REPLICA STATUS\\G", "mysql", "mysql"),
                   ("manual", "START REPLICA;", "mysql", "mysql")]


@pytest.mark.parametrize(("line", "lang"), [
    ("127.0.0.1:6379> DBSIZE", "redis"), ("rs0:PRIMARY> rs.status()", "mongo"),
    (">>> requests.get(url).status_code", "python"), ("sqlite> .tables", "sqlite"),
    ("PS C:\\> Get-Service W3SVC", "powershell")])
def test_client_prompts_name_their_language(line: str, lang: str) -> None:
    (frag,) = split_plain(line, "", "", "", ctx())[1]
    assert (frag.kind, frag.lang) == ("manual", lang)


# ---------------------------------------------------------------- other languages


def test_sql_is_one_step_per_statement_fed_to_the_client_named_earlier() -> None:
    markdown = ("# Book\n\n```bash\npsql \"$DATABASE_URL\" -c 'SELECT 1'\n```\n\n```sql\n"
                "-- stuck queries\nSELECT pid, state\n  FROM pg_stat_activity\n WHERE state <> "
                "'idle';\n\\dx\nVACUUM ANALYZE orders;\n```\n")
    fed = [(s.code, s.interpreter, s.title) for s in steps(markdown) if s.kind == "engine"]
    assert [code.split("\n")[0] for code, _, _ in fed] == ["SELECT pid, state", "\\dx",
                                                          "VACUUM ANALYZE orders;"]
    assert {interp for _, interp, _ in fed} == {'psql "$DATABASE_URL"'}
    assert fed[0][2] == "stuck queries"


def test_sql_without_a_client_is_manual_and_settings_in_it_are_docs() -> None:
    body = "ALTER SYSTEM SET work_mem = '64MB';\n\nshared_buffers = 2GB\n\nSELECT pg_reload_conf();"
    got = [(s.kind, s.code) for s in steps(fence(body, "postgresql"))]
    assert got == [("manual", "ALTER SYSTEM SET work_mem = '64MB';"),
                   ("doc", "shared_buffers = 2GB"), ("manual", "SELECT pg_reload_conf();")]


def test_powershell_pipelines_with_backticks_are_one_step_each() -> None:
    body = ("# stop the pool first\nStop-WebAppPool -Name Shop\nGet-ChildItem C:\\logs `\n"
            "  -Filter *.log | Remove-Item\nRestart-Service W3SVC")
    frags = split_plain(body, "powershell", "", "", ctx())[1]
    assert [(f.kind, f.line_offset) for f in frags] == [("manual", 1), ("manual", 2),
                                                        ("manual", 4)]
    assert frags[0].title == "stop the pool first"
    fed = split_plain(body, "powershell", "", "", Context(path_lookup=None, pwsh=lambda: True))[1]
    assert {f.interpreter for f in fed} == {PWSH}


def test_console_calls_are_steps_and_programs_are_docs() -> None:
    calls = split_plain("use shop\ndb.orders.countDocuments({state: 'stuck'})", "javascript",
                        "", "", ctx())[1]
    assert [(f.kind, f.interpreter) for f in calls] == [("manual", "mongosh")] * 2
    program = "const r = await fetch(url);\nif (!r.ok) {\n  throw new Error('down');\n}"
    assert split_plain(program, "js", "", "", ctx())[1] == []
    assert split_plain("import os\n\ndef f():\n    return 1\n", "python", "", "", ctx())[1] == []


# ---------------------------------------------------------------- granularity auto


def test_auto_reads_plain_blocks_by_command_and_annotated_ones_whole() -> None:
    markdown = ("# Book\n\n```bash\nuptime\ndf -h\n```\n\n```bash {#both}\nuptime\ndf -h\n```\n")
    codes = [s.code for s in steps(markdown)]
    assert codes == ["uptime", "df -h", "uptime\ndf -h\n"]


def test_our_front_matter_keeps_blocks_whole_but_site_metadata_does_not() -> None:
    body = "```bash\nuptime\ndf -h\n```\n"
    ours = steps(f"---\nvars:\n  env: prod\n---\n# B\n\n{body}")
    site = steps(f"---\ntitle: Disk full\ntags: [ops]\n---\n# B\n\n{body}")
    assert [s.code for s in ours] == ["uptime\ndf -h\n"]
    assert [s.code for s in site] == ["uptime", "df -h"]


def test_granularity_flag_still_forces_either() -> None:
    markdown = "# Book\n\n```bash {#x}\nuptime\ndf -h\n```\n"
    assert len(steps(markdown, "command")) == 2 and len(steps(markdown, "block")) == 1


@pytest.mark.skipif(not SEED.exists(), reason="no seeds")
def test_seed_expected_response_is_never_run_without_flags() -> None:
    out = subprocess.run([sys.executable, "-m", "runbook_engine", "plan", str(SEED), "--format",
                          "json"], capture_output=True, text=True, check=True).stdout
    doc = json.loads(out)
    assert doc["granularity"] == "auto"
    executable = [s for s in doc["steps"] if s["executable"]]
    assert not any('"status": "healthy"' in s["code"] for s in executable)
    health = next(s for s in executable if s["code"] == "curl http://localhost:3000/health")
    assert '"status": "healthy"' in health["expected_output"]


# ---------------------------------------------------------------- manual steps with code


def test_a_manual_step_shows_its_code_and_is_answered(tmp_path: Path) -> None:
    """SQL with no client to feed it: shown to copy, answered done; nothing is run."""
    import os

    import pexpect

    book = tmp_path / "book.md"
    book.write_text("# Fix\n\nOn the primary:\n\n```sql\nSELECT pg_reload_conf();\n```\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "NO_COLOR": "1",
           "TERM": "dumb", "COLUMNS": "120"}
    child = pexpect.spawn(sys.executable, ["-m", "runbook_engine", "run", str(book),
                                           "--transcript", str(tmp_path / "t.jsonl")],
                          cwd=str(tmp_path), env=env, encoding="utf-8", timeout=20)
    child.expect("Do this yourself")
    child.expect(r"SELECT pg_reload_conf\(\);")
    child.expect(r"Manual step\. Done\?")
    child.sendline("d")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    events = [json.loads(x) for x in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert [e["status"] for e in events if e["event"] == "step_finished"] == ["ok"]


# ---------------------------------------------------------------- placeholders, targets, clients


@pytest.mark.parametrize(("code", "names"), [
    ("kubectl -n <namespace> logs <pod name> --tail=50", ["namespace", "pod name"]),
    ('curl -H "Authorization: Bearer YOUR_API_TOKEN" https://api.example.com/v1/jobs',
     ["YOUR_API_TOKEN", "api.example.com"]),
    ("psql -h your-db-host.internal -U CHANGEME", ["your-db-host.internal", "CHANGEME"]),
    ("aws ec2 stop-instances --instance-ids i-xxxxxxxx", ["i-xxxxxxxx"]),
    ("ping -c 3 x.x.x.x && git tag vX.Y.Z", ["x.x.x.x", "X.Y.Z"]),
    ("cat <<EOF > out\nEOF\ndiff <(ls a) <(ls b); sort < in; echo $X EOF x", []),
])
def test_placeholder_forms(code: str, names: list[str]) -> None:
    from runbook_engine.safety import placeholders

    assert placeholders(code) == names


def test_spaces_inside_a_placeholder_never_split_a_command() -> None:
    from runbook_engine.parse.commands import split_block

    frags = split_block("kubectl -n <name space> delete pod <pod to kill>\nuptime\n")
    assert [f.code for f in frags] == ["kubectl -n <name space> delete pod <pod to kill>",
                                       "uptime"]


def test_bare_word_placeholders_are_substituted_in_their_quoting_context() -> None:
    from runbook_engine.template import substitute_placeholders

    code = "curl -fsS \"https://api.example.com/health\" -H 'X-Token: YOUR_TOKEN'"
    done = substitute_placeholders(code, {"api.example.com": "shop.io", "YOUR_TOKEN": "a'b"})
    assert done == "curl -fsS \"https://shop.io/health\" -H 'X-Token: a'\\''b'"


def test_a_placeholder_in_an_ssh_target_is_in_the_plan() -> None:
    from runbook_engine.graph import build_graph
    from runbook_engine.render import plan_document
    from runbook_engine.variables import initial_variables

    runbook = parse_text(fence("ssh deploy@<production ip>\nsudo systemctl restart api", "bash"))
    graph = build_graph(runbook)
    doc = plan_document(graph, graph.steps, initial_variables(runbook, {}, {}))
    (step,) = [s for s in doc["steps"] if s["executable"]]
    assert step["targets"] == ["deploy@<production ip>"]
    assert step["placeholders"] == ["production ip"]


def test_the_prose_names_the_host_and_it_holds_for_the_section() -> None:
    markdown = ("# B\n\n## Resync\n\nOn `mongo-c` itself:\n\n```bash\nsudo systemctl stop mongod\n"
                "```\n\nThen wipe its data:\n\n```bash\nsudo rm -rf /var/lib/mongodb/*\n```\n\n"
                "Follow it from the primary:\n\n```bash\nmongosh --eval 'rs.status()'\n```\n\n"
                "## Other\n\n```bash\nuptime\n```\n")
    assert [s.on for s in steps(markdown) if s.kind == "shell"] == [
        ("mongo-c",), ("mongo-c",), (), ()]


def test_transcript_ssh_sessions_target_the_prompts_after_them() -> None:
    body = "$ ssh admin@db-02.corp.lan\n$ sudo passwd -S alice\nalice L\n$ exit\n$ hostname"
    got = [(s.code, s.on) for s in steps(fence(body, "console")) if s.kind == "shell"]
    assert got == [("sudo passwd -S alice", ("admin@db-02.corp.lan",)), ("hostname", ())]


def test_a_console_opened_in_a_shell_block_gives_a_step_per_statement() -> None:
    body = "redis-cli -h cache-01 -p 6379\nINFO memory\nCONFIG GET maxmemory*\n"
    got = [(s.code, s.interpreter, s.line) for s in steps(fence(body, "bash"))]
    assert got == [("INFO memory", "redis-cli -h cache-01 -p 6379", 7),
                   ("CONFIG GET maxmemory*", "redis-cli -h cache-01 -p 6379", 8)]


def test_a_transaction_stays_one_step() -> None:
    body = "BEGIN;\nUPDATE jobs SET state = 'retry' WHERE state = 'stuck';\nCOMMIT;\nSELECT 1;"
    frags = split_plain(body, "sql", "", "", ctx())[1]
    assert [f.code.split("\n")[0] for f in frags] == ["BEGIN;", "SELECT 1;"]


def test_a_language_shell_opened_earlier_receives_the_later_blocks() -> None:
    markdown = ("# B\n\n```bash\nkubectl -n shop exec -it deploy/admin -- python manage.py shell\n"
                "```\n\n```python\nfrom shop.models import Order\nfor o in Order.objects.all()[:3]:"
                "\n    print(o.id)\n```\n\n```\n>>> Order.objects.count()\n12\n```\n")
    fed = [(s.code.split("\n")[0], s.interpreter) for s in steps(markdown) if s.kind == "engine"]
    interp = "kubectl -n shop exec -i deploy/admin -- python manage.py shell"
    assert fed == [("from shop.models import Order", interp),
                   ("for o in Order.objects.all()[:3]:", interp),
                   ("Order.objects.count()", interp)]


@pytest.mark.parametrize(("before", "client"), [("Then, in psql:", "psql"),
                                                ("From the rails console:", "rails")])
def test_the_prose_names_the_client(before: str, client: str) -> None:
    body = "SELECT 1;" if client == "psql" else "Project.count"
    tag = "sql" if client == "psql" else "ruby"
    (step,) = steps(fence(body, tag, before))
    assert (step.kind, step.interpreter) == ("manual", client)


def test_dev_tools_requests_and_scripts_to_save() -> None:
    body = "GET _cluster/health\nPUT _cluster/settings\n{\n  \"transient\": {}\n}"
    assert [(s.kind, s.code.split("\n")[0]) for s in steps(fence(body, "console"))] == [
        ("manual", "GET _cluster/health"), ("manual", "PUT _cluster/settings")]
    script = "#!/usr/bin/env bash\nset -eu\nfor f in *.log; do gzip \"$f\"; done"
    assert runnable(fence(script, "bash", "Save this as rotate.sh:")) == []


@pytest.mark.parametrize(("code", "names"), [
    ("wipefs -a /dev/disk/by-id/NEW_DISK_ID && mysql -u DB_USER", ["NEW_DISK_ID", "DB_USER"]),
    ("cat BUILD_ID; zpool replace tank OLD_DISK_ID", []),  # a file name, a bare word
    ("cd /backups/YYYY-MM-DD_HH-MM && git switch -c release/X.Y", ["YYYY-MM-DD_HH-MM", "X.Y"]),
    ("certbot delete --cert-name old.your-domain.com", ["old.your-domain.com"]),
    ("docker run -e POSTGRES_PASSWORD -e DB_HOST=db img; echo $API_TOKEN; printenv API_TOKEN", []),
    ("SELECT ORDER_ID FROM ORDERS WHERE CUSTOMER_ID = 7;", []),
])
def test_bare_word_placeholders_need_a_telling_shape(code: str, names: list[str]) -> None:
    from runbook_engine.safety import placeholders

    assert placeholders(code) == names


def test_a_block_shown_as_a_warning_is_not_run() -> None:
    body = "rs0:PRIMARY> use shop\nrs0:PRIMARY> db.dropDatabase()"
    assert runnable(fence(body, "text", "Here so you recognise it, not so that you run it:")) == []
    assert runnable(fence("sudo rm -rf /srv/cache", "bash", "Never run this on a primary:")) == []
    assert runnable(fence("aws iam delete-access-key --access-key-id AKIA1", "bash",
                          "Deactivate first (do not delete yet):")) != []


def test_client_commands_in_a_later_block_go_to_the_client_opened_earlier() -> None:
    markdown = ("# B\n\n```bash\nredis-cli -h cache-01 ping\n```\n\nThen:\n\n```bash\n"
                "CONFIG GET maxmemory-policy\nCONFIG SET maxmemory-policy allkeys-lru\n```\n")
    fed = [(s.code, s.interpreter) for s in steps(markdown) if s.kind == "engine"]
    assert fed == [("CONFIG GET maxmemory-policy", "redis-cli -h cache-01"),
                   ("CONFIG SET maxmemory-policy allkeys-lru", "redis-cli -h cache-01")]


def test_aligned_host_prompts_and_definitions_typed_at_a_repl() -> None:
    body = ("db-01.prod   $ sudo patronictl list\nworkstation  $ knife status\n")
    assert [s.code for s in steps(fence(body))] == ["sudo patronictl list", "knife status"]
    frags = split_plain(">>> def f(x):\n...     return x\n...\n>>> f(2)\n2", "", "", "", ctx())[1]
    assert [(f.kind, f.code.split("\n")[0]) for f in frags] == [("doc", "def f(x):"),
                                                                  ("manual", "f(2)")]


def test_a_module_to_write_is_documentation_even_with_a_shell_open() -> None:
    module = "from x import y\n\nclass Command(Base):\n    help = 'fix'\n"
    fed = Context(path_lookup=None, pwsh=lambda: False, clients={"python": "python3"})
    assert split_plain(module, "python", "The skeleton:", "", fed)[1] == []


def test_sql_in_a_shell_block_is_not_taken_for_redis_commands() -> None:
    markdown = ("# B\n\n```bash\nredis-cli -h cache-01 ping\n```\n\n```bash\n"
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity\nWHERE pid = <pid>;\n```\n")
    (step,) = [s for s in steps(markdown) if s.line > 7]
    assert (step.kind, step.interpreter, step.lang) == ("manual", None, "sql")


def test_tree_sitter_only_for_blocks_read_by_content() -> None:
    """Runbooks written for the tool (front matter) read whole never load the shell parser."""
    script = (
        "import sys\nfrom runbook_engine.parse import parse_text\n"
        "parse_text('---\\nvars: {a: 1}\\n---\\n# T\\n\\n```bash\\necho a\\necho b\\n```\\n')\n"
        "print('tree_sitter' in sys.modules, 'paramiko' in sys.modules)\n"
        "parse_text('# T\\n\\n```bash\\necho a\\necho b\\n```\\n')\n"
        "print('tree_sitter' in sys.modules, 'paramiko' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split("\n")[:2] == ["False False", "True False"]


def test_addresses_and_host_lists_are_not_commands() -> None:
    assert runnable(fence("https://grafana.corp.lan/d/api-latency", "bash")) == []
    assert runnable(fence("web-01.prod.corp.lan\nweb-02.prod.corp.lan")) == []
    assert runnable(fence("python3.11 -m venv .venv\n./manage.py migrate")) == [
        ("shell", "python3.11 -m venv .venv"), ("shell", "./manage.py migrate")]
    mkfs = "sudo mkfs.ext4 -F /dev/vdb"
    assert runnable(fence(mkfs)) == [("shell", mkfs)]
