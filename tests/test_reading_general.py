"""Reading habits of runbooks nobody here wrote (issue 9): sessions, prompts, placeholders."""

from __future__ import annotations

import pytest

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


# ---------------------------------------------------------------- consoles beyond psql/mysql


def test_sqlplus_and_rman_prompts_are_fed_to_the_console_the_transcript_opened() -> None:
    book = fence("C:\\> sqlplus / as sysdba\nSQL> select open_mode from v$database;\n\n"
                 "OPEN_MODE\n----------\nREAD WRITE\nSQL> exit", "")
    found = steps(book)
    assert [(s.line, s.interpreter, s.session_lines) for s in found] == [
        (7, "sqlplus / as sysdba", (6,)), (12, "sqlplus / as sysdba", (6,))]
    assert found[0].expected_output is not None and "READ WRITE" in found[0].expected_output
    rman = steps(fence("RMAN> list backup summary;\nRMAN> crosscheck archivelog all;", ""))
    assert [(s.kind, s.interpreter) for s in rman] == [("manual", "rman"), ("manual", "rman")]


def test_sqlcmd_numbered_lines_make_one_batch_up_to_go() -> None:
    book = fence("C:\\> sqlcmd -S db01 -E\n1> SELECT name\n2> FROM sys.databases\n3> GO\n"
                 "name\n----\nmaster\n1> exit", "")
    found = steps(book)
    assert [(s.line, s.code) for s in found] == [
        (7, "SELECT name\nFROM sys.databases\nGO"), (13, "exit")]
    assert {s.interpreter for s in found} == {"sqlcmd -S db01 -E"}


def test_cql_zookeeper_and_clickhouse_consoles() -> None:
    cql = steps(fence("cqlsh 10.1.1.5\n# in the cqlsh shell\ndescribe keyspaces;\n"
                      "use <keyspace>;", ""))
    assert [(s.line, s.interpreter) for s in cql] == [(8, "cqlsh 10.1.1.5"),
                                                       (9, "cqlsh 10.1.1.5")]
    zk = steps(fence("$ zkCli.sh -server zk2:2181\n[zk: zk2:2181(CONNECTED) 0] ls /brokers\n"
                     "[ids, topics]\n[zk: zk2:2181(CONNECTED) 1] quit", ""))
    assert [(s.line, s.code, s.interpreter) for s in zk] == [
        (7, "ls /brokers", "zkCli.sh -server zk2:2181"), (9, "quit", "zkCli.sh -server zk2:2181")]
    ch = steps(fence("olap-2 :) SELECT count() FROM hits\n\n┌─count()─┐\n│   42 │\n└─────────┘",
                     ""))
    assert [(s.kind, s.interpreter, s.code) for s in ch] == [
        ("manual", "clickhouse-client", "SELECT count() FROM hits")]


def test_a_client_opened_earlier_receives_a_later_sql_block() -> None:
    book = ("# Book\n\n```\nclickhouse-client --host olap-2\n```\n\nThen:\n\n"
            "```sql\nOPTIMIZE TABLE hits FINAL;\nSELECT 1;\n```\n")
    found = steps(book)
    assert [(s.line, s.interpreter) for s in found] == [
        (4, None), (10, "clickhouse-client --host olap-2"),
        (11, "clickhouse-client --host olap-2")]


def test_a_language_tag_on_shell_lines_gives_way_to_the_content() -> None:
    body = ("--- start the listener\nlsnrctl start\n\n--- then the console\nsqlplus /nolog\n"
            "connect / as sysdba\nselect status from v$instance;")
    found = steps(fence(body, "sql", "Log in to `ora-7` as oracle, then:"))
    assert [(s.line, s.code, s.interpreter) for s in found] == [
        (7, "lsnrctl start", None),
        (11, "connect / as sysdba", "sqlplus /nolog"),
        (12, "select status from v$instance;", "sqlplus /nolog")]
    assert {s.on for s in found} == {("ora-7",)}
    # a statement whose first word is also a program stays SQL
    assert [(s.kind, s.lang) for s in steps(fence("truncate table jobs;", "sql"))] == [
        ("manual", "sql")]


def test_sql_statements_known_by_their_semicolon() -> None:
    found = steps(fence("DBCC CHECKDB ('Billing') WITH NO_INFOMSGS;\n"
                        "RESTORE TABLE t FROM Disk('b', 'x.zip');\nshared_buffers = 2GB", "sql"))
    assert [(s.kind, s.line) for s in found] == [("manual", 6), ("manual", 7)]


# ---------------------------------------------------------------- blocks and prose


def test_an_ini_drop_in_after_put_this_in_is_configuration() -> None:
    body = "[Service]\nRestart=on-failure\nRestartSec=30s"
    assert steps(fence(body, "", "Run `systemctl edit app` and put this in the drop-in:")) == []
    assert steps(fence(body, "")) == []
    assert len(steps(fence("APP_ENV=prod ./migrate.sh", "", "Put this in the terminal:"))) == 1


def test_windows_programs_read_as_commands() -> None:
    found = steps(fence("sc.exe qfailure spooler\nrobocopy C:\\a D:\\b /MIR", ""))
    assert [s.line for s in found] == [6, 7]


def test_log_in_is_no_promise_of_log_output() -> None:
    found = steps(fence("uptime\nwho", "", "Log in to `app-3` first, then:"))
    assert [(s.line, s.on) for s in found] == [(6, ("app-3",)), (7, ("app-3",))]


def test_a_host_in_parentheses_is_the_target() -> None:
    found = steps(fence("hostname", "", "On the standby (`db-dr-01`) run:"))
    assert [s.on for s in found] == [("db-dr-01",)]


# ---------------------------------------------------------------- placeholders


def test_curly_and_bracket_placeholders_are_asked_and_filled() -> None:
    from runbook_engine.placeholders import placeholder_names
    from runbook_engine.template import substitute_placeholders

    assert placeholder_names("kubectl -n {namespace} get pods") == ["namespace"]
    assert placeholder_names("gsutil ls gs://[your-bucket]/ && mysql -u [DB_USER] -p") == [
        "your-bucket", "DB_USER"]
    for literal in ("echo ${HOME}", "find . -exec rm {} +", "awk '{print $1}'", "cp a.{c,h} b",
                    "ls [a-z]*", "[ -f x ] && [[ -n y ]]", "SELECT * FROM [dbo].[my_table];",
                    "docker ps --format '{{.Names}}'"):
        assert placeholder_names(literal) == [], literal
    filled = substitute_placeholders("kubectl -n {namespace} delete pod [pod name]",
                                     {"namespace": "shop", "pod name": "api 1"})
    assert filled == "kubectl -n shop delete pod 'api 1'"


def test_a_bare_capitals_word_next_to_a_placeholder_is_one_too() -> None:
    from runbook_engine.placeholders import placeholder_names

    assert placeholder_names("zpool replace tank OLD_DISK_ID /dev/disk/by-id/NEW_DISK_ID") == [
        "OLD_DISK_ID", "NEW_DISK_ID"]
    assert placeholder_names("cat BUILD_ID") == []


def test_ipython_hbase_and_fish_prompts() -> None:
    ipy = steps(fence("In [1]: from shop.models import Order\n\nIn [2]: Order.objects.count()\n"
                      "Out[2]: 17", ""))
    assert [(s.line, s.lang, s.expected_output) for s in ipy] == [
        (6, "python", None), (8, "python", "Out[2]: 17")]
    hbase = steps(fence("hbase(main):001:0> list\nTABLE\nevents\nhbase(main):002:0> count 'events'",
                        ""))
    assert [(s.line, s.interpreter) for s in hbase] == [(6, "hbase shell"), (9, "hbase shell")]
    fish = steps(fence("> set -x KUBECONFIG ~/.kube/prod\n> kubectl get nodes", ""))
    assert [(s.line, s.code) for s in fish] == [(6, "set -x KUBECONFIG ~/.kube/prod"),
                                                (7, "kubectl get nodes")]
    continued = steps(fence("$ for h in a b; do\n>   ping -c1 $h\n> done", "console"))
    assert [(s.line, s.code) for s in continued] == [(6, "for h in a b; do\n  ping -c1 $h\ndone")]


def test_prose_names_targets_and_clients_in_everyday_words() -> None:
    assert {s.on for s in steps(fence("uptime", "", "Connect to the primary, `pg-1`:"))} == {
        ("pg-1",)}
    assert {s.on for s in steps(fence("uptime", "", "Log into `web-3` as root:"))} == {
        ("web-3",)}
    sql = steps(fence("SELECT status FROM v$instance;", "sql",
                      "Open a SQL*Plus session as SYSDBA and run:"))
    assert [(s.kind, s.interpreter) for s in sql] == [("manual", "sqlplus")]
    pg = steps(fence("SELECT 1;", "sql", "In the Postgres shell:"))
    assert [(s.kind, s.interpreter) for s in pg] == [("manual", "psql")]


def test_lint_says_what_would_run_a_manual_step() -> None:
    from runbook_engine.parse import parse_text

    def advice(markdown: str) -> list[str]:
        problems = parse_text(markdown, "book.md", None).problems
        return [p.message for p in problems if p.code == "RB111"]

    ps = advice(fence("Get-Service Spooler", "powershell"))  # none where pwsh is installed
    assert all("install pwsh" in message for message in ps)
    assert advice(fence("SQL> select 1 from dual;", "")) == [
        "sqlplus steps are left to the operator (manual): open `sqlplus` with an earlier "
        "command, or name it in front matter engines"]


def test_kubectl_exec_with_options_after_the_pod_opens_the_client() -> None:
    book = ("# Book\n\n```\nkubectl exec -it mongo-0 -n data -- mongosh\n```\n\n"
            "```js\nrs.status()\n```\n")
    assert [(s.line, s.kind, s.interpreter) for s in steps(book)] == [
        (4, "shell", None), (8, "engine", "kubectl exec -i mongo-0 -n data -- mongosh")]


@pytest.mark.parametrize("lead", ["Expected:", "It should say:", "The state should be:",
                                  "You get:", "Something like this comes back:", "Healthy:",
                                  "On success:", "It answers with", "Look for:", "The reply:"])
def test_prose_that_promises_an_answer_makes_a_bare_word_output(lead: str) -> None:
    assert steps(fence("active", "", f"Run `systemctl is-active app`. {lead}")) == []


def test_an_answer_cue_does_not_hide_real_commands() -> None:
    found = steps(fence("kubectl -n shop exec -it api-0 -- bash", "",
                        "This should give you a shell in the pod:"))
    assert [s.line for s in found] == [6]


@pytest.mark.parametrize("prompt", ["MacBook:~ alice$ ", "➜  infra git:(main) ✗ ", "❯ ",
                                    "[ops@bastion ~]$ ", "deploy@web-2:/srv/app$ "])
def test_everyday_shell_prompts(prompt: str) -> None:
    found = steps(fence(f"{prompt}kubectl get nodes\nNAME     STATUS\nnode-1   Ready", ""))
    assert [(s.line, s.code, s.expected_output) for s in found] == [
        (6, "kubectl get nodes", "NAME     STATUS\nnode-1   Ready")]


@pytest.mark.parametrize(("prose", "host"), [
    ("SSH into `<node-name>` and run:", "<node-name>"),
    ("On db-prod-01, as root:", "db-prod-01"),
    ("Then. On 10.0.4.7:", "10.0.4.7"),
    ("Log into ops@bastion-2:", "ops@bastion-2"),
])
def test_hosts_the_prose_names(prose: str, host: str) -> None:
    assert {s.on for s in steps(fence("uptime", "", prose))} == {(host,)}


@pytest.mark.parametrize("prose", ["On Ubuntu 22.04, install it with:", "On k8s 1.29:",
                                   "Works on version 1.2.3, run:"])
def test_versions_and_systems_are_no_hosts(prose: str) -> None:
    assert {s.on for s in steps(fence("uptime", "", prose))} == {()}


def test_unknown_words_right_under_a_command_are_what_it_printed() -> None:
    found = steps(fence("systemctl is-enabled nginx\nenabled\ngit status\nOn branch main\n"
                        "nothing to commit, working tree clean\ncd /srv/app\nmigrate-db --check",
                        "bash"))
    assert [(s.line, s.expected_output) for s in found] == [
        (6, "enabled"), (8, "On branch main\nnothing to commit, working tree clean"),
        (11, None), (12, None)]
    # after a blank line, an unknown word is a command of its own
    assert [s.line for s in steps(fence("uptime\n\nrotate-logs", "bash"))] == [6, 8]


def test_an_unknown_program_typed_through_sudo_under_a_command_is_a_command() -> None:
    # nobody's output starts with `sudo atrm`: the line is typed, so its danger is judged too
    found = steps(fence("sudo crontab -r -u jdoe\nsudo atrm 14 15\nsudo ipvsadm -C\n"
                        "sudo ipvsadm-restore < /etc/ipvsadm.rules", "bash"))
    assert [(s.line, s.expected_output) for s in found] == [(6, None), (7, None), (8, None),
                                                             (9, None)]


def test_a_network_device_prompt_gives_manual_steps_in_its_cli() -> None:
    found = steps(fence("sw-12# show vlan brief\nVLAN Name   Status\n30   lab    active\n"
                        "sw-12# configure terminal\nsw-12(config)# no vlan 30\n"
                        "sw-12(config)# end", ""))
    assert [(s.line, s.kind, s.lang, s.code) for s in found] == [
        (6, "manual", "netdev", "show vlan brief"), (9, "manual", "netdev", "configure terminal"),
        (10, "manual", "netdev", "no vlan 30"), (11, "manual", "netdev", "end")]
    # the ESXi shell's prompt has no sign after its brackets
    assert [s.code for s in steps(fence("[root@esx-14:~] vim-cmd vmsvc/getallvms\n"
                                        "41  app-03  [ds1] app-03/app-03.vmx\n"
                                        "[root@esx-14:~] vim-cmd vmsvc/power.off 41", ""))] == [
        "vim-cmd vmsvc/getallvms", "vim-cmd vmsvc/power.off 41"]
    # a root shell whose prompt is its host name stays a shell
    assert [(s.kind, s.code) for s in steps(fence("edge# pfctl -sr\nedge# pfctl -F rules", ""))] \
        == [("shell", "pfctl -sr"), ("shell", "pfctl -F rules")]


def test_the_same_program_again_and_windows_options_are_commands() -> None:
    found = steps(fence("vendorctl alert query\nvendorctl alert query severity=critical\n"
                        "schtasks /query /fo LIST\ncmdkey /list", ""))
    assert [s.line for s in found] == [6, 7, 8, 9]


def test_an_aside_about_coming_back_is_no_promise_of_output() -> None:
    found = steps(fence("vendorctl silence expire --all", "",
                        "Expire them all (careful, alerts come back at once):"))
    assert [s.line for s in found] == [6]


def test_addresses_to_open_in_a_browser_are_manual_steps() -> None:
    body = "https://ci.example.org/job/{job name}/{build number}/stop\nhttps://ci.example.org/kill"
    found = steps(fence(body, "", "Open these in the browser, one after the other:"))
    assert [(s.line, s.kind, s.lang) for s in found] == [(6, "manual", "url"),
                                                         (7, "manual", "url")]
    assert steps(fence(body, "", "The job pages:")) == []


def test_script_console_calls_are_one_manual_script() -> None:
    assert [(s.line, s.kind) for s in steps(fence("Jenkins.instance.queue.clear()", ""))] == [
        (6, "manual")]
    script = "def q = Jenkins.instance.queue\nq.items.each { q.cancel(it.task) }"
    assert [(s.line, s.kind, s.code) for s in steps(fence(script, "groovy"))] == [
        (6, "manual", script)]


def test_placeholders_with_spaces_in_braces_keep_a_line_whole() -> None:
    found = steps(fence("curl -X POST https://ci/job/{job name}/build\nuptime", "bash"))
    assert [(s.line, s.code) for s in found] == [
        (6, "curl -X POST https://ci/job/{job name}/build"), (7, "uptime")]


def test_calls_after_a_rails_console_was_opened_are_fed_to_it() -> None:
    book = ("# Book\n\n```\nsudo gitlab-rails console\n```\n\n```\nUser.find(42).block()\n```\n")
    assert [(s.line, s.interpreter) for s in steps(book)] == [
        (4, None), (8, "sudo gitlab-rails console")]


def test_unknown_tools_lean_to_commands_unless_output_is_promised() -> None:
    assert [s.kind for s in steps(fence("appctl restart web --now", "", "If you see an error, "
                                        "restart it:"))] == ["shell"]
    assert [s.kind for s in steps(fence("appctl restart web --now", "", "## Logs"))] == ["shell"]
    assert steps(fence("appctl restart web --now", "", "The error looks like:")) == []
    assert steps(fence("nothing to commit", "", "Output:")) == []
    assert steps(fence("tmp is writable", "", "### Example output")) == []


def test_export_of_several_variables_is_a_command() -> None:
    found = steps(fence("export A_CACERT=/etc/pki/ca.crt A_CERT=/etc/pki/admin.crt\nenv | grep A_",
                        "sh"))
    assert [s.line for s in found] == [6, 7]


def test_lines_typed_into_a_console_whose_prompt_is_not_shown() -> None:
    found = steps(fence("$ bin/zookeeper-shell.sh zk1.lan:2181\nls /admin/delete_topics\n"
                        "delete /admin/delete_topics/tmp-1", ""))
    assert [(s.line, s.interpreter) for s in found] == [
        (7, "bin/zookeeper-shell.sh zk1.lan:2181"), (8, "bin/zookeeper-shell.sh zk1.lan:2181")]


def test_vendor_console_prompts_in_capitals() -> None:
    found = steps(fence("C:\\> diskpart\nDISKPART> list disk\nDISKPART> select disk 2\n"
                        "DISKPART> exit", ""))
    assert [(s.line, s.code) for s in found] == [(6, "diskpart"), (7, "list disk"),
                                                 (8, "select disk 2"), (9, "exit")]


def test_an_unknown_tool_with_a_path_under_another_command_is_a_command() -> None:
    found = steps(fence("vgremove vg_data\npvremovex /dev/md0", "bash"))
    assert [s.line for s in found] == [6, 7]


def test_a_hash_ends_an_angle_placeholder() -> None:
    from runbook_engine.placeholders import placeholder_names

    assert placeholder_names("ALTER SYSTEM KILL SESSION '<sid>,<serial#>'") == ["sid", "serial#"]


# ---------------------------------------------------------------- round 4: site generators, devices


def test_mkdocs_admonitions_and_tabs_hold_markdown_not_code() -> None:
    book = ("# Book\n\n=== \"Debian\"\n\n    ```bash\n    apt-get update\n    systemctl restart x\n"
            "    ```\n\n!!! warning \"Careful\"\n\n    Never restart both nodes at once, wait for\n"
            "    the first one.\n\n??? example \"Sample output\"\n\n        active (running)\n")
    found = steps(book)
    assert [(s.line, s.code) for s in found] == [(6, "apt-get update"), (7, "systemctl restart x")]
    assert found[0].title == "Debian"


def test_unfolding_admonitions_keeps_lines_and_leaves_fences_alone() -> None:
    from runbook_engine.parse.markdown import unfold_admonitions

    text = "```md\n!!! note\n\n    body\n```\n!!! note\n\n    body\n    ```sh\n    ls\n    ```\n"
    unfolded = unfold_admonitions(text)
    assert unfolded.split("\n")[:5] == text.split("\n")[:5]  # inside a fence: as written
    assert unfolded.split("\n")[5:] == ["Note:", "", "body", "```sh", "ls", "```", ""]


def test_network_device_prompts_are_typed_into_the_device() -> None:
    junos = steps(fence("noc@fw-1> show route summary\nInet.0: 12 destinations\n"
                        "noc@fw-1> configure\nEntering configuration mode\n\n[edit]\n"
                        "noc@fw-1# set system ntp server 10.0.0.5\n\n[edit]\nnoc@fw-1# commit", ""))
    assert [(s.line, s.code, s.kind) for s in junos] == [
        (6, "show route summary", "manual"), (8, "configure", "manual"),
        (12, "set system ntp server 10.0.0.5", "manual"), (15, "commit", "manual")]
    ios = steps(fence("sw-3>enable\nsw-3#show vlan brief\n1    default   active\n"
                      "sw-3#configure terminal\nsw-3(config)#vlan 40\nsw-3(config-vlan)# name lab",
                      ""))
    assert [s.line for s in ios] == [6, 7, 9, 10, 11]
    root = steps(fence("root@web-1# systemctl status nginx", "console"))
    assert [(s.code, s.kind) for s in root] == [("systemctl status nginx", "shell")]


def test_a_program_s_own_prompt_and_its_menu_prompts() -> None:
    found = steps(fence("C:\\> netsh\nnetsh> interface ipv4\nnetsh interface ipv4> show "
                        "addresses\n\nConfiguration for interface \"Ethernet0\"\n"
                        "netsh interface ipv4> exit", ""))
    assert [(s.line, s.code) for s in found] == [
        (6, "netsh"), (7, "interface ipv4"), (8, "show addresses"), (11, "exit")]


def test_windows_commands_written_in_capitals_run() -> None:
    found = steps(fence("SC QUERY Spooler\nNET STOP Spooler\nIPCONFIG /FLUSHDNS", ""))
    assert [s.line for s in found] == [6, 7, 8]
    assert steps(fence("NAME      STATUS\nweb-1     READY", "")) == []


def test_asciidoc_callouts_are_marks_not_code() -> None:
    found = steps(fence("sudo wipefs --all /dev/sdX <1>\nsudo pool add --device /dev/sdX # <2>\n"
                        "pool status", "", "[source,bash]"))
    assert [(s.line, s.code) for s in found] == [
        (6, "sudo wipefs --all /dev/sdX"), (7, "sudo pool add --device /dev/sdX"),
        (8, "pool status")]
    from runbook_engine.safety import placeholders

    assert placeholders(found[0].code) == ["sdX"]


def test_a_dsc_configuration_is_kept_and_its_compilation_runs() -> None:
    book = fence("Configuration Web {\n    Node 'localhost' {\n        WindowsFeature IIS {\n"
                 "            Name = 'Web-Server'\n        }\n    }\n}\nWeb -OutputPath C:\\DSC\n"
                 "Start-DscConfiguration -Path C:\\DSC -Wait", "powershell")
    assert [s.line for s in steps(book)] == [13, 14]


def test_zsh_percent_prompt_before_a_tool_nobody_lists() -> None:
    found = steps(fence("% bkp-agent --version\nbkp-agent 4.2.1\n% bkp-agent status", ""))
    assert [(s.line, s.code) for s in found] == [(6, "bkp-agent --version"),
                                                 (8, "bkp-agent status")]


def test_a_version_placeholder_keeps_its_v_prefix() -> None:
    from runbook_engine.placeholders import find_placeholders

    text = "git tag vX.Y.Z && ./build.sh X.Y.Z"
    spans = find_placeholders(text)
    assert [(s.name, text[s.start:s.end]) for s in spans] == [("X.Y.Z", "X.Y.Z")] * 2
    assert text[spans[0].start - 1] == "v"


def test_shell_prompts_of_bsd_and_esxi_hosts() -> None:
    bsd = steps(fence("edge# pfctl -s states | wc -l\n     412\nedge# service dhcpd onestop", ""))
    assert [(s.line, s.code) for s in bsd] == [(6, "pfctl -s states | wc -l"),
                                               (8, "service dhcpd onestop")]
    esxi = steps(fence("[root@esx-2:~] vim-cmd vmsvc/getallvms\n12   lab-ci-1\n"
                       "[root@esx-2:~] esxcli system version get", ""))
    assert [s.line for s in esxi] == [6, 8]


def test_a_bare_program_s_star_prompt_and_a_message_that_names_its_program() -> None:
    bacula = steps(fence("$ sudo bconsole\nConnecting to Director bk:9101\n*list jobs\n*quit", ""))
    assert [(s.line, s.code) for s in bacula] == [(6, "sudo bconsole"), (8, "list jobs"),
                                                  (9, "quit")]
    queue = steps(fence("# postsuper -d ALL deferred\npostsuper: Deleted: 37 messages\n"
                        "# mailq | tail -1\nMail queue is empty", ""))
    assert [(s.line, s.expected_output) for s in queue] == [
        (6, "postsuper: Deleted: 37 messages"), (8, "Mail queue is empty")]


def test_an_unknown_tool_typed_through_sudo_is_never_output() -> None:
    found = steps(fence("sudo ipvsadm -C\nsudo ipvsadm-restore < /etc/ipvsadm.rules\n"
                        "sudo env -u SUDO_USER nice -n 10 tar -czf /root/a.tgz /srv/a", "bash"))
    assert [s.line for s in found] == [6, 7, 8]
    from runbook_engine.safety import placeholders

    assert placeholders(found[2].code) == []  # `env -u NAME` names a variable to unset


def test_callout_removal_is_linear_in_a_long_blank_run() -> None:
    import time

    from runbook_engine.parse.markdown import _CALLOUTS

    text = "a" + " " * 200_000 + "b >\nc <1>\n"
    start = time.process_time()
    assert _CALLOUTS.sub("", text).endswith("b >\nc\n")
    assert time.process_time() - start < 1.0  # quadratic backtracking took minutes
