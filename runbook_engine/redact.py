"""The one choke point that masks secrets as ``****`` before anything is printed or written."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from . import lazyre

MASK = "****"

#: environment variable names that look secret (the value of such a variable a step reads is masked)
SECRET_NAME_RE = lazyre.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL", re.IGNORECASE)

# Values shorter than this are not masked: masking "1" or "no" would shred every output.
MIN_SECRET_LEN = 3
# Up to this many secrets, output is searched for each before the pattern is run (see _present).
PREFILTER_MAX = 8


def looks_secret(name: str) -> bool:
    """True when an environment variable's name says it holds a secret."""
    return bool(SECRET_NAME_RE.search(name))


# values a secret-looking name may hold that are settings, not secrets (masking them would shred
# every output that says "true")
_NOT_SECRETS = frozenset({"true", "false", "yes", "no", "on", "off", "none", "null", "unset"})


def secret_env_values(environ: Mapping[str, str]) -> list[str]:
    """The values of the secret-looking variables of an environment, whatever reads them later
    (``$NAME``, ``printenv NAME``, ``env``, a program, ``{{ env.NAME }}``)."""
    return [value for name, value in environ.items()
            if looks_secret(name) and len(value.strip()) >= MIN_SECRET_LEN
            and value.strip().lower() not in _NOT_SECRETS]


_CREATES_RE = lazyre.compile(r"\bexport\b|\bdeclare\b|\btypeset\b|\breadonly\b|RUNBOOK_OUTPUT")
_WORD_RE = lazyre.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def may_create_secret(code: str, secret_names: Iterable[str] = ()) -> bool:
    """True when ``code`` may export a secret-looking variable, or write one (or one of
    ``secret_names``) to ``$RUNBOOK_OUTPUT``: its value is known only when the step ends, so the
    step's output is held until then and shown masked."""
    if not _CREATES_RE.search(code):
        return False
    names = frozenset(secret_names)
    return any(looks_secret(word) or word in names for word in set(_WORD_RE.findall(code))
               if word != "RUNBOOK_OUTPUT")


class Redactor:
    """Knows every secret value of the run and replaces each occurrence with ``****``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._ordered: tuple[str, ...] = ()  # the secrets, longest first
        self._longest = 0
        self._lock = threading.Lock()
        for value in secrets:
            self.add(value)

    def add(self, value: object) -> None:
        """Register a secret value (and each of its lines, for multi-line secrets)."""
        text = "" if value is None else str(value)
        candidates = {text, text.strip(), *text.splitlines()}
        with self._lock:
            before = len(self._secrets)
            self._secrets.update(c for c in candidates if len(c.strip()) >= MIN_SECRET_LEN)
            if len(self._secrets) != before:
                # Longest first so a secret that contains another is masked whole.
                ordered = sorted(self._secrets, key=len, reverse=True)
                # set before the pattern: a reader that sees the new pattern sees these too
                self._ordered, self._longest = tuple(ordered), len(ordered[0])
                self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    @property
    def active(self) -> bool:
        return self._pattern is not None

    def redact(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text or not self._present(text):
            return text
        return pattern.sub(MASK, text)

    def _present(self, text: str) -> bool:
        """Some secret may occur in ``text``. With a few secrets, a substring search for each runs
        at hundreds of MB/s where the alternation tries every secret at every character (~50 MB/s
        on prose with five secrets); with many, one pass of the pattern is cheaper."""
        ordered = self._ordered
        if len(ordered) > PREFILTER_MAX:
            return True
        return any(secret in text for secret in ordered)

    def safe_end(self, text: str) -> int:
        """How much of ``text``, the start of a stream's unmasked rest, can be masked and shown
        now so that nothing more to come changes what is masked in it: no secret is cut in two.

        Up to the last (longest secret - 1) characters, which may begin a secret that the next
        chunk ends; a secret across that point moves the end past it (it is whole already)."""
        pattern, longest = self._pattern, self._longest
        if pattern is None:
            return len(text)
        end = len(text) - longest + 1
        if end <= 0:
            return 0
        if not self._present(text):
            return end
        for match in pattern.finditer(text):  # from the start: the same matches as redact()
            if match.end() <= end:
                continue
            return match.end() if match.start() < end else end
        return end

    def redact_value(self, value: Any) -> Any:
        """Redact strings inside any JSON-like value."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {self.redact_value(k): self.redact_value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.redact_value(v) for v in value]
        return value

    def redact_event(self, event: Mapping[str, Any]) -> dict[str, Any]:
        return dict(self.redact_value(event))
