"""Rule matching: category × area × kind (× keywords, channel) → responsible agency."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .text import fold

PRIORITY_ORDER = {"low": 0, "normal": 1, "high": 2, "urgent": 3}


class RuleLike(Protocol):
    id: int
    kinds: list[str] | None
    category_id: int | None
    area_agency_id: int | None
    keywords: list[str] | None
    channels: list[str] | None
    target_agency_id: int | None
    route_to_area: bool
    priority: str | None
    stop: bool


@dataclass(frozen=True)
class Facts:
    """What routing may look at. `area_path` is the chosen area and all its ancestors."""

    kind: str
    category_id: int | None
    channel: str
    text: str
    area_id: int | None = None
    area_path: frozenset[int] = frozenset()


@dataclass
class Decision:
    agency_id: int | None
    priority: str = "normal"
    matched_rule_ids: list[int] = field(default_factory=list)
    fallback: bool = False


def rule_matches(rule: RuleLike, facts: Facts, folded_text: str | None = None) -> bool:
    if rule.kinds and facts.kind not in rule.kinds:
        return False
    if rule.category_id is not None and rule.category_id != facts.category_id:
        return False
    # An area rule covers the area's whole subtree (a province rule matches each of its communes).
    if rule.area_agency_id is not None and rule.area_agency_id not in facts.area_path:
        return False
    if rule.route_to_area and facts.area_id is None:
        return False
    if rule.channels and facts.channel not in rule.channels:
        return False
    if rule.keywords:
        haystack = folded_text if folded_text is not None else fold(facts.text)
        if not any(fold(k) and fold(k) in haystack for k in rule.keywords):
            return False
    return True


def decide(rules: Sequence[RuleLike], facts: Facts, triage_agency_id: int | None) -> Decision:
    """Walk rules in order; the first matching rule with a target picks the agency, and a rule
    with stop=True ends the walk. Non-stopping rules may raise the priority on the way."""
    folded = fold(facts.text)
    decision = Decision(agency_id=None)
    for rule in rules:
        if not rule_matches(rule, facts, folded):
            continue
        decision.matched_rule_ids.append(rule.id)
        if rule.priority and PRIORITY_ORDER.get(rule.priority, 1) > PRIORITY_ORDER.get(
            decision.priority, 1
        ):
            decision.priority = rule.priority
        target = facts.area_id if rule.route_to_area else rule.target_agency_id
        if decision.agency_id is None and target is not None:
            decision.agency_id = target
        if rule.stop:
            break
    if decision.agency_id is None:
        decision.agency_id = triage_agency_id
        decision.fallback = True
    return decision


def ancestors(agency_id: int | None, parents: dict[int, int | None]) -> frozenset[int]:
    """The agency and every ancestor, from an id → parent id map (cycle-safe)."""
    seen: set[int] = set()
    current = agency_id
    while current is not None and current not in seen:
        seen.add(current)
        current = parents.get(current)
    return frozenset(seen)


def descendants(agency_id: int, parents: dict[int, int | None]) -> set[int]:
    children: dict[int, list[int]] = {}
    for child, parent in parents.items():
        if parent is not None:
            children.setdefault(parent, []).append(child)
    out, stack = {agency_id}, [agency_id]
    while stack:
        for c in children.get(stack.pop(), []):
            if c not in out:
                out.add(c)
                stack.append(c)
    return out


def ordered(rules: Iterable[RuleLike]) -> list[RuleLike]:
    return sorted(rules, key=lambda r: (getattr(r, "position", 0), r.id))
