"""A plain block at command granularity: read it, split it in its language, and decide for each
piece whether it runs (shell, or fed to a client the runbook named) or is left to the operator."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from ..model import SHELL_LANGS
from .consoles import client_language, interactive_off_tty
from .languages import SPLITTERS, split_lines
from .lines import Fragment
from .reading import Reading, read_block
from .shapes import Known, default_path_lookup, words_defined
from .vocabulary import CLIENT_OF_TAG

#: the language of a console -> the client program that reads it
CLIENT_OF_LANG = {"psql": "psql", "sql": "mysql", "mysql": "mysql", "sqlite": "sqlite3",
                  "redis": "redis-cli", "mongo": "mongosh", "cql": "cqlsh"}
_SQL_CLIENTS = ("psql", "mysql", "sqlite3")
_CUT = re.compile(r"\s(?:-c|-e|-f|--command|--execute|--eval|--file)(?:[=\s]|$)")
_MONGO_CODE = re.compile(r"^\s*(?:(?:db|rs|sh)\.|use\s+\w+|show\s+\w+)")
#: how PowerShell reads a step on stdin
PWSH = "pwsh -NoLogo -NoProfile -NonInteractive -Command -"


@dataclass
class Context:
    """What the reader has learnt from the blocks above: functions defined, database clients the
    runbook connects with (the last invocation of each), and the front matter's engines."""

    engines: Mapping[str, str] = field(default_factory=dict)
    functions: set[str] = field(default_factory=set)
    clients: dict[str, str] = field(default_factory=dict)
    last_sql: str | None = None
    path_lookup: Callable[[str], bool] | None = default_path_lookup
    pwsh: Callable[[], bool] = lambda: shutil.which("pwsh") is not None

    def known(self) -> Known:
        return Known(frozenset(self.functions), self.path_lookup)

    def learn(self, frags: list[Fragment]) -> None:
        """Remember functions and client invocations of the commands just read."""
        for frag in frags:
            if frag.kind != "command":
                continue
            if frag.interpreter and not frag.lang:
                self._client(frag.interpreter)
            elif not frag.lang:
                self.functions |= words_defined(frag.code)
                for line in frag.code.replace("\\\n", " ").split("\n"):
                    self._client(line)

    def learn_code(self, code: str) -> None:
        """Remember what a block read whole (block granularity) defines and connects to."""
        self.learn([Fragment("command", code, 0)])

    def _client(self, line: str) -> None:
        found = client_invocation(line)
        if found:
            client, invocation = found
            self.clients[client] = invocation
            if client in _SQL_CLIENTS:
                self.last_sql = client


def client_invocation(line: str) -> tuple[str, str] | None:
    """(client, the command that opens its console) from a line that runs a database client, with
    or without a query: ``psql "$URL" -c 'SELECT 1'`` names ``psql "$URL"``."""
    text = re.split(r"\s(?:\||<|>|&&|\|\||;)\s?", line.strip(), maxsplit=1)[0]
    if not re.search(r"\b(?:psql|mysql|mariadb|sqlite3|redis-cli|mongosh|mongo|cqlsh)\b", text):
        return None
    cut = _CUT.search(text)
    opener = text[:cut.start()] if cut else text
    lang = client_language(opener.split())
    client = CLIENT_OF_LANG.get(lang or "")
    if client is None:
        return None
    if re.match(r"^\s*(?:docker|podman|kubectl|oc|docker-compose)\s", opener):
        opener = interactive_off_tty(opener)
    return client, opener.strip()


def split_plain(code: str, tag: str, prose: str, heading: str, ctx: Context
                ) -> tuple[Reading, list[Fragment]]:
    """Read a block and split it into fragments whose ``kind`` is final: command (shell or fed),
    manual (code for the operator) or doc."""
    reading = read_block(code, tag, prose, heading, ctx.known())
    frags = _split(code, tag, reading, ctx)
    resolved = [_resolve(f, tag, ctx) for f in frags]
    ctx.learn(resolved)
    return reading, resolved


def _split(code: str, tag: str, reading: Reading, ctx: Context) -> list[Fragment]:
    kind = reading.kind
    if kind == "commands":
        from .commands import split_block  # tree-sitter: only here

        return split_block(code, "bash", ctx.known())
    if kind == "transcript":
        from .prompts import prompt_fragments

        return prompt_fragments(code.rstrip("\n"), root_hash=tag not in SHELL_LANGS - {
            "console", "shell-session", "shellsession"})
    if kind in SPLITTERS:
        return SPLITTERS[kind](code)
    if kind in ("redis", "cmd"):
        return split_lines(code, kind)
    return []  # documentation: the block stays whole


def _resolve(frag: Fragment, tag: str, ctx: Context) -> Fragment:
    """Fed to a client, run by pwsh, or a manual step that keeps its code."""
    if frag.kind != "command" or not frag.lang:
        return frag
    if frag.interpreter:  # the transcript opened the client itself
        return frag
    lang = frag.lang
    engine = ctx.engines.get(tag) or ctx.engines.get(lang)
    if engine:
        return replace(frag, interpreter=engine)
    if lang == "powershell":
        return replace(frag, interpreter=PWSH) if ctx.pwsh() else replace(frag, kind="manual")
    client = _client_for(frag, tag, ctx)
    if client is None:
        return replace(frag, kind="manual")
    invocation = ctx.clients.get(client)
    if invocation:
        return replace(frag, interpreter=invocation)
    # nothing to connect with: the operator types it into the client named here
    return replace(frag, kind="manual", interpreter=client)


def _client_for(frag: Fragment, tag: str, ctx: Context) -> str | None:
    lang = frag.lang or ""
    if lang == "sql":
        return CLIENT_OF_TAG.get(tag) or ctx.last_sql or ("psql" if "psql" in tag else None)
    if lang == "javascript":
        mongo = _MONGO_CODE.match(frag.code) or CLIENT_OF_TAG.get(tag) == "mongosh"
        return "mongosh" if mongo else None
    return CLIENT_OF_LANG.get(lang)
