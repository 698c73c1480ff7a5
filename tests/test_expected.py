"""Expected-output comparison: JSON structurally, text line by line, volatile values, ellipsis."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runbook_engine.expected import compare, normalise_line, volatile_kind

HEALTH = """{
  "status": "healthy",
  "database": "connected",
  "uptime": 3600,
  "checked_at": "2026-01-05T10:00:00Z",
  "version": "1.4.2",
  "ready": true
}"""


def test_json_matches_despite_a_new_timestamp_uptime_and_version() -> None:
    actual = json.dumps({"status": "healthy", "database": "connected", "uptime": 17,
                         "checked_at": "2026-12-02T13:40:12.123Z", "version": "1.5.0",
                         "ready": True})
    result = compare(HEALTH, actual)
    assert result.verdict == "matches", result.diff
    assert result.mode == "json"


def test_json_literal_change_differs_with_the_path_in_the_diff() -> None:
    actual = HEALTH.replace('"healthy"', '"degraded"')
    result = compare(HEALTH, actual)
    assert result.verdict == "differs"
    assert result.diff == '$.status: expected "healthy", got "degraded"'


def test_json_boolean_type_and_key_differences_are_each_named() -> None:
    actual = {"status": "healthy", "database": None, "uptime": "1h",
              "checked_at": "2026-12-02T13:40:12Z", "version": "1.4.2", "ready": False,
              "extra": 1}
    diff = compare(HEALTH, json.dumps(actual)).diff.splitlines()
    assert diff == [
        '$.database: expected string "connected", got null null',
        '$.uptime: expected number 3600, got string "1h"',
        "$.ready: expected true, got false",
        "$.extra: not expected (got 1)",
    ]


def test_json_is_found_after_headers_and_arrays_compare_item_by_item() -> None:
    expected = '[{"name": "web-1", "state": "up"}, {"name": "web-2", "state": "up"}]'
    actual = ("HTTP/1.1 200 OK\ncontent-type: application/json\n\n"
              '[{"name": "web-1", "state": "up"}, {"name": "web-2", "state": "down"}]\n')
    result = compare(expected, actual)
    assert result.verdict == "differs"
    assert result.diff == '$[1].state: expected "up", got "down"'
    assert compare(expected, actual.replace('"down"', '"up"')).matches


def test_json_expectation_against_plain_text_differs() -> None:
    result = compare('{"ok": true}', "curl: (7) Failed to connect to localhost port 8080")
    assert result.verdict == "differs"
    assert result.diff.startswith("output is not JSON")


def test_text_line_by_line_with_volatile_tokens() -> None:
    expected = """NAME                     READY   STATUS    RESTARTS   AGE
api-7d9f8b6c5-x2x4q      1/1     Running   0          5d
worker-5c8d7f9b4-p9k2m   1/1     Running   3          12h"""
    actual = """NAME                        READY   STATUS    RESTARTS      AGE
api-66b7c9d8f4-qqz8w        1/1     Running   2             3m10s
worker-7f6b5c4d3-aa1bc      1/1     Running   0             40s
"""
    assert compare(expected, actual).verdict == "matches"
    broken = actual.replace("Running   0", "CrashLoopBackOff   7").replace("1/1", "0/1", 1)
    result = compare(expected, broken)
    assert result.verdict == "differs"
    assert "+ api-66b7c9d8f4-qqz8w        0/1" in result.diff
    assert "- worker-5c8d7f9b4-p9k2m   1/1     Running   3          12h" in result.diff


def test_ellipsis_lines_stand_for_any_lines_and_inline_for_any_text() -> None:
    expected = "Starting backup of orders\n...\nBackup finished: ... rows\n"
    actual = ("Starting backup of orders\ncopying table a\ncopying table b\n"
              "Backup finished: 1200 rows\n")
    assert compare(expected, actual).matches
    assert compare(expected, "Starting backup of orders\nBackup finished: 9 rows\n").matches
    result = compare(expected, "Starting backup of orders\ncopying a\nBackup FAILED\n")
    assert result.verdict == "differs"
    assert "- Backup finished: ... rows" in result.diff
    assert "+ Backup FAILED" in result.diff


def test_order_is_kept() -> None:
    assert compare("first\nsecond", "second\nfirst").verdict == "differs"


def test_no_expectation() -> None:
    assert compare(None, "anything").verdict == "no expectation"
    assert compare("  \n", "anything").verdict == "no expectation"


@pytest.mark.parametrize(("token", "kind"), [
    ("2026-01-05T10:00:00Z", "time"), ("2026-01-05 10:00:00.123+02:00", "time"),
    ("10:42:07", "time"), ("Mon, 05 Jan 2026 10:00:00 GMT", "time"),
    ("550e8400-e29b-41d4-a716-446655440000", "id"), ("3f2a9c1e7b", "id"),
    ("v1.25.3", "version"), ("15.4.0-alpha.1", "version"), ("3m10s", "duration"),
    ("250ms", "duration"), ("10.0.3.17:5432", "address"), ("512Mi", "size"), ("87%", "percent"),
    ("42", "number"), ("healthy", None), ("connected", None), ("true", None),
])
def test_volatile_kinds(token: str, kind: str | None) -> None:
    assert volatile_kind(token) == kind


def test_normalise_keeps_words_and_ratios() -> None:
    assert normalise_line("web-1   1/1  Running  0  5d") == "web-1 1/1 Running <number> <duration>"
    # an HTTP status says how things went: it is kept, not taken for a counter
    assert normalise_line("HTTP/1.1 200 OK") == "HTTP/1.1 200 OK"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.text(max_size=300))
def test_compare_never_raises_and_text_matches_itself(expected: str, actual: str) -> None:
    result = compare(expected, actual)
    assert result.verdict in ("matches", "differs", "no expectation")
    if expected.strip() and "..." not in expected and "…" not in expected:
        assert compare(expected, expected).verdict == "matches"


def test_long_output_compares_in_linear_time_and_the_diff_is_capped() -> None:
    expected = "\n".join(f"line {i} ok" for i in range(20000))
    actual = "\n".join(f"line {i} {'ok' if i % 100 else 'bad'}" for i in range(20000))
    result = compare(expected, actual)
    assert result.verdict == "differs"
    assert result.diff.count("\n") <= 25
    assert result.diff.endswith("more line(s)")


def test_http_status_and_lone_flags_are_literal_but_counts_are_not() -> None:
    assert compare("HTTP/1.1 200 OK", "HTTP/1.1 503 Service Unavailable").verdict == "differs"
    assert compare("HTTP/2 200", "HTTP/2 404").verdict == "differs"
    assert compare("200", "503\n").verdict == "differs"  # curl -w '%{http_code}'
    assert compare("1", "0").verdict == "differs"  # psql -Atc 'SELECT 1'
    assert compare("17", "42").matches  # wc -l: a count
    assert compare('{"status": 200, "items": 3}', '{"status": 200, "items": 9}').matches
    result = compare('{"status": 200, "errors": 0}', '{"status": 500, "errors": 2}')
    assert result.diff.splitlines() == ["$.status: expected 200, got 500",
                                        "$.errors: expected 0, got 2"]


def test_a_sample_allows_more_lines_around_and_between_in_order() -> None:
    expected = "NAME     READY   STATUS\napi-7d9f8b6c5-x2x4q   1/1   Running"
    actual = ("NAME     READY   STATUS\nworker-5c8d7f9b4-p9k2m   1/1   Running\n"
              "api-66b7c9d8f4-qqz8w   1/1   Running\ncron-28374650-abcde   0/1   Completed\n")
    assert compare(expected, actual).verdict == "differs"  # exact: two more lines
    assert compare(expected, actual, sample=True).matches
    broken = actual.replace("qqz8w   1/1   Running", "qqz8w   0/1   Error")
    result = compare(expected, broken, sample=True)
    assert result.verdict == "differs"
    assert "- api-7d9f8b6c5-x2x4q   1/1   Running" in result.diff
    assert compare("b\na", "a\nb\nc", sample=True).verdict == "differs"  # order is kept


def test_json_sample_and_elided_json_allow_more_keys_and_items() -> None:
    actual = json.dumps({"status": "healthy", "checks": [{"name": "db", "ok": True},
                                                         {"name": "cache", "ok": True}],
                         "build": "3f2a9c1e7b"})
    assert compare('{"status": "healthy"}', actual).verdict == "differs"
    assert compare('{"status": "healthy"}', actual, sample=True).matches
    elided = ('{\n  "status": "healthy",\n  "checks": [{"name": "cache", "ok": true}, ...],\n'
              '  ...\n}')
    result = compare(elided, actual)
    assert (result.verdict, result.mode) == ("matches", "json"), result.diff
    degraded = actual.replace('"healthy"', '"degraded"')
    assert compare(elided, degraded).diff == '$.status: expected "healthy", got "degraded"'
    missing = compare('{"checks": [{"name": "queue", ...}, ...]}', actual)
    assert missing.diff.startswith("$.checks[0]: no item like")


def test_colour_codes_and_carriage_returns_do_not_count() -> None:
    actual = "\x1b[32m●\x1b[0m nginx.service - A high performance web server\n" \
             "   Active: \x1b[1;32mactive (running)\x1b[0m since Mon 2026-01-05 10:00:00 UTC\n"
    expected = "● nginx.service - A high performance web server\n" \
               "   Active: active (running) since Tue 2026-02-03 11:12:13 UTC"
    assert compare(expected, actual).matches
    assert compare("done", "progress 10%\rprogress 90%\rdone\n").matches
