"""The process remembers signatures its Memberships verified (a peer checks an envelope's signature
in its gateway's Submit and again when it validates the block, through the Membership of the
configuration read from state): a repeat skips only the ECDSA check; whether the certificate is
trusted (issuer, revocation, validity at the given time) is still judged by each Membership on
every call, failures are never remembered, and the cache is bounded."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from cryptography import x509
from txfactory import TestNetwork

from careledger.network.identity import membership as membership_module
from careledger.network.identity.membership import (
    BadSignatureError,
    ExpiredIdentityError,
    Membership,
    UnknownIdentityError,
    serial_hex,
)
from careledger.network.identity.signing import Signer, key_matches

DATA = b"an envelope's payload"


class RefusingKey:
    """Stands in for a certificate's public key: any ECDSA check that still runs fails."""

    def verify(self, *args: object) -> None:
        raise ValueError("ECDSA check ran")


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> TestNetwork:
    return TestNetwork.create(tmp_path_factory.mktemp("crypto"), ["hospital", "insurer"])


@pytest.fixture(autouse=True)
def no_remembered_signatures() -> None:
    membership_module.forget_signatures()


def refuse_ecdsa(members: Membership, signer: Signer) -> None:
    """From now on the certificate's ECDSA checks fail: only a remembered signature passes."""
    entry = members._cache[bytes(signer.cert_pem)]
    members._cache[bytes(signer.cert_pem)] = membership_module._Verified(
        entry.identity, RefusingKey())  # type: ignore[arg-type]


def test_a_verified_signature_is_not_checked_again(network: TestNetwork) -> None:
    members, client = network.membership(), network.client("hospital")
    signature = client.sign(DATA)
    who = members.verify(client.cert_pem, DATA, signature)
    refuse_ecdsa(members, client)
    assert members.verify(client.cert_pem, DATA, signature) is who
    with pytest.raises(BadSignatureError):  # other data, the same signature: checked, refused
        members.verify(client.cert_pem, b"other data", signature)


def test_the_validity_time_is_checked_on_every_call(network: TestNetwork) -> None:
    members, client = network.membership(), network.client("hospital")
    signature = client.sign(DATA)
    who = members.verify(client.cert_pem, DATA, signature)
    with pytest.raises(ExpiredIdentityError, match="reissue it"):
        members.verify(client.cert_pem, DATA, signature, at=who.not_after + timedelta(seconds=1))
    assert members.verify(client.cert_pem, DATA, signature, at=who.not_before) is who


def test_a_failure_is_never_remembered(network: TestNetwork) -> None:
    members, client = network.membership(), network.client("hospital")
    forged = network.client("insurer").sign(DATA)  # another key's signature
    for _ in range(2):
        with pytest.raises(BadSignatureError):
            members.verify(client.cert_pem, DATA, forged)
    assert not membership_module._SIGNATURES


def test_another_membership_skips_the_ecdsa_check_but_judges_the_certificate(network: TestNetwork) -> None:
    gateway, client = network.membership(), network.client("hospital")
    signature = client.sign(DATA)
    who = gateway.verify(client.cert_pem, DATA, signature)
    config = network.membership()  # the validator's: another object, the same CAs
    config.identity(client.cert_pem)
    refuse_ecdsa(config, client)
    assert config.verify(client.cert_pem, DATA, signature) == who
    insurers = Membership.from_crypto_dir(network.crypto_dir, ["insurer"])
    with pytest.raises(UnknownIdentityError, match="not a member"):
        insurers.verify(client.cert_pem, DATA, signature)


def test_an_update_refuses_a_remembered_signature_of_a_revoked_certificate(network: TestNetwork) -> None:
    members, client = network.membership(), network.client("hospital")
    signature = client.sign(DATA)
    members.verify(client.cert_pem, DATA, signature)
    cas = {org: (network.crypto_dir / org / "ca" / "cert.pem").read_bytes() for org in network.orgs}
    serial = serial_hex(x509.load_pem_x509_certificate(client.cert_pem))
    members.update(cas, {"hospital": [serial]})
    with pytest.raises(UnknownIdentityError, match=f"serial {serial}\\) was revoked"):
        members.verify(client.cert_pem, DATA, signature)
    members.update(cas)
    members.verify(client.cert_pem, DATA, signature)

def test_the_cache_is_bounded_and_shared_by_threads(network: TestNetwork,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(membership_module, "SIGNATURE_CACHE_SIZE", 5)
    members, client = network.membership(), network.client("hospital")
    signed = [(b"payload %d" % i, client.sign(b"payload %d" % i)) for i in range(20)]
    failures: list[BaseException] = []

    def verify_all() -> None:
        try:
            for data, signature in signed:
                members.verify(client.cert_pem, data, signature)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=verify_all) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert len(membership_module._SIGNATURES) == 5


def test_a_signature_the_process_made_itself_is_not_checked_again(network: TestNetwork) -> None:
    members, peer = network.membership(), network.client("hospital")
    assert key_matches(peer)
    members.verify(peer.cert_pem, b"warm the certificate", peer.sign(b"warm the certificate"))
    signature = peer.sign(DATA)
    membership_module.remember_own_signature(peer, DATA, signature)
    refuse_ecdsa(members, peer)
    assert members.verify(peer.cert_pem, DATA, signature).id == peer.id
    with pytest.raises(BadSignatureError):  # another signature over the same data is checked
        members.verify(peer.cert_pem, DATA, peer.sign(DATA))


def test_a_signer_whose_key_is_not_its_certificates_does_not_count_as_itself(network: TestNetwork) -> None:
    peer, other = network.client("hospital"), network.client("insurer")
    assert not key_matches(Signer(cert_pem=peer.cert_pem, org=peer.org, name=peer.name, key=other.key))


def test_the_gateway_verifies_endorsements_ahead_of_validation(network: TestNetwork) -> None:
    """While a submit waits for its block, the gateway checks the endorsements (a bad one is left
    for validation to refuse), so that validating the block finds the good ones verified."""
    from careledger.network.peer.gatewayservice import _check_endorsements
    from careledger.protos import common_pb2

    gateway, hospital, insurer = network.membership(), network.client("hospital"), network.client("insurer")
    tx = common_pb2.Transaction(response_payload=DATA)
    tx.endorsements.add(endorser=hospital.cert_pem, signature=hospital.sign(DATA))
    tx.endorsements.add(endorser=insurer.cert_pem, signature=hospital.sign(DATA))  # not insurer's
    _check_endorsements(tx, gateway)
    validator = network.membership()
    for signer in (hospital, insurer):
        validator.identity(signer.cert_pem)
        refuse_ecdsa(validator, signer)
    good, forged = tx.endorsements
    assert validator.verify(good.endorser, DATA, good.signature).org == "hospital"
    with pytest.raises(BadSignatureError):
        validator.verify(forged.endorser, DATA, forged.signature)
