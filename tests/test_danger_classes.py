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
    "SELECT name FROM sys.availability_groups; -- then FAILOVER by hand",
]


@pytest.mark.parametrize("code", SQL_FIRES)
def test_sql_alter_that_fails_over_or_removes(code: str) -> None:
    assert any("ALTER" in r for r in danger_reasons(code, "sql")), code


@pytest.mark.parametrize("code", SQL_QUIET)
def test_sql_alter_lookalikes_stay_quiet(code: str) -> None:
    assert danger_reasons(code, "sql") == [], code
