"""Key-level endorsement on a real network (governance-network.toml: any two orgs satisfy the consent
contract's policy). A consent key carries the patient's home hospital as its policy: a revoke
endorsed by insurer and board only (chosen explicitly) is committed as ENDORSEMENT_POLICY_FAILURE and
the consent stays active; through the insurer's gateway without a choice, the gateway adds the
hospital's endorsement and the revoke is VALID."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from careledger.gateway import Contract
from careledger.network.local.testing import LocalNetwork, local_network

CONFIG = Path(__file__).with_name("governance-network.toml")


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    with local_network(CONFIG, tmp_path_factory.mktemp("keyendorsement")) as network:
        yield network


@pytest.fixture(scope="module")
def consent(net: LocalNetwork) -> Iterator[Contract]:
    """The consent contract as patient alice of the hospital, through the insurer's peer."""
    with net.connect("hospital:alice", peer="peer0.insurer") as gw:
        contract = gw.get_network(net.profile.channel).get_contract("consent")
        contract.submit_transaction("register_patient")  # endorsed by insurer and board
        yield contract


def status_of(consent: Contract, consent_id: str) -> str:
    return str(json.loads(consent.evaluate_transaction("consent_fhir", consent_id))["status"])


def test_a_consent_change_without_the_home_hospital_is_an_endorsement_policy_failure(
        net: LocalNetwork, consent: Contract) -> None:
    consent_id = f"c-{uuid.uuid4().hex[:8]}"
    consent.submit_transaction("grant_consent", consent_id, "hospital/drsmith", "access", "TREAT", "lab")
    assert status_of(consent, consent_id) == "active"

    forged = consent.submit_async("revoke_consent", consent_id, endorsing_orgs=["insurer", "board"])
    status = forged.get_status()
    assert status.code_name == "ENDORSEMENT_POLICY_FAILURE"
    assert status_of(consent, consent_id) == "active"  # the ledger is unchanged

    line = (f"tx {status.tx_id} in block {status.block_number} is invalid: ENDORSEMENT_POLICY_FAILURE: "
            "valid endorsements from ['board', 'insurer'] do not satisfy the key-level policy "
            "hospital of key consent/")
    log = net.layout.logs / "peer0.hospital.log"
    deadline = time.monotonic() + 10  # the hospital's peer may commit the block a moment later
    while line not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert line in log.read_text()

    revoked = consent.submit_async("revoke_consent", consent_id)  # the gateway adds the hospital
    assert revoked.get_status().code_name == "VALID"
    assert status_of(consent, consent_id) == "inactive"


def test_the_home_hospital_with_another_org_chosen_explicitly_is_valid(consent: Contract) -> None:
    consent_id = f"c-{uuid.uuid4().hex[:8]}"
    consent.submit_transaction("grant_consent", consent_id, "hospital/drsmith", "access", "TREAT", "lab")
    done = consent.submit_async("revoke_consent", consent_id, endorsing_orgs=["hospital", "board"])
    assert done.get_status().code_name == "VALID"
    assert status_of(consent, consent_id) == "inactive"
