"""Regular expressions compiled at their first use instead of at import.

The reading tables hold ~270 module-level patterns; a run of a small runbook uses ~30 of them,
and compiling the rest cost ~35 ms of every start (``re`` parses and compiles in Python). A
``compile`` here returns a stand-in that compiles on its first use: the same pattern object's
methods from then on, at the same cost per call (they are kept on the stand-in, so a lookup
finds them without coming back here). Two threads that meet an uncompiled pattern both compile
it and get equal patterns (``re`` caches them). A stand-in is not an ``re.Pattern`` instance:
pass it to nothing that checks that (``re.sub(pattern, ...)``, ``re.compile(pattern)``); use its
methods, or its ``.pattern`` (a plain attribute: composing patterns compiles nothing).
"""

from __future__ import annotations

import re
from typing import Any, AnyStr, cast

#: what a compiled pattern offers (attributes copied onto the stand-in at its first use)
_DELEGATED = ("match", "search", "fullmatch", "finditer", "findall", "sub", "subn", "split",
              "scanner", "flags", "groups", "groupindex")


#: every stand-in made (their patterns are compiled by a test: an error shows there, not at a use)
MADE: list[_Lazy] = []


class _Lazy:
    """A pattern's stand-in until its first use (see the module's docstring)."""

    def __init__(self, pattern: str | bytes, flags: int) -> None:
        self.pattern = pattern
        self._flags = flags
        MADE.append(self)

    def __getattr__(self, name: str) -> Any:
        # only reached for a name not yet on the instance: the first use, or a wrong name
        compiled = re.compile(self.pattern, self._flags)
        for attr in _DELEGATED:
            self.__dict__[attr] = getattr(compiled, attr)
        return getattr(compiled, name)

    def __repr__(self) -> str:
        return repr(re.compile(self.pattern, self._flags))


def compile(pattern: AnyStr, flags: int | re.RegexFlag = 0) -> re.Pattern[AnyStr]:  # noqa: A001
    """``re.compile(pattern, flags)``, done when the pattern is first used."""
    return cast("re.Pattern[AnyStr]", _Lazy(pattern, int(flags)))
