"""Rule matching: order, stop, kinds, category, area subtree, keywords (accent-insensitive), channel."""

from __future__ import annotations

from dataclasses import dataclass

from service.domain.routing import Facts, ancestors, decide, descendants, rule_matches
from service.domain.text import fold

# Tree: 1 province → 2 department, 3 ward, 4 commune; 3 → 5 village
PARENTS = {1: None, 2: 1, 3: 1, 4: 1, 5: 3}
TRIAGE = 99


@dataclass
class Rule:
    id: int
    kinds: list[str] | None = None
    category_id: int | None = None
    area_agency_id: int | None = None
    keywords: list[str] | None = None
    channels: list[str] | None = None
    target_agency_id: int | None = None
    route_to_area: bool = False
    priority: str | None = None
    stop: bool = True
    position: int = 0


def facts(kind="feedback", category=10, channel="web", text="", area=None) -> Facts:
    return Facts(kind=kind, category_id=category, channel=channel, text=text, area_id=area,
                 area_path=ancestors(area, PARENTS))  # fmt: skip


def test_first_match_wins_and_stops() -> None:
    rules = [
        Rule(1, category_id=10, target_agency_id=2),
        Rule(2, category_id=10, target_agency_id=3),
    ]
    d = decide(rules, facts(), TRIAGE)
    assert (d.agency_id, d.matched_rule_ids, d.fallback) == (2, [1], False)


def test_no_match_goes_to_triage() -> None:
    d = decide([Rule(1, category_id=11, target_agency_id=2)], facts(), TRIAGE)
    assert (d.agency_id, d.fallback, d.matched_rule_ids) == (TRIAGE, True, [])


def test_kind_filter() -> None:
    rule = Rule(1, kinds=["denunciation"], target_agency_id=2)
    assert rule_matches(rule, facts(kind="denunciation"))
    assert not rule_matches(rule, facts(kind="complaint"))


def test_area_rule_covers_the_subtree() -> None:
    rule = Rule(1, area_agency_id=3, target_agency_id=2)
    assert rule_matches(rule, facts(area=5))  # a village inside the ward
    assert rule_matches(rule, facts(area=3))
    assert not rule_matches(rule, facts(area=4))
    assert not rule_matches(rule, facts(area=None))


def test_keywords_accent_insensitive() -> None:
    rule = Rule(1, keywords=["ngập", "cây đổ"], target_agency_id=2)
    assert rule_matches(rule, facts(text="Đường NGAP sâu sau mưa"))
    assert rule_matches(rule, facts(text="cay do chan duong"))
    assert not rule_matches(rule, facts(text="rác thải"))


def test_channel_filter() -> None:
    rule = Rule(1, channels=["hotline"], target_agency_id=2)
    assert rule_matches(rule, facts(channel="hotline"))
    assert not rule_matches(rule, facts(channel="web"))


def test_route_to_area_sends_to_the_chosen_commune_and_needs_one() -> None:
    rules = [Rule(1, route_to_area=True)]
    assert decide(rules, facts(area=4), TRIAGE).agency_id == 4
    assert decide(rules, facts(area=None), TRIAGE).agency_id == TRIAGE


def test_non_stopping_rule_raises_priority_and_walk_continues() -> None:
    rules = [
        Rule(1, keywords=["ngập"], priority="urgent", stop=False),
        Rule(2, priority="high", stop=False),
        Rule(3, category_id=10, target_agency_id=2),
        Rule(4, target_agency_id=3),
    ]
    d = decide(rules, facts(text="Ngập nặng"), TRIAGE)
    assert (d.agency_id, d.priority, d.matched_rule_ids) == (2, "urgent", [1, 2, 3])


def test_tree_helpers() -> None:
    assert ancestors(5, PARENTS) == {5, 3, 1}
    assert descendants(3, PARENTS) == {3, 5}
    assert ancestors(None, PARENTS) == frozenset()
    assert ancestors(1, {1: 2, 2: 1}) == {1, 2}  # a cycle in bad data does not loop forever


def test_fold() -> None:
    assert fold("  Đường   HỎNG ") == "duong hong"
    assert fold("Tết Nguyên Đán") == "tet nguyen dan"
