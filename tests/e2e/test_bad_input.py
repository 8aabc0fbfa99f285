"""Bad input against live nodes: a clear status and message, and the ledger unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from careledger.gateway import EndorseError, EvaluateError, GatewayError, Identity, connect, signers
from careledger.network.identity.certs import IdentitySpec, issue_identity
from careledger.network.local.testing import LocalNetwork
from careledger.network.tools.queryclient import QueryClient


@contextmanager
def ledger_unchanged(net: LocalNetwork) -> Iterator[None]:
    with QueryClient(net.directory, "hospital") as q:
        before = q.chain_info()
        yield
        after = q.chain_info()
    assert (after.height, after.current_block_hash) == (before.height, before.current_block_hash)


def test_oversized_payload_is_refused_with_resource_exhausted(net: LocalNetwork, hospital) -> None:
    huge = "x" * (net.profile.orderer.max_message_bytes + 1024)
    with ledger_unchanged(net), pytest.raises(GatewayError) as err:
        hospital.submit_transaction("create_asset", "too-big", "alice", huge)
    assert err.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_non_utf8_argument_is_refused_naming_the_argument(net: LocalNetwork, hospital) -> None:
    with ledger_unchanged(net), pytest.raises(EndorseError) as err:
        hospital.submit_transaction("create_asset", b"\xff\xfe", "alice", "1")
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "UTF-8" in str(err.value)


def test_unknown_contract_and_function_say_so(net: LocalNetwork) -> None:
    with net.connect("hospital:admin") as gw, ledger_unchanged(net):
        network = gw.get_network(net.profile.channel)
        with pytest.raises(EndorseError) as err:
            network.get_contract("radiology").submit_transaction("order_scan")
        assert err.value.code == grpc.StatusCode.NOT_FOUND
        assert "contract 'radiology' is not deployed" in str(err.value)
        with pytest.raises(EvaluateError) as err:
            network.get_contract("basic").evaluate_transaction("steal_assets")
        assert err.value.code == grpc.StatusCode.NOT_FOUND
        assert "has no function 'steal_assets'" in str(err.value)


def test_expired_certificate_is_refused(net: LocalNetwork) -> None:
    now = datetime.now(UTC)
    folder = issue_identity(net.layout.crypto, "hospital", IdentitySpec("expired-carl", "client"),
                            not_before=now - timedelta(days=30), not_after=now - timedelta(days=1),
                            overwrite=True)
    with connect(net.profile.peers_of("hospital")[0].address,
                 Identity("hospital", (folder / "cert.pem").read_bytes()),
                 signers.new_private_key_signer((folder / "key.pem").read_bytes()),
                 tls_root_certificates=net.layout.ca_cert("hospital").read_bytes()) as gw:
        basic = gw.get_network(net.profile.channel).get_contract("basic")
        with ledger_unchanged(net), pytest.raises(EndorseError) as err:
            basic.submit_transaction("create_asset", "from-the-past", "carl", "1")
    assert err.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert "expired" in str(err.value).lower()


def test_a_result_too_large_for_the_network_is_refused_naming_the_transaction(
    net: LocalNetwork, hospital
) -> None:
    # below the request limit, but the endorsed result (which holds the value twice) is not
    big = "y" * (net.profile.orderer.max_message_bytes * 2 // 3)
    proposal = hospital.new_proposal("create_asset", ["big-result", "alice", big])
    with ledger_unchanged(net), pytest.raises(EndorseError) as err:
        proposal.endorse()
    assert err.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert proposal.tx_id in str(err.value) and "max_message_bytes" in str(err.value)
