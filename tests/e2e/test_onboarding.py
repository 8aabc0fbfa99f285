"""The onboarding story through the real network and a real CA process (issue 13).

`careledger ca serve` runs for hospital; its admin registers a front-desk registrar, who registers a
patient; the patient enrols with a key made on their own side (the SDK) and grants consent; a
practitioner is registered, enrolled and licensed, and reads under that consent (audited); the
practitioner's key is reported stolen and hospital revokes it at its CA (the CRL lists it, the CA
refuses it) and proposes a channel configuration update carrying its serial; once a majority of
admins have signed and it committed, the network refuses the key, while the audit entries it
signed before still verify. A patient whose key is in a SoftHSM token enrols and transacts too, and
an admin whose key is there signs and submits a channel configuration update.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from healthcare import FAR_AHEAD, LONG_AGO, RITA, Ledger, new_category, new_id, register_record

from careledger.gateway import GatewayError, Identity
from careledger.gateway.ca import CAClient, CAError, new_key, write_identity
from careledger.gateway.identity import new_private_key_signer
from careledger.network.ca.server import ca_data_dir, endpoint
from careledger.network.local.softhsm import use_token
from careledger.network.local.testing import LocalNetwork
from careledger.network.tools.queryclient import QueryClient
from careledger.protos import common_pb2

pytest_plugins = ("healthcare",)

ORG = "hospital"
HSM_TOKEN, HSM_PIN = "careledger-test", "2468"  # the token test_hsm.py uses too, if it ran first


def careledger(net: LocalNetwork, *args: str) -> dict:
    """Run the careledger CLI against the network with --json; its JSON answer (exit 0 asserted)."""
    done = subprocess.run([sys.executable, "-m", "careledger.cli", *args, "--dir", str(net.directory),
                           "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"careledger {' '.join(args)}: {done.stdout}{done.stderr}"
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def hospital_ca(net: LocalNetwork) -> Iterator[str]:
    """`careledger ca serve --org hospital` as its own process; its address."""
    log = (net.layout.logs / "ca.hospital.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "careledger.cli", "ca", "serve", "--org", ORG,
                                "--dir", str(net.directory), "--port", "0"],
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not endpoint(net.layout, ORG):
            assert process.poll() is None, f"ca serve exited {process.returncode}; see {log.name}"
            assert time.monotonic() < deadline, f"ca serve never wrote {ca_data_dir(net.layout, ORG)}"
            time.sleep(0.1)
        address = endpoint(net.layout, ORG)
        with CAClient(address, net.layout.ca_cert(ORG).read_bytes()) as anyone:
            anyone.crl()  # answers over TLS before any test uses it
        yield address
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def signed_by(net: LocalNetwork, address: str, who: str) -> CAClient:
    """A CA client signing as crypto/ORG/USER of the network."""
    folder = net.identity_dir(who)
    return CAClient(address, net.layout.ca_cert(ORG).read_bytes(),
                    identity=Identity(ORG, (folder / "cert.pem").read_bytes()),
                    signer=new_private_key_signer((folder / "key.pem").read_bytes()))


def test_a_patient_and_a_practitioner_are_onboarded_and_a_stolen_key_is_revoked(
    net: LocalNetwork, care: Ledger, hospital_ca: str, tmp_path: Path
) -> None:
    # the hospital admin makes a front-desk registrar, who may register patients and nothing else
    desk = new_id("frontdesk")
    registered = careledger(net, "identity", "register", desk, "--as", "hospital:admin",
                            "--attr", "registrar_roles=client", "--attr", "registrar_attrs=role=patient")
    careledger(net, "identity", "enroll", desk, "--org", ORG, "--secret", registered["secret"])

    # the front desk registers a patient: the CA names them by a pseudonym
    registered = careledger(net, "identity", "register", "--as", f"hospital:{desk}", "--attr", "role=patient")
    pseudonym = registered["name"]
    assert pseudonym.startswith("pt-")

    # the patient's device makes the key and sends only a CSR with the one-time secret
    key = new_key()
    with CAClient(hospital_ca, net.layout.ca_cert(ORG).read_bytes()) as device:
        enrolment = device.enroll(pseudonym, registered["secret"], key)
    write_identity(net.identity_dir(f"hospital:{pseudonym}"), key, enrolment)
    patient = f"hospital:{pseudonym}"
    care.submit(patient, "consent", "register_patient")
    record = register_record(care, patient, new_category())

    # a practitioner: registered by the admin, enrolled, licensed by the board
    doctor = new_id("dr")
    licence = f"MD-{uuid.uuid4().hex[:6]}"
    registered = careledger(net, "identity", "register", doctor, "--as", "hospital:admin",
                            "--attr", "role=practitioner", "--attr", f"license={licence}")
    enrolled = careledger(net, "identity", "enroll", doctor, "--org", ORG, "--secret", registered["secret"])
    practitioner = f"hospital:{doctor}"
    care.submit(RITA, "credentials", "issue", f"hospital/{doctor}", licence, "MD", "US-CA", "",
                LONG_AGO, FAR_AHEAD)

    # the patient grants consent, the practitioner reads under it: an audited, committed access
    care.submit(patient, "consent", "grant_consent", new_id("consent"), f"hospital/{doctor}", "access",
                "TREAT", record.category)
    read = care.commit(practitioner, "consent", "access_record", f"hospital/{pseudonym}",
                       record.record_id, "TREAT")
    assert (read.code, read.result["granted"]) == ("VALID", True), read
    audit_event = read.result["audit_event"]

    # the practitioner's key is reported stolen: hospital revokes every certificate of theirs at
    # its CA and proposes the channel configuration update that puts the serial on the ledger
    update = tmp_path / "revoke.update"
    revoked = careledger(net, "identity", "revoke", doctor, "--reason", "keyCompromise",
                         "--as", "hospital:admin", "--update", str(update))
    assert [r["serial"] for r in revoked["revoked"]] == [enrolled["serial"]]
    assert revoked["update"] == str(update)
    crl = careledger(net, "identity", "crl", "--org", ORG)
    assert enrolled["serial"] in crl["revoked_serials"]
    pem = (net.identity_dir(practitioner) / "cert.pem").read_bytes()
    with CAClient(hospital_ca, net.layout.ca_cert(ORG).read_bytes()) as anyone:
        crl_pem = anyone.crl()
    assert x509.load_pem_x509_crl(crl_pem).get_revoked_certificate_by_serial_number(
        x509.load_pem_x509_certificate(pem).serial_number) is not None
    # the thief cannot renew the stolen certificate into a fresh one
    with signed_by(net, hospital_ca, practitioner) as thief, pytest.raises(CAError) as refused:
        thief.reenroll(new_key())
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert f"hospital/{doctor}" in refused.value.message and "revoked" in refused.value.message

    # until the update commits the ledger still takes the key; a majority of the admins make it law
    careledger(net, "channel", "sign", str(update), "--as", "insurer/admin")
    committed = careledger(net, "channel", "submit", str(update), "--as", "hospital/admin")
    with QueryClient(net.directory, "hospital") as hospital_peer:
        config = careledger(net, "channel", "config")
        (orgconfig,) = [o for o in config["orgs"] if o["name"] == ORG]
        assert enrolled["serial"] in orgconfig["revoked_serials"]
        height = hospital_peer.chain_info().height
        assert height > committed["block"]

        # the stolen key's next submission is refused, naming the identity, and nothing is written
        with pytest.raises(GatewayError) as stolen:
            care.submit(practitioner, "consent", "access_record", f"hospital/{pseudonym}",
                        record.record_id, "TREAT")
        assert stolen.value.code == grpc.StatusCode.PERMISSION_DENIED, stolen.value
        assert f"hospital/{doctor}" in str(stolen.value) and "revoked" in str(stolen.value)
        assert hospital_peer.chain_info().height == height

    # the access the practitioner made before stays in the patient's audit trail, and every block
    # (signatures, chain, state) still verifies
    bundle = care.evaluate(patient, "consent", "audit_events_fhir", "2000-01-01", "2100-01-01")
    assert audit_event in {entry["resource"]["id"] for entry in bundle["entry"]}
    with QueryClient(net.directory, "hospital") as hospital_peer:
        assert hospital_peer.transaction(read.tx_id).validation_code == common_pb2.VALID
    # re-validating every block with the configuration in force at it gives the same codes
    report = careledger(net, "ledger", "verify", "--state")
    assert all(node["ok"] for node in report.values()), report


@pytest.fixture(scope="module")
def hsm_token(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The SoftHSM token, its config and PIN in this process's environment (the CLI inherits it)."""
    pytest.importorskip("pkcs11", reason="python-pkcs11 (the hsm extra) is not installed")
    # the PKCS#11 module reads SoftHSM's config once per process: the setting stays for later tests
    why = use_token(tmp_path_factory.mktemp("softhsm"), HSM_TOKEN, HSM_PIN)
    if why:
        pytest.skip(why)
    return HSM_TOKEN


def test_a_patient_whose_key_is_in_a_softhsm_token_enrols_and_the_network_accepts_their_signatures(
    net: LocalNetwork, care: Ledger, hospital_ca: str, hsm_token: str
) -> None:
    registered = careledger(net, "identity", "register", "--as", "hospital:admin", "--attr", "role=patient")
    name = registered["name"]
    enrolled = careledger(net, "identity", "enroll", name, "--org", ORG, "--secret", registered["secret"],
                          "--hsm", "--token", HSM_TOKEN)
    folder = net.identity_dir(f"hospital:{name}")
    assert enrolled["hsm"] and (folder / "key.pkcs11").is_file() and not (folder / "key.pem").exists()

    # gateway, endorsers and committers verify the signatures the token made
    patient = f"hospital:{name}"
    registration = care.submit(patient, "consent", "register_patient")
    assert (registration["id"], registration["status"]) == (f"hospital/{name}", "active")
    record = register_record(care, patient, new_category())
    assert record.registered.code == "VALID"

    # reenrolment makes the next key in the token too, and the network takes the new certificate
    before = (folder / "cert.pem").read_bytes()
    renewed = careledger(net, "identity", "reenroll", "--as", patient)
    assert (folder / "cert.pem").read_bytes() != before and not (folder / "key.pem").exists()
    assert renewed["serial"] != enrolled["serial"]
    with net.connect(patient) as gateway:
        consent = gateway.get_network(net.profile.channel).get_contract("consent")
        bundle = json.loads(consent.evaluate_transaction("audit_events_fhir", "2000-01-01", "2100-01-01"))
    assert bundle["resourceType"] == "Bundle"


def test_an_admin_whose_key_is_in_a_softhsm_token_signs_and_submits_a_configuration_update(
    net: LocalNetwork, hospital_ca: str, hsm_token: str, tmp_path: Path
) -> None:
    admin = new_id("opsadmin")
    registered = careledger(net, "identity", "register", admin, "--role", "admin", "--as", "hospital:admin")
    careledger(net, "identity", "enroll", admin, "--org", ORG, "--secret", registered["secret"], "--hsm",
               "--token", hsm_token)
    assert not (net.identity_dir(f"hospital:{admin}") / "key.pem").exists()

    # the update revokes a spare identity; the token admin and insurer's admin are 2 of 3
    spare = new_id("spare")
    careledger(net, "crypto", "issue", ORG, spare)
    serial = format(x509.load_pem_x509_certificate(
        (net.identity_dir(f"hospital:{spare}") / "cert.pem").read_bytes()).serial_number, "x")
    update = tmp_path / "revoke-spare.update"
    careledger(net, "channel", "update", "--revoke", f"hospital={serial}", "--out", str(update))
    signed = careledger(net, "channel", "sign", str(update), "--as", f"hospital/{admin}")
    assert signed["signed_by"] == [f"hospital/{admin}"]
    careledger(net, "channel", "sign", str(update), "--as", "insurer/admin")
    careledger(net, "channel", "submit", str(update), "--as", f"hospital/{admin}")
    (orgconfig,) = [o for o in careledger(net, "channel", "config")["orgs"] if o["name"] == ORG]
    assert serial in orgconfig["revoked_serials"]
