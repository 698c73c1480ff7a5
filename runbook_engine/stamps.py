"""What every record is stamped with: UTC timestamps and the fingerprint of a step's code."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime


def now_ts() -> str:
    """The current UTC time as ISO-8601 with milliseconds and ``Z``."""
    return format_ts(datetime.now(UTC))


def format_ts(when: datetime) -> str:
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def parse_ts(ts: object) -> datetime | None:
    """An event timestamp back as an aware datetime; None when it is missing or malformed."""
    try:
        return datetime.fromisoformat(str(ts).replace("Z", "+00:00"))
    except ValueError:
        return None


def code_sha256(code: str) -> str:
    """The fingerprint of a step's raw code, recorded when it starts (resume compares it)."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()
