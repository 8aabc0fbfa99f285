"""Endorsement policy parsing, evaluation and endorser choice."""

from __future__ import annotations

import pytest

from careledger.network.peer.policy import PolicyError, choose_endorsers, parse


@pytest.mark.parametrize(
    ("text", "orgs", "expected"),
    [
        ("hospital", {"hospital"}, True),
        ("AND(hospital, insurer)", {"hospital"}, False),
        ("and(hospital, insurer)", {"insurer", "hospital"}, True),
        ("Or('hospital', \"board\")", {"board"}, True),
        ("OutOf(2, hospital, insurer, board)", {"board", "insurer"}, True),
        ("OUTOF(2, hospital, insurer, board)", {"board"}, False),
        ("AND(hospital, OR(insurer, board))", {"hospital", "board"}, True),
        ("AND(hospital, OR(insurer, board))", {"insurer", "board"}, False),
    ],
)
def test_policy_is_satisfied_by_the_right_orgs(text: str, orgs: set[str], expected: bool) -> None:
    assert parse(text).satisfied_by(orgs) is expected


def test_policy_text_round_trips_and_lists_its_orgs() -> None:
    policy = parse("and( hospital , or('my org', OutOf(2, a, b, c)))")
    assert str(policy) == "AND(hospital, OR('my org', OutOf(2, a, b, c)))"
    assert parse(str(policy)) == policy
    assert policy.orgs() == frozenset({"hospital", "my org", "a", "b", "c"})


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("AND(a,", "position 6"),
        ("AND(a b)", "position 6"),
        ("OR()", "position 3"),
        ("OutOf(x, a)", "position 6"),
        ("a)", "position 1"),
        ("AND(a, $)", "at 7"),
    ],
)
def test_syntax_error_names_its_position(text: str, position: str) -> None:
    with pytest.raises(PolicyError, match=position):
        parse(text)


def test_outof_more_than_its_rules_is_refused() -> None:
    with pytest.raises(PolicyError, match="never be satisfied"):
        parse("OutOf(3, a, b)")


def test_choose_endorsers_prefers_smallest_set_then_earlier_orgs() -> None:
    policy = parse("OutOf(2, hospital, insurer, board)")
    assert choose_endorsers(policy, ["board", "insurer", "hospital"]) == ["board", "insurer"]
    nested = parse("AND(hospital, OR(insurer, board))")
    assert choose_endorsers(nested, ["board", "hospital", "insurer"]) == ["board", "hospital"]
    assert choose_endorsers(parse("OR(a, AND(b, c))"), ["b", "c", "a"]) == ["a"]


def test_choose_endorsers_returns_none_when_unsatisfiable() -> None:
    assert choose_endorsers(parse("AND(hospital, insurer)"), ["hospital", "board"]) is None
