"""Danger rules on statements: SQL, MongoDB shell, Redis words and ORM consoles (Rails, Django).

These run on text that a database client or console receives: SQL blocks, ``psql -c '...'``,
heredocs fed to ``mysql``, ``mongosh --eval``, Python and Ruby one-liners, quoted strings handed to
tools we do not know. Each statement (``;``-separated) is checked on its own, so a ``WHERE`` in the
next statement never excuses a ``DELETE`` without one.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from . import lazyre
from .danger_grammar import word_set
from .danger_rules import CRITICAL, HIGH, MEDIUM


@dataclass(frozen=True)
class _Lazy:
    """A regex compiled on first use (plan must not pay for statement rules it never needs)."""

    source: str
    flags: int = re.IGNORECASE

    @functools.cached_property
    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.source, self.flags)


@dataclass(frozen=True)
class TextRule:
    """A destructive statement shape, with what must (not) also be in the statement."""

    family: str
    pattern: _Lazy
    severity: int
    reason: str  # ``{0}``: the pattern's first group, upper-cased
    shows: str  # the shape in words, for the docs
    requires: _Lazy | None = None
    forbids: _Lazy | None = None
    only: str = ""  # only in this language ("sql": a bare ``KILL 12`` is SQL, not a shell kill)
    fallback: bool = False  # only when no other rule matched the statement (generic SDK calls)


def _re(pattern: str, flags: int = re.IGNORECASE) -> _Lazy:
    return _Lazy(pattern, flags)


_WHERE = _re(r"\bWHERE\b")
# the rest of an ALTER TABLE statement, stopping at the next ALTER so each is scanned once
_ALTER_REST = r"\bALTER\s+TABLE\b(?:(?!\bALTER\b)[^;])*?"
# a Django queryset: Model.objects..., or a chain that filters
_QUERYSET = r"(?:\.objects\b|\.filter\(|\.exclude\(|\.all\(\))[^\n;]*?"
#: EXPLAIN shows a plan without running the statement (EXPLAIN ANALYZE runs it)
_EXPLAIN_ONLY = _re(r"^\s*EXPLAIN\b(?![^;]{0,80}?\bANALY[SZ]E\b)")
_ALTER = _re(r"^\s*ALTER\b")
_ALTER_TABLE = _re(r"\bALTER\s+TABLE\b")
_TABLE = r"[\w.`\"\[\]]+"
_COLLECTION = (r"\bdb(?:\.getSiblingDB\([^)]{0,200}\))?(?:\.getCollection\([^)]{0,200}\)|"
               r"\.collection\([^)]{0,200}\)|\[[^\]]{0,200}\]|\.(?!getSiblingDB\b)[\w$]+)")
_MATCH_ALL = r"\(\s*(?:\{\s*\})?\s*[,)]"

TEXT_RULES: tuple[TextRule, ...] = (
    # ---- SQL
    TextRule("SQL", _re(r"\bDROP\s+(?:TEMPORARY\s+|TEMP\s+)?(TABLE|DATABASE|SCHEMA|KEYSPACE|"
                        r"COLLECTION|TABLESPACE|OWNED)\b(?![.\w-])"), CRITICAL,
             "DROP {0} deletes it and its data", "`DROP TABLE|DATABASE|SCHEMA|KEYSPACE|OWNED`",
             forbids=_ALTER),
    TextRule("SQL", _re(r"\bDROP\s+((?:MATERIALIZED\s+)?VIEW|INDEX|USER|ROLE|SEQUENCE|FUNCTION|"
                        r"PROCEDURE|TRIGGER|TYPE|EXTENSION|PUBLICATION|SUBSCRIPTION|SERVER|"
                        r"LOGIN|EVENT|POLICY|RULE|DOMAIN|AGGREGATE|STREAM|TOPIC|CONNECTOR|"
                        r"DICTIONARY|RETENTION\s+POLICY|CONTINUOUS\s+QUERY|SHARD)\b(?![.\w-])"),
             HIGH,
             "DROP {0} deletes it", "`DROP VIEW|INDEX|USER|ROLE|FUNCTION|...`", forbids=_ALTER),
    TextRule("SQL", _re(_ALTER_REST + r"\bDROP\s+(COLUMN|PARTITION)\b"), CRITICAL,
             "ALTER TABLE ... DROP {0} deletes its data",
             "`ALTER TABLE ... DROP COLUMN|PARTITION`"),
    TextRule("SQL", _re(_ALTER_REST + r"\bDROP\s+(?!(?:COLUMN|PARTITION|NOT\s+NULL|"
                        r"DEFAULT|IDENTITY|EXPRESSION)\b)(\w+)"), HIGH,
             "ALTER TABLE ... DROP removes a constraint or index",
             "`ALTER TABLE ... DROP CONSTRAINT|INDEX|...`"),
    TextRule("SQL", _re(_ALTER_REST + r"\bDELETE\s+WHERE\b"), HIGH,
             "ALTER TABLE ... DELETE deletes rows", "`ALTER TABLE ... DELETE WHERE` (ClickHouse)"),
    # ALTER of anything but a table, whose words switch it over or away (SQL Server ``ALTER
    # AVAILABILITY GROUP [AG] FAILOVER``, ``... REMOVE DATABASE [x]``); ``SET ONLINE``, ``SET
    # MULTI_USER``, ``ADD`` are not among them; ``SET OFFLINE|SINGLE_USER`` and ``ALTER SYSTEM
    # KILL SESSION`` have their own rows
    TextRule("SQL", _re(r"\bALTER\s+(?!TABLE\b|COLUMN\b|SYSTEM\b)\w+(?:(?!\bALTER\b)[^;])*?"
                        r"\b(FORCE_FAILOVER_ALLOW_DATA_LOSS|FAILOVER|REMOVE|DROP|REVOKE)\b"),
             HIGH,
             "ALTER ... {0} fails over, removes or takes offline what it alters",
             "`ALTER AVAILABILITY GROUP|DATABASE ... FAILOVER|REMOVE|DROP` "
             "(`SET OFFLINE|SINGLE_USER`, `ALTER SYSTEM KILL`: below)", forbids=_ALTER_TABLE),
    TextRule("SQL", _re(r"\bTRUNCATE\s+(?:TABLE\s+)?(?:ONLY\s+)?[\w\"`\[]"), CRITICAL,
             "TRUNCATE deletes every row of a table", "`TRUNCATE [TABLE] name`"),
    TextRule("SQL", _re(r"\bDELETE\s+(?:(?:LOW_PRIORITY|QUICK|IGNORE)\s+)*(?:"
                        + _TABLE + r"\s+)?FROM\b"), CRITICAL,
             "DELETE FROM without WHERE deletes every row", "`DELETE FROM` without `WHERE`",
             forbids=_WHERE),
    TextRule("SQL", _re(r"\bDELETE\s+(?:(?:LOW_PRIORITY|QUICK|IGNORE)\s+)*(?:"
                        + _TABLE + r"\s+)?FROM\b"), HIGH,
             "DELETE FROM ... WHERE deletes rows", "`DELETE FROM ... WHERE`", requires=_WHERE),
    TextRule("SQL", _re(r"(?:^|[\s(\"'`;])UPDATE\s+(?:(?:ONLY|LOW_PRIORITY|IGNORE)\s+)*"
                        + _TABLE + r"(?:\s+(?:AS\s+)?\w+)?\s+SET\b"), CRITICAL,
             "UPDATE without WHERE changes every row", "`UPDATE ... SET` without `WHERE`",
             forbids=_WHERE),
    TextRule("SQL", _re(r"(?:^|[\s(\"'`;])UPDATE\s+(?:(?:ONLY|LOW_PRIORITY|IGNORE)\s+)*"
                        + _TABLE + r"(?:\s+(?:AS\s+)?\w+)?\s+SET\b"), MEDIUM,
             "UPDATE ... WHERE changes rows", "`UPDATE ... SET ... WHERE`", requires=_WHERE),
    TextRule("SQL", _re(r"\bVACUUM\s*(?:\([^)]{0,200}\bFULL\b|FULL\b)"), HIGH,
             "VACUUM FULL locks the table exclusively while it rewrites it", "`VACUUM FULL`"),
    TextRule("SQL", _re(r"\bpg_terminate_backend\b"), HIGH,
             "pg_terminate_backend kills database sessions", "`pg_terminate_backend(...)`"),
    TextRule("SQL", _re(r"\bpg_cancel_backend\b"), MEDIUM,
             "pg_cancel_backend cancels running queries", "`pg_cancel_backend(...)`"),
    TextRule("SQL", _re(r"\bpg_drop_replication_slot\b"), HIGH,
             "pg_drop_replication_slot deletes a replication slot",
             "`pg_drop_replication_slot(...)`"),
    TextRule("SQL", _re(r"\bpg_promote\s*\("), HIGH, "pg_promote() turns a standby into a primary",
             "`pg_promote()`"),
    TextRule("SQL", _re(r"^\s*KILL\s+(?:QUERY\s+|CONNECTION\s+)?\d+"), HIGH,
             "KILL ends a database session", "`KILL [QUERY] id`", only="sql"),
    TextRule("SQL", _re(r"^\s*SHUTDOWN\b"), CRITICAL, "SHUTDOWN stops the database server",
             "`SHUTDOWN`", only="sql"),
    TextRule("SQL", _re(r"\b(RESET\s+(?:MASTER|SLAVE|REPLICA|BINARY\s+LOGS)|PURGE\s+(?:BINARY|"
                        r"MASTER)\s+LOGS|STOP\s+(?:SLAVE|REPLICA))\b"), HIGH,
             "{0} stops or deletes replication state", "`RESET MASTER`, `STOP REPLICA`, ..."),
    TextRule("SQL", _re(r"\bSET\s+(?:GLOBAL\s+|@@GLOBAL\.)?(sql_(?:slave|replica)_skip_counter)"),
             HIGH, "{0} skips replicated changes, so the replica drifts from its source",
             "`SET GLOBAL sql_replica_skip_counter`"),
    TextRule("SQL", _re(r"\bDROP\s+(MEASUREMENT|SERIES)\b"), CRITICAL,
             "DROP {0} deletes its data points", "`DROP MEASUREMENT|SERIES` (InfluxQL)"),
    TextRule("SQL", _re(r"^\s*STOP\s+DATABASE\b"), HIGH, "STOP DATABASE takes a database offline",
             "`STOP DATABASE` (Neo4j)"),
    TextRule("SQL", _re(r"\bMATCH\b[^;]*?\b(DETACH\s+DELETE|DELETE)\s+\w"), HIGH,
             "Cypher {0} deletes the nodes it matched", "`MATCH ... [DETACH] DELETE n` (Cypher)"),
    TextRule("SQL", _re(r"\bRESTORE\s+(DATABASE|LOG|TABLE)\b"), CRITICAL,
             "RESTORE {0} overwrites a database", "`RESTORE DATABASE` (SQL Server)"),
    TextRule("SQL", _re(r"\bREPAIR_ALLOW_DATA_LOSS\b"), CRITICAL,
             "REPAIR_ALLOW_DATA_LOSS repairs by deleting data",
             "`DBCC ... REPAIR_ALLOW_DATA_LOSS`"),
    TextRule("SQL", _re(r"\bWITH\s+ROLLBACK\s+IMMEDIATE\b|\bSET\s+(OFFLINE|SINGLE_USER)\b"), HIGH,
             "ALTER DATABASE ... ROLLBACK IMMEDIATE kills open transactions",
             "`SET SINGLE_USER|OFFLINE`, `WITH ROLLBACK IMMEDIATE`"),
    TextRule("SQL", _re(r"\bALTER\s+SYSTEM\s+(KILL|DISCONNECT)\s+SESSION\b"), HIGH,
             "ALTER SYSTEM {0} SESSION ends a database session",
             "`ALTER SYSTEM KILL|DISCONNECT SESSION` (Oracle)"),
    TextRule("SQL", _re(r"^\s*PURGE\s+(TABLE|INDEX|(?:DBA_|USER_)?RECYCLEBIN|TABLESPACE)\b"), HIGH,
             "PURGE {0} deletes dropped objects for good", "`PURGE RECYCLEBIN|TABLE` (Oracle)"),
    TextRule("SQL", _re(r"^\s*(?:RMAN>\s*)?DELETE\s+(?:NOPROMPT\s+)?(?:FORCE\s+)?(OBSOLETE|"
                        r"EXPIRED|BACKUP|BACKUPSET|ARCHIVELOG|COPY)\b"), HIGH,
             "RMAN DELETE {0} deletes backups", "`DELETE [NOPROMPT] OBSOLETE|BACKUP|...` (RMAN)"),
    TextRule("SQL", _re(r"\bALTER\s+DATABASE\b[^;]*?\bOPEN\s+RESETLOGS\b"), CRITICAL,
             "OPEN RESETLOGS discards the redo after the recovery point",
             "`ALTER DATABASE OPEN RESETLOGS` (Oracle)"),
    TextRule("SQL", _re(r"^\s*(?:RMAN>\s*)?(RESTORE|RECOVER)\s+(?:DATABASE|TABLESPACE|DATAFILE|"
                        r"CONTROLFILE|SPFILE)\b"), CRITICAL,
             "RMAN {0} overwrites database files", "`RESTORE|RECOVER DATABASE` (RMAN)"),
    TextRule("SQL", _re(r"^\s*STARTUP\s+FORCE\b"), CRITICAL,
             "STARTUP FORCE aborts the running instance", "`STARTUP FORCE` (SQL*Plus)", only="sql"),
    TextRule("SQL", _re(r"\bFLUSH\s+TABLES\s+WITH\s+READ\s+LOCK\b"), MEDIUM,
             "FLUSH TABLES WITH READ LOCK blocks every write", "`FLUSH TABLES WITH READ LOCK`"),
    # ---- Redis words inside other text (``redis.flushall()``)
    TextRule("Redis", _re(r"\bFLUSHALL\b"), CRITICAL,
             "FLUSHALL deletes every key in every Redis database", "`FLUSHALL`"),
    TextRule("Redis", _re(r"\bFLUSHDB\b"), CRITICAL,
             "FLUSHDB deletes every key in the Redis database", "`FLUSHDB`"),
    # ---- MongoDB shell and drivers
    TextRule("MongoDB", _re(r"\bdb(?:\.getSiblingDB\([^)]{0,200}\))?\.dropDatabase\s*\(", 0),
             CRITICAL,
             "dropDatabase() deletes the whole database", "`db.dropDatabase()`"),
    TextRule("MongoDB", _re(_COLLECTION + r"\.drop\s*\(\s*\)", 0), CRITICAL,
             "drop() deletes a MongoDB collection and its documents", "`db.coll.drop()`"),
    TextRule("MongoDB", _re(_COLLECTION + r"\.(deleteMany|remove)\s*" + _MATCH_ALL, 0), CRITICAL,
             "{0}({{}}) deletes every document", "`db.coll.deleteMany({})`, `remove({})`"),
    TextRule("MongoDB", _re(_COLLECTION + r"\.(deleteMany|deleteOne|remove|findOneAndDelete|"
                            r"findAndRemove)\s*\(", 0), HIGH,
             "{0}() deletes documents", "`db.coll.deleteMany(filter)`, `deleteOne`, `remove`"),
    TextRule("MongoDB", _re(_COLLECTION + r"\.(updateMany|update)\s*\(\s*\{\s*\}", 0), HIGH,
             "{0}({{}}) changes every document", "`db.coll.updateMany({}, ...)`"),
    TextRule("MongoDB", _re(_COLLECTION + r"\.(dropIndex|dropIndexes)\s*\(", 0), HIGH,
             "{0}() deletes indexes", "`db.coll.dropIndex(...)`"),
    TextRule("MongoDB", _re(r"\bdb\.(dropUser|dropAllUsers|dropRole|dropAllRoles)\s*\(", 0), HIGH,
             "{0}() deletes database users or roles", "`db.dropUser(...)`"),
    TextRule("MongoDB", _re(r"\brs\.(remove|stepDown|reconfig)\s*\(", 0), HIGH,
             "rs.{0}() changes the replica set", "`rs.remove()`, `rs.stepDown()`, `rs.reconfig()`"),
    TextRule("MongoDB", _re(r"\.shutdownServer\s*\(|\badminCommand\s*\(\s*\{\s*[\"']?shutdown",
                            0), CRITICAL,
             "shutdownServer() stops the MongoDB server", "`db.shutdownServer()`"),
    TextRule("MongoDB", _re(r"\bdb\.killOp\s*\(", 0), MEDIUM, "killOp() kills a running operation",
             "`db.killOp(...)`"),
    TextRule("MongoDB", _re(r"\b(?:sh\.)?removeShard\b", 0), HIGH,
             "removeShard drains and removes a shard", "`removeShard`"),
    # ---- ORM consoles and scripting one-liners
    TextRule("consoles", _re(r"\.(destroy_all|delete_all)\b", 0), HIGH,
             "{0} deletes every matching record", "Rails `destroy_all`, `delete_all`"),
    TextRule("consoles", _re(_QUERYSET + r"\.delete\s*\(\s*\)", 0), HIGH,
             "QuerySet.delete() deletes every matching row", "Django `.filter(...).delete()`"),
    TextRule("consoles", _re(_QUERYSET + r"\.update\s*\(", 0), HIGH,
             "QuerySet.update() changes every matching row", "Django `.filter(...).update(...)`"),
    TextRule("consoles", _re(r"\bSidekiq::(\w+)\b[^\n;]{0,200}?\.clear\b", 0), HIGH,
             "Sidekiq {0}.clear deletes every job in it", "`Sidekiq::Queue.new(...).clear`"),
    TextRule("consoles", _re(r"\.each\s*(?:\{|do\b)[^\n]{0,300}?\.delete\b", 0), HIGH,
             "deletes each item the loop visits", "Ruby `.each { |job| job.delete }`"),
    TextRule("PowerShell", _re(r"\$[\w:.]*\.(Delete|Terminate|Kill|Stop|Remove|Format)\s*\("),
             HIGH, ".{0}() on the objects it gets deletes or stops them",
             "`$_.Delete()`, `.Terminate()`, `.Kill()`", only="powershell"),
    TextRule("consoles", _re(r"::truncate\s*\(\s*\)|->(?:delete|truncate)\s*\(\s*\)", 0), HIGH,
             "delete()/truncate() deletes rows", "Laravel `->delete()`, `::truncate()`"),
    TextRule("consoles", _re(r"\.(setPrimaryInstance|forcePrimaryInstance|"
                             r"forceQuorumUsingPartitionOf)\s*\(", 0), HIGH,
             ".{0}() moves the primary of a MySQL InnoDB Cluster or ReplicaSet",
             "MySQL Shell `cluster.setPrimaryInstance(...)`"),
    TextRule("consoles", _re(r"recoveryMethod[\"']?\s*:\s*[\"'](clone)", 0), HIGH,
             "recoveryMethod {0} replaces the joining instance's data",
             "MySQL Shell `addInstance(..., {recoveryMethod: \"clone\"})`"),
    TextRule("routeros", _re(r"^\s*/?(system\s+package\s+update\s+install|system\s+reboot|"
                             r"system\s+shutdown|system\s+reset-configuration)\b",
                             re.IGNORECASE | re.MULTILINE), CRITICAL,
             "RouterOS {0} restarts or resets the router",
             "`/system package update install`, `/system reboot` (RouterOS)", only="routeros"),
    TextRule("consoles", _re(r"\b(?:Rails\.cache|cache)\.clear\b", 0), MEDIUM,
             "cache.clear empties the application cache", "`Rails.cache.clear`, `cache.clear()`"),
    TextRule("consoles", _re(r"\bshutil\.rmtree\s*\(", 0), HIGH,
             "shutil.rmtree deletes a directory tree", "`shutil.rmtree(...)`"),
    # ---- consoles and wire protocols fed by a client (diskpart, HAProxy's socket, memcached)
    TextRule("diskpart", _re(r"^\s*(?:DISKPART>\s*)?(clean(?:\s+all)?|delete\s+(?:partition|"
                             r"volume|disk)|format)\b", re.IGNORECASE | re.MULTILINE), CRITICAL,
             "diskpart {0} erases a disk, partition or volume", "`clean`, `delete partition`, "
             "`format` (diskpart)", only="diskpart"),
    # taking a server out of rotation (``set server ... state drain|maint``) is like a cordon
    TextRule("HAProxy", _re(r"^\s*(shutdown\s+(?:sessions|session|frontend)|del\s+server|"
                            r"clear\s+table)\b", re.IGNORECASE | re.MULTILINE),
             HIGH, "HAProxy {0} cuts open sessions or drops state",
             "`shutdown sessions`, `del server`, `clear table`", only="wire"),
    # a switch or router's command line (Cisco IOS and the CLIs modelled on it)
    TextRule("network device", _re(r"^\s*(?:do\s+)?(reload|write\s+erase|erase\s+\S+|"
                                   r"format\s+\S+|delete\s+\S+)", re.IGNORECASE | re.MULTILINE),
             CRITICAL, "{0} wipes or restarts the device", "`reload`, `write erase`, "
             "`erase startup-config`, `delete flash:...`", only="netdev"),
    TextRule("network device", _re(r"^\s*(?:do\s+)?(shutdown|no\s+(?!shutdown\b)\S+|clear\s+"
                                   r"(?!counters\b)\S+)", re.IGNORECASE | re.MULTILINE),
             HIGH, "{0} takes an interface down, removes configuration or resets sessions",
             "`shutdown`, `no vlan 30`, `clear ip bgp *`", only="netdev"),
    TextRule("MQSC", _re(r"^\s*(?:\d+\s*:\s*)?((?:DELETE|CLEAR|STOP|PURGE|RESET|SUSPEND)\s+"
                         r"[A-Z]+)\b", re.IGNORECASE | re.MULTILINE), HIGH,
             "MQSC {0} deletes, empties or stops an IBM MQ object",
             "`DELETE QLOCAL(...)`, `CLEAR QLOCAL(...)`, `STOP CHANNEL(...)` (runmqsc)",
             only="mqsc"),
    TextRule("nsupdate", _re(r"^\s*(?:update\s+)?(delete|del)\s+\S", re.IGNORECASE | re.MULTILINE),
             HIGH, "nsupdate {0} removes DNS records", "`update delete name` (nsupdate)",
             only="nsupdate"),
    TextRule("LDIF", _re(r"^\s*(changetype:\s*delete|delete:\s*\w)", re.IGNORECASE | re.MULTILINE),
             HIGH, "LDIF {0} deletes directory entries or attributes",
             "`changetype: delete`, `delete: attribute` (ldapmodify)", only="ldif"),
    TextRule("memcached", _re(r"^\s*(flush_all)\b", re.MULTILINE), CRITICAL,
             "memcached flush_all drops every cached item", "`flush_all`", only="wire"),
    # a SQL function named for what it destroys (TimescaleDB ``drop_chunks``, ``remove_*_policy``)
    TextRule("SQL", _re(r"(?<![.\w])((?:drop|delete|remove|purge|truncate|terminate)_\w+)\s*\("),
             HIGH, "{0}() deletes data or removes a policy", "`SELECT drop_chunks(...)`, "
             "`remove_retention_policy(...)`", fallback=True),
    # ---- SDK and client calls named for what they destroy (boto3, pymongo, redis-py, ...)
    TextRule("consoles", _re(r"\.((?:delete|destroy|purge|truncate|terminate|wipe|cancel|"
                             r"dissolve|unenroll|unregister|deregister|uninstall|shutdown|"
                             r"reboot|kill|stop|evict|failover|switchover|revoke|erase)"
                             r"(?:_\w+|[A-Z]\w*)?|(?:drop|remove|flush|force|disable|reset)"
                             r"(?:_\w+|[A-Z]\w*)|(?<=queue\.)clear)\s*\(", 0), HIGH,
             ".{0}() deletes or stops what the client manages",
             "SDK and console calls: `.delete_bucket(...)`, `.drop_collection(...)`, "
             "`.delete(...)`, `.removeInstance(...)`, `.unenroll()`, `.stop()`",
             fallback=True),
)

#: words that make a text worth checking at all (lower-case; one set lookup per word)
TEXT_TRIGGERS = word_set(
    "drop alter truncate delete update vacuum pg_terminate_backend pg_cancel_backend "
    "pg_drop_replication_slot pg_promote kill shutdown reset purge stop change restore "
    "repair_allow_data_loss rollback offline single_user flush flushall flushdb dropdatabase "
    "deletemany deleteone remove findoneanddelete findandremove updatemany dropindex "
    "dropindexes dropuser dropallusers droprole dropallroles stepdown reconfig shutdownserver "
    "killop removeshard destroy_all delete_all rmtree db pg force sql_slave_skip_counter "
    "sql_replica_skip_counter clear terminate resetlogs recover startup setprimaryinstance "
    "forceprimaryinstance recoverymethod"
)

_LITERAL = lazyre.compile(r"'(?:[^']|'')*'")
_SQL_COMMENT = lazyre.compile(r"--(?:\s[^\n]*|$)|/\*.*?\*/|^\s*#[^\n]*|^\s*//[^\n]*",
                              re.MULTILINE | re.DOTALL)
_STATEMENT_SPLIT = lazyre.compile(r";|\n[ \t]*\n")
#: a call named for what it destroys (the words prefilter sees ``delete_bucket`` whole)
METHOD_HINT = lazyre.compile(r"(?<![a-z])(?:delete|destroy|purge|truncate|terminate|wipe|drop"
                             r"|remove|"
                             r"flush|cancel|clear|dissolve|unenroll|unregister|deregister|uninstall|"
                             r"shutdown|reboot|kill|stop|evict|failover|switchover|revoke|erase|force|"
                             r"disable|reset)\w*\s*\(", re.IGNORECASE)


def statements(text: str, sql: bool) -> list[str]:
    """The statements of ``text``: comments dropped, SQL string literals blanked."""
    text = _SQL_COMMENT.sub(" ", text)
    if sql:
        text = _LITERAL.sub("''", text)
    return [s for s in _STATEMENT_SPLIT.split(text) if s.strip()]


def text_findings(text: str, lang: str, own_only: bool = False) -> list[tuple[TextRule, str]]:
    """(rule, reason) for each destructive statement in ``text`` written in ``lang`` ("sql",
    "powershell", or "" for text that only may hold statements); ``own_only`` keeps to the
    rules written for that language."""
    found: list[tuple[TextRule, str]] = []
    for statement in statements(text, lang == "sql"):
        if _EXPLAIN_ONLY.compiled.match(statement):
            continue
        best: dict[str, tuple[TextRule, str]] = {}  # one finding per family and statement
        for rule in TEXT_RULES:
            if (rule.only and rule.only != lang) or (own_only and rule.only != lang) or \
                    (rule.fallback and best):
                continue
            match = rule.pattern.compiled.search(statement)
            if match is None:
                continue
            if rule.requires is not None and not rule.requires.compiled.search(statement):
                continue
            if rule.forbids is not None and rule.forbids.compiled.search(statement):
                continue
            group = match.group(1) if match.re.groups else ""
            word = " ".join((group or "").split())
            reason = rule.reason.format(word.upper() if rule.family == "SQL" else word)
            if rule.family not in best or best[rule.family][0].severity < rule.severity:
                best[rule.family] = (rule, reason)
        found.extend(best.values())
    return found
