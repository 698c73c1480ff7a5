"""``--limit``: the hosts a run, plan or test keeps, read from a pattern over the runbook's hosts
and groups (front matter ``hosts:``, the inventory, the names steps' ``on=`` give)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from .hostpattern import select_hosts
from .inventory import Inventory
from .model import HostTarget, Runbook, Step, UsageError
from .targets import resolve_targets


@dataclass(frozen=True)
class HostLimit:
    """The remote hosts kept (``None``: no --limit). Local steps are never limited away."""

    pattern: str | None = None
    hosts: frozenset[str] = frozenset()

    def targets(self, targets: list[HostTarget]) -> list[HostTarget]:
        if self.pattern is None:
            return targets
        return [t for t in targets if t.is_local or t.name in self.hosts]

    def steps(self, steps: Sequence[Step],
              targets_for: Callable[[Step], list[HostTarget]]) -> list[Step]:
        """The steps with a host left (a step on hosts that are all outside the limit is not
        run, as if not selected: a later run without --limit still runs it)."""
        if self.pattern is None:
            return list(steps)
        return [s for s in steps if self.targets(targets_for(s))]

    def on_names(self, steps: Sequence[Step], runbook: Runbook,
                 inventory: Inventory | None = None) -> list[Step]:
        """For the plan: the kept steps, each ``on`` replaced by the hosts it keeps."""
        if self.pattern is None:
            return list(steps)
        kept: list[Step] = []
        for step in steps:
            targets = resolve_targets(runbook, step.on, inventory)
            left = self.targets(targets)
            if left:
                local = all(t.is_local for t in targets)
                kept.append(step if local else replace(step, on=tuple(t.name for t in left)))
        return kept


def host_limit(pattern: str | None, runbook: Runbook, steps: Sequence[Step],
               inventory: Inventory | None = None) -> HostLimit:
    """Read ``--limit`` against the hosts of the runbook and inventory; a pattern that keeps
    none of the hosts the steps run on is a usage error (nothing remote would run)."""
    if pattern is None:
        return HostLimit()
    groups: dict[str, list[str]] = {name: [t.name for t in members]
                                    for name, members in runbook.hosts.items()}
    if inventory is not None:
        for name in [*inventory.members, *inventory.children]:
            groups.setdefault(name, [t.name for t in inventory.group(name) or []])
    used = [t.name for s in steps for t in resolve_targets(runbook, s.on, inventory)
            if not t.is_local]
    universe = list(dict.fromkeys([*used, *(h for members in groups.values() for h in members)]))
    chosen = frozenset(select_hosts(pattern, universe, groups))
    if used and not chosen & set(used):  # (a runbook that runs only here is not limited)
        raise UsageError(f"--limit {pattern}: no host of this runbook matches (its hosts: "
                         f"{', '.join(dict.fromkeys(used))})")
    return HostLimit(pattern, chosen)
