"""What every record is stamped with: UTC timestamps and the fingerprint of a step's code."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

_second: tuple[int, str] = (-1, "")  # the last second formatted (every event is stamped)


def now_ts() -> str:
    """The current UTC time as ISO-8601 with milliseconds and ``Z``."""
    global _second
    now = time.time()
    whole = int(now)
    if whole != _second[0]:
        _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{_second[1]}.{int((now - whole) * 1000):03d}Z"


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



def spell_duration(seconds: float) -> str:
    """A duration as runbooks write it, the one spelling everywhere: ``30s``, ``0.5s``, ``5m``,
    ``1m30s``, ``1h30m`` (what ``timeout=`` reads back)."""
    if seconds < 60:
        return f"{seconds:g}s"
    hours, rest = divmod(int(round(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    return "".join(f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n)


def spell_elapsed(seconds: float) -> str:
    """How long something took, the one spelling on screen and in reports: ``0.42s``, ``12.3s``,
    ``3m02s``, ``1h05m`` (seconds are shown to the precision that matters at that scale)."""
    if round(seconds, 2) < 10:
        return f"{seconds:.2f}s"
    if round(seconds, 1) < 60:  # 59.96 is 1m00s, not 60.0s
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"
