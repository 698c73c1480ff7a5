"""SSH runner package; the only place paramiko is imported (plan/lint/list never load it)."""

from . import lib  # noqa: F401, I001  (first: paramiko without invoke, see lib)
from .auth import DEFAULT_KEYS, Prompts
from .config import HostConfig, Prompt, host_config, parse_hop, read_config
from .connect import Connector
from .hostkeys import fingerprint
from .runner import SSHRunner

__all__ = [
    "DEFAULT_KEYS", "Connector", "HostConfig", "Prompt", "Prompts", "SSHRunner", "fingerprint",
    "host_config", "parse_hop", "read_config",
]
