"""paramiko, imported without invoke until an ssh config has a ``Match exec`` line.

paramiko.config imports invoke when paramiko is imported, only to run ``Match exec`` commands:
with invoke's own imports (unittest.mock, asyncio, ssl) ~45 ms, an eighth of a run's start before
its first connection. The package imports this module first; ``allow_match_exec`` gives
paramiko.config its invoke (the module global its ``Match exec`` reads) when a config needs it.
"""

from __future__ import annotations

import sys

if "paramiko" in sys.modules or "invoke" in sys.modules:
    import paramiko
else:
    sys.modules["invoke"] = None  # type: ignore[assignment]  # `import invoke` raises ImportError
    try:
        import paramiko
    finally:
        del sys.modules["invoke"]

import paramiko.config

__all__ = ["allow_match_exec", "paramiko"]


def allow_match_exec() -> None:
    """Import invoke for paramiko.config, as its own import would have (when installed)."""
    if getattr(paramiko.config, "invoke", None) is not None:
        return
    try:
        import invoke
    except ImportError as error:  # as paramiko: the `Match exec` lookup raises this
        setattr(paramiko.config, "invoke_import_error", error)  # noqa: B010 (not in the stubs)
    else:
        setattr(paramiko.config, "invoke", invoke)  # noqa: B010
