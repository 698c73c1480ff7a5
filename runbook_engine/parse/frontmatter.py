"""YAML front matter: title, description, tags, vars, hosts, defaults, engines."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from .. import lazyre, yamlsafe
from ..model import HostTarget, LoadError, Problem, VarSpec
from .annotations import coerce_attrs, did_you_mean, parse_list

KEYS = ("title", "description", "tags", "vars", "hosts", "defaults", "engines")
VAR_KEYS = frozenset({"default", "prompt", "choices", "pattern", "secret", "env", "required",
                      "description"})
HOST_KEYS = frozenset({"host", "hostname", "user", "port", "key", "key_file", "identity_file",
                       "name"})
_HOST_RE = lazyre.compile(r"^(?:(?P<user>[^@\s]+)@)?(?P<host>\[[^\]]+\]"
                          r"|[^:@\s]+)(?::(?P<port>\d+))?$")


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false, so ``on: web`` keeps its key ``on`` (1.1 says True)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", lazyre.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


@dataclass
class FrontMatter:
    """What the front matter declared; ``body_start`` is the 0-based line after it."""

    data: dict[str, Any] = field(default_factory=dict)
    body_start: int = 0
    title: str | None = None
    description: str = ""
    tags: tuple[str, ...] = ()
    vars: tuple[VarSpec, ...] = ()
    hosts: dict[str, tuple[HostTarget, ...]] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    engines: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def _problem(
    path: str, line: int, message: str, sev: str = "error", code: str = "RB202"
) -> Problem:
    return Problem(severity=sev, path=path, line=line, message=message, code=code)  # type: ignore[arg-type]


def split(text: str) -> tuple[str | None, int]:
    """(YAML text or None, 0-based index of the first body line)."""
    if not text.startswith("---"):
        return None, 0
    lines = text.split("\n", 20000)
    if lines[0].rstrip() != "---":
        return None, 0
    for i in range(1, len(lines)):
        if lines[i].rstrip() in ("---", "..."):
            return "\n".join(lines[1:i]), i + 1
    return None, 0


def _key_lines(yaml_text: str) -> dict[str, dict[str, int]]:
    """Top-level key -> {sub key -> 1-based file line}, for vars and hosts."""
    node = yaml.compose(yaml_text, Loader=_Loader)
    out: dict[str, dict[str, int]] = {}
    if not isinstance(node, yaml.MappingNode):
        return out
    for key, value in node.value:
        if isinstance(value, yaml.MappingNode):
            out[str(key.value)] = {str(k.value): k.start_mark.line + 2 for k, _ in value.value}
        out.setdefault("", {})[str(key.value)] = key.start_mark.line + 2
    return out


def _load_yaml(yaml_text: str, path: str) -> tuple[Any, dict[str, dict[str, int]]]:
    try:
        # bounded depth and expanded size ("billion laughs"), JSON types only
        data = yamlsafe.load(yaml_text, _Loader)
        lines = _key_lines(yaml_text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise LoadError(f"front matter: {problem}", path, line) from None
    except (RecursionError, ValueError, TypeError) as exc:
        raise LoadError(f"front matter: {exc}", path, 1) from None
    return data, lines


def parse(text: str, path: str) -> FrontMatter:
    """Front matter of ``text`` (no front matter: empty result). Broken YAML raises LoadError."""
    yaml_text, body_start = split(text)
    if yaml_text is None:
        return FrontMatter()
    data, lines = _load_yaml(yaml_text, path)
    if data is None:
        data = {}
    if isinstance(data, str):
        return FrontMatter()  # prose between two thematic breaks, not front matter
    if not isinstance(data, dict):
        raise LoadError(f"front matter: expected a mapping, got {type(data).__name__}", path, 2)
    fm = FrontMatter(data=data, body_start=body_start)
    top = lines.get("", {})
    for key in data:
        if str(key) not in KEYS:
            hint = did_you_mean(str(key), list(KEYS))
            fm.problems.append(_problem(path, top.get(str(key), 2),
                                        f'unknown front matter key "{key}"{hint}', "warning",
                                        "RB201"))
    _read_simple(fm, data, path, top)
    fm.vars = _read_vars(data.get("vars"), path, lines.get("vars", {}), top.get("vars", 2), fm)
    fm.hosts = _read_hosts(data.get("hosts"), path, lines.get("hosts", {}), top.get("hosts", 2),
                           fm)
    defaults = data.get("defaults")
    if isinstance(defaults, dict):
        fm.defaults, problems = coerce_attrs(defaults, path, top.get("defaults", 2))
        fm.problems.extend(problems)
    elif defaults is not None:
        fm.problems.append(_problem(path, top.get("defaults", 2), "defaults must be a mapping"))
    return fm


def _read_simple(fm: FrontMatter, data: dict[str, Any], path: str, top: dict[str, int]) -> None:
    if data.get("title") is not None:
        fm.title = str(data["title"])
    if data.get("description") is not None:
        fm.description = str(data["description"])
    if data.get("tags") is not None:
        try:
            fm.tags = parse_list(data["tags"])
        except ValueError:
            fm.problems.append(_problem(path, top.get("tags", 2), "tags must be a list"))
    engines = data.get("engines")
    if isinstance(engines, dict):
        fm.engines = {str(k).lower(): str(v) for k, v in engines.items() if v is not None}
    elif engines is not None:
        fm.problems.append(_problem(path, top.get("engines", 2),
                                    "engines must map a language to a command"))


def _read_vars(
    raw: Any, path: str, lines: dict[str, int], where: int, fm: FrontMatter
) -> tuple[VarSpec, ...]:
    if raw is None:
        return ()
    if isinstance(raw, list):  # a list of names (no defaults)
        raw = {str(name): None for name in raw if isinstance(name, str | int)}
    if not isinstance(raw, dict):
        fm.problems.append(_problem(path, where, "vars must map a name to a default or a spec"))
        return ()
    specs = []
    for name, value in raw.items():
        line = lines.get(str(name), where)
        if isinstance(value, dict) and set(map(str, value)) & VAR_KEYS:
            # a spec (it has a known key): its other keys are typos, not part of a default
            for key in sorted(set(map(str, value)) - VAR_KEYS):
                hint = did_you_mean(key, VAR_KEYS)
                fm.problems.append(_problem(path, line, f"variable {name}: unknown key "
                                            f"'{key}'{hint}", "warning", "RB203"))
            value = {k: v for k, v in value.items() if str(k) in VAR_KEYS}
        try:
            specs.append(_var_spec(str(name), value, line))
        except ValueError as exc:
            fm.problems.append(_problem(path, line, f"variable {name}: {exc}"))
    return tuple(specs)


def _var_spec(name: str, value: Any, line: int) -> VarSpec:
    if not (isinstance(value, dict) and value and set(map(str, value)) <= VAR_KEYS):
        return VarSpec(name=name, default=value, has_default=value is not None, line=line)
    choices = value.get("choices") or ()
    if not isinstance(choices, list | tuple):
        raise ValueError("choices must be a list")
    pattern = value.get("pattern")
    if pattern is not None:
        try:
            re.compile(str(pattern))
        except re.error as exc:
            raise ValueError(f"bad pattern: {exc}") from None
    from .annotations import parse_bool

    return VarSpec(
        name=name,
        default=value.get("default"),
        has_default="default" in value and value["default"] is not None,
        prompt=None if value.get("prompt") is None else str(value["prompt"]),
        choices=tuple(str(c) for c in choices),
        pattern=None if pattern is None else str(pattern),
        secret=parse_bool(value.get("secret", False)),
        env=None if value.get("env") is None else str(value["env"]),
        required=parse_bool(value.get("required", False)),
        line=line,
    )


def _read_hosts(
    raw: Any, path: str, lines: dict[str, int], where: int, fm: FrontMatter
) -> dict[str, tuple[HostTarget, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        fm.problems.append(_problem(path, where, "hosts must map a name to hosts"))
        return {}
    hosts: dict[str, tuple[HostTarget, ...]] = {}
    for name, value in raw.items():
        try:
            hosts[str(name)] = host_targets(str(name), value)
        except ValueError as exc:
            fm.problems.append(_problem(path, lines.get(str(name), where),
                                        f"host {name}: {exc}"))
    return hosts


def parse_destination(text: str, name: str | None = None) -> HostTarget:
    """``user@host:port`` -> HostTarget (name defaults to the host part)."""
    m = _HOST_RE.match(text.strip())
    if not m:
        raise ValueError(f"cannot read host {text!r} (expected [user@]host[:port])")
    host = m.group("host").strip("[]")
    port = int(m.group("port")) if m.group("port") else None
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"port {port} out of range")
    return HostTarget(name=name or host, hostname=host, user=m.group("user"), port=port)


def _host_mapping(value: dict[str, Any], name: str | None) -> HostTarget:
    unknown = set(map(str, value)) - HOST_KEYS
    if unknown:
        raise ValueError(f"unknown key {sorted(unknown)[0]!r}"
                         f"{did_you_mean(sorted(unknown)[0], HOST_KEYS)}")
    host = value.get("host", value.get("hostname"))
    if host is None:
        raise ValueError("needs host")
    base = parse_destination(str(host), str(value.get("name") or name or "") or None)
    port = value.get("port", base.port)
    if port is not None and (isinstance(port, bool) or not str(port).isdigit()
                             or not 0 < int(port) < 65536):
        raise ValueError(f"bad port {port!r}")
    key = value.get("key_file", value.get("key", value.get("identity_file")))
    return HostTarget(name=base.name, hostname=base.hostname,
                      user=str(value["user"]) if value.get("user") else base.user,
                      port=int(port) if port is not None else None,
                      key_file=None if key is None else str(key))


def host_targets(name: str, value: Any) -> tuple[HostTarget, ...]:
    """One hosts entry: "host" | ["h1", "h2"] | {host, user, port} | a list of such."""
    if isinstance(value, str):
        return (parse_destination(value, name),)
    if isinstance(value, dict):
        return (_host_mapping(value, name),)
    if isinstance(value, list) and value:
        out = []
        for item in value:
            if isinstance(item, str):
                out.append(parse_destination(item))
            elif isinstance(item, dict):
                out.append(_host_mapping(item, None))
            else:
                raise ValueError(f"cannot read host {item!r}")
        return tuple(out)
    raise ValueError("expected a host, a list of hosts or a mapping with host/user/port")
