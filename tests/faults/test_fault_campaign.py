"""The fault campaign, reduced for CI: each scenario on its own live network, under load.

`python -m tests.faults.campaign --full` runs the same scenarios longer and prints the table kept
in RELIABILITY.md.
"""

from __future__ import annotations

from collections.abc import Iterator

import campaign
import pytest
from faultharness import NETWORK_CONFIG
from faultinputs import (
    Case,
    abandoned_streams,
    control_character_keys,
    huge_arguments,
    patient_reads_full_blocks,
    requests_out_of_shape,
    rogue_endorsements,
    tls_without_a_member_certificate,
    truncated_protobuf,
)

from careledger.gateway import Contract
from careledger.network.local.testing import LocalNetwork, local_network


def _passed(row: campaign.Row) -> None:
    assert row.ok, "\n".join(row.notes)
    assert row.acknowledged and row.lost == 0


def test_peer_killed_during_commit_again_and_again_catches_up_and_loses_nothing() -> None:
    _passed(campaign.kill_peers_during_commit(kills=3))


def test_full_disk_stops_commits_with_a_clear_error_and_they_resume_when_space_returns() -> None:
    row = campaign.disk_full(full_seconds=2, rounds=2)
    _passed(row)
    assert any("/healthz 503" in n for n in row.notes)


def test_damaged_block_file_is_named_and_fetched_again_before_the_peer_serves() -> None:
    _passed(campaign.corrupted_block_file(cli_rounds=1))


def test_tampered_validation_code_and_state_value_are_named_and_repaired_before_the_peer_serves() -> None:
    _passed(campaign.tampered_ledger(rounds=1))


@pytest.fixture(scope="module")
def net() -> Iterator[LocalNetwork]:
    with local_network(NETWORK_CONFIG) as network:
        try:
            yield network
        finally:
            campaign.shut_down(network)


@pytest.fixture()
def basic(net: LocalNetwork) -> Iterator[Contract]:
    with net.connect("hospital:admin") as gw:
        yield gw.get_network(net.profile.channel).get_contract("basic")


def _all_refused_clearly(cases: list[Case]) -> None:
    assert cases and all(c.ok for c in cases), "\n".join(f"{c.name}: {c.told}" for c in cases if not c.ok)


def test_truncated_protobuf_is_refused_and_the_ledger_unchanged(net: LocalNetwork, basic: Contract) -> None:
    _all_refused_clearly(truncated_protobuf(net, basic))


def test_endorsements_by_non_member_or_rogue_ca_peers_never_make_a_tx_valid(
    net: LocalNetwork, basic: Contract
) -> None:
    _all_refused_clearly(rogue_endorsements(net, basic))


def test_huge_arguments_are_refused_with_a_clear_status(net: LocalNetwork, basic: Contract) -> None:
    _all_refused_clearly(huge_arguments(net, basic))


def test_keys_with_control_characters_are_refused_naming_the_key(net: LocalNetwork, basic: Contract) -> None:
    _all_refused_clearly(control_character_keys(net, basic))


def test_overlong_names_empty_requests_and_far_start_blocks_get_clear_statuses(
    net: LocalNetwork, basic: Contract
) -> None:
    _all_refused_clearly(requests_out_of_shape(net, basic))


def test_clients_without_a_member_tls_certificate_are_refused_by_the_handshake(
    net: LocalNetwork, basic: Contract
) -> None:
    _all_refused_clearly(tls_without_a_member_certificate(net, basic))


def test_a_patient_is_refused_full_blocks_and_other_members_transactions(
    net: LocalNetwork, basic: Contract
) -> None:
    _all_refused_clearly(patient_reads_full_blocks(net, basic))


@pytest.fixture(scope="module")
def streams(net: LocalNetwork) -> list[Case]:
    with net.connect("hospital:admin") as gw:
        return abandoned_streams(net, gw.get_network(net.profile.channel).get_contract("basic"), 500)


def test_peer_serves_again_after_a_client_abandons_500_event_streams(streams: list[Case]) -> None:
    _all_refused_clearly([c for c in streams if "afterwards" in c.name])


def test_peer_stays_healthy_while_a_client_holds_500_event_streams(streams: list[Case]) -> None:
    _all_refused_clearly([c for c in streams if "held open" in c.name])
