"""Inventory sources as plain data: bounded YAML, ``group_vars/`` folders, ``ansible-inventory``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from .model import LoadError

MAX_BYTES = 16 * 1024 * 1024  # an inventory or vars file larger than this is refused
MAX_NODES = 1_000_000  # YAML nodes after aliases are expanded (a "billion laughs" has 10**9)
_VARS_SUFFIXES = ("", ".yml", ".yaml", ".json")
_DYNAMIC_TIMEOUT = 120.0


def read_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise LoadError(f"larger than {MAX_BYTES // 2**20} MB", str(path))
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError(f"cannot read inventory: {exc}", str(path)) from None


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """Nodes ``node`` stands for once its aliases are expanded; shared nodes counted per use."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = MAX_NODES + 1  # a node inside itself (a recursive alias) is too big
    total = 1
    if isinstance(node, yaml.SequenceNode):
        total += sum(_expanded_size(item, sizes) for item in node.value)
    elif isinstance(node, yaml.MappingNode):
        total += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    sizes[id(node)] = total = min(total, MAX_NODES + 1)
    return total


def load_yaml(text: str, path: str) -> Any:
    """Safe-load YAML whose expansion is bounded by size (node count), not by alias count."""
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            if _expanded_size(node, {}) > MAX_NODES:
                raise LoadError(f"YAML expands to more than {MAX_NODES} nodes (aliases)", path)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise LoadError(f"invalid YAML: {problem}", path, mark.line + 1 if mark else None) from None
    except (RecursionError, ValueError, TypeError) as exc:
        raise LoadError(f"invalid YAML: {type(exc).__name__}: {exc}"[:200], path) from None


def _vars_file(path: Path) -> dict[str, Any]:
    text = read_text(path)
    data = json.loads(text) if path.suffix == ".json" else load_yaml(text, str(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise LoadError("a vars file must be a mapping of names to values", str(path), 1)
    return {str(k): v for k, v in data.items()}


def vars_folder(folder: Path) -> dict[str, dict[str, Any]]:
    """``group_vars/`` or ``host_vars/``: name -> vars, from ``NAME``, ``NAME.yml|.yaml|.json``
    and every such file in a folder ``NAME/`` (in name order, later files win)."""
    found: dict[str, dict[str, Any]] = {}
    if not folder.is_dir():
        return found
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            files = sorted(p for p in entry.rglob("*") if p.is_file() and _is_vars_file(p))
            merged = found.setdefault(entry.name, {})
            for file in files:
                merged.update(_vars_file(file))
        elif _is_vars_file(entry):
            name = entry.name.removesuffix(entry.suffix) if entry.suffix else entry.name
            found.setdefault(name, {}).update(_vars_file(entry))
    return found


def _is_vars_file(path: Path) -> bool:
    return not path.name.startswith(".") and path.suffix in _VARS_SUFFIXES


def is_dynamic(path: Path, text: str | None) -> bool:
    """An inventory only Ansible can read: a plugin config (``plugin:``) or an executable script."""
    if text is not None and text.startswith("#!") and os.access(path, os.X_OK):
        return True
    if text is None or path.suffix not in (".yml", ".yaml"):
        return path.suffix == ".toml"
    first = next((ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")), "")
    return first.startswith("plugin:")


def ansible_inventory(source: str) -> dict[str, Any]:
    """``ansible-inventory -i SOURCE --list`` as JSON; LoadError when it is absent or fails."""
    program = shutil.which("ansible-inventory")
    if program is None:
        raise LoadError("a dynamic inventory (plugin or script) needs ansible-inventory "
                        "(pip install ansible-core)", source)
    try:
        done = subprocess.run([program, "-i", source, "--list"], capture_output=True,
                              timeout=_DYNAMIC_TIMEOUT, stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LoadError(f"ansible-inventory failed: {exc}", source) from None
    errors = [ln.strip() for ln in done.stderr.decode(errors="replace").splitlines()
              if "ERROR" in ln or "WARNING" in ln and "Unable to parse" in ln]
    try:
        data = json.loads(done.stdout) if done.returncode == 0 else None
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or (errors and not _has_hosts(data)):
        why = errors[0] if errors else f"exit status {done.returncode}"
        raise LoadError(f"ansible-inventory cannot read it: {why}"[:300], source)
    return data


def _has_hosts(data: dict[str, Any]) -> bool:
    return bool((data.get("_meta") or {}).get("hostvars")) or any(
        isinstance(v, dict) and v.get("hosts") for v in data.values())
