"""General classes of danger the unseen runbooks of round 7 showed (issue 9): SQL ``ALTER`` of a
group or database that fails over or removes, console method calls, text fed to a socket,
safeties switched off, strong verbs in options of known tools -- each with its look-alikes."""

from __future__ import annotations

import pytest

from runbook_engine.danger import danger_reasons

SQL_FIRES = [
    "ALTER AVAILABILITY GROUP [AG1] FAILOVER;",
    "ALTER AVAILABILITY GROUP [AG1] FORCE_FAILOVER_ALLOW_DATA_LOSS;",
    "ALTER AVAILABILITY GROUP [AG1] REMOVE DATABASE [Old];",
    "ALTER AVAILABILITY GROUP [AG1] REMOVE REPLICA ON N'node2';",
    "ALTER DATABASE Sales SET OFFLINE WITH ROLLBACK IMMEDIATE;",
    "ALTER DATABASE Sales SET SINGLE_USER;",
]
SQL_QUIET = [
    "ALTER DATABASE Sales SET ONLINE;",
    "ALTER DATABASE Sales SET MULTI_USER;",
    "ALTER AVAILABILITY GROUP [AG1] ADD DATABASE [New];",
    "ALTER TABLE t ADD COLUMN c int;",
    "ALTER TABLE users ALTER COLUMN email DROP NOT NULL;",
    "SELECT name FROM sys.availability_groups; -- then FAILOVER by hand",
]


@pytest.mark.parametrize("code", SQL_FIRES)
def test_sql_alter_that_fails_over_or_removes(code: str) -> None:
    assert danger_reasons(code, "sql") != [], code


@pytest.mark.parametrize("code", SQL_QUIET)
def test_sql_alter_lookalikes_stay_quiet(code: str) -> None:
    assert danger_reasons(code, "sql") == [], code


METHOD_FIRES = [
    ("rs.freeze(300)", "javascript", "freeze"),
    ('Jenkins.instance.getItemByFullName("a").getBuildByNumber(9).doKill()', "groovy", "kill"),
    ("job.doDecommission()", "groovy", "decommission"),
]
METHOD_QUIET = [
    ("rs.status()", "javascript"),
    ("f.close()", "python"),
    ("cache.getDeletedItems()", "javascript"),
    ("items.clear()", "python"),
]


@pytest.mark.parametrize(("code", "lang", "word"), METHOD_FIRES)
def test_console_method_named_for_a_verb(code: str, lang: str, word: str) -> None:
    assert any(f"the word {word}" in r for r in danger_reasons(code, lang)), code


@pytest.mark.parametrize(("code", "lang"), METHOD_QUIET)
def test_everyday_and_reading_methods_stay_quiet(code: str, lang: str) -> None:
    assert danger_reasons(code, lang) == [], code


SOCKET = " | socat stdio /run/haproxy/admin.sock"
FED_FIRES = [
    ('echo "set server be/x state drain"', "drain"),
    ('echo "set server be/x state maint"', "maint"),
    ('echo "set weight be/x 0"', "weight 0"),
    ('echo "disable health be/x"', "disable"),
]
FED_QUIET = ['echo "set server be/x state ready"', 'echo "show servers conn be"',
             'echo "set weight be/x 50"', 'echo "enable server be/x"',
             'echo "show servers state disabled"']


@pytest.mark.parametrize(("code", "word"), FED_FIRES)
def test_text_fed_to_a_socket_is_judged(code: str, word: str) -> None:
    assert any(f"the word {word}" in r for r in danger_reasons(code + SOCKET)), code


@pytest.mark.parametrize("code", FED_QUIET)
def test_text_fed_to_a_socket_that_reads_or_restores(code: str) -> None:
    assert danger_reasons(code + SOCKET) == [], code


SAFETY_FIRES = [
    ("gcloud sql instances patch pg1 --no-deletion-protection", "protection"),
    ("acmectl db modify x --disable-termination-protection", "protection"),
    ("acmectl db modify x --deletion-protection=false", "protection"),
    ("ceph config set mon mon_allow_pool_delete true", "allows deletion"),
    ("consul maint -enable -reason upgrade", "maintenance"),
    ("esxcli system maintenanceMode set --enable true", "maintenance"),
    ("php occ maintenance:mode --on", "maintenance"),
    ("acmectl backend set --weight 0 n1", "zero"),
]
SAFETY_QUIET = [
    "ceph config set mon mon_allow_pool_delete false",
    "consul maint -disable",
    "esxcli system maintenanceMode set --enable false",
    "esxcli system maintenanceMode get",
    "php occ maintenance:mode --off",
    "acmectl db modify x --deletion-protection",
    "acmectl backend set --weight 10 n1",
    "acmectl scale --replicas=3",
    "grep allow_delete /etc/app.conf",
]


@pytest.mark.parametrize(("code", "word"), SAFETY_FIRES)
def test_a_safety_switched_off(code: str, word: str) -> None:
    assert any(word in r for r in danger_reasons(code)), code


@pytest.mark.parametrize("code", SAFETY_QUIET)
def test_a_safety_kept_on(code: str) -> None:
    assert danger_reasons(code) == [], code


def test_strong_verbs_in_option_names_of_tools_with_rows() -> None:
    found = danger_reasons("nomad node eligibility -disable n1")
    assert any("the word disable" in r for r in found)
    assert danger_reasons("nomad node eligibility -enable n1") == []
    # known-safe options of tools with rows stay out, by data
    assert danger_reasons("docker compose up -d --remove-orphans") == []
    assert danger_reasons("kafka-configs.sh --alter --entity-type topics --entity-name t "
                          "--delete-config retention.ms") == []


def test_step_down_in_two_parts_is_one_verb() -> None:
    assert any("stepdown" in r for r in danger_reasons("nats server raft step-down"))
    assert danger_reasons("nats server raft peers") == []
