"""The CA service in-process over real TLS gRPC: register, enrol, reenrol, revoke, CRL, list, and
its state surviving a restart (issue 13)."""

from __future__ import annotations

import json
import shlex
import sqlite3
import stat
from pathlib import Path

import click
import pytest
from cafixtures import FRONT_DESK, ORG, RunningCA, enrol, signed_client, start_ca
from click.testing import CliRunner
from cryptography import x509
from cryptography.x509.oid import NameOID

from careledger.cli.main import cli
from careledger.gateway.ca import new_key
from careledger.network.ca import registrar
from careledger.network.config import Layout
from careledger.network.identity.certs import PSEUDONYM, certificate_attributes
from careledger.network.identity.membership import Membership

pytest_plugins = ("cafixtures",)

ROOT = Path(__file__).resolve().parents[2]

def test_a_patient_registered_by_the_front_desk_enrols_with_a_key_made_on_their_side(
    ca: RunningCA, tmp_path: Path
) -> None:
    with ca.client("frontdesk") as desk:
        registered = desk.register(role="client", attributes={"role": "patient"})
    assert PSEUDONYM.fullmatch(registered.name), "the CA names a patient by a pseudonym"
    folder = tmp_path / "phone" / registered.name
    signer = enrol(ca, registered.name, registered.secret, folder)

    assert stat.S_IMODE((folder / "key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "cert.pem").stat().st_mode) == 0o644
    identity = Membership.from_crypto_dir(ca.layout.crypto).verify(
        signer.cert_pem, b"consent", signer.sign(b"consent"))
    assert (identity.id, identity.role, dict(identity.attributes)) == (
        f"{ORG}/{registered.name}", "client", {"role": "patient"})
    # the CA keeps the secret's hash only: the secret is nowhere in its files
    data = b"".join(p.read_bytes() for p in (ca.layout.data / "ca" / ORG).glob("ca.sqlite*"))
    assert registered.secret.encode() not in data
    with ca.client("admin") as admin:
        (listed,) = [r for r in admin.list() if r.name == registered.name]
    assert (listed.state, listed.registered_by, len(listed.certificates)) == (
        "enrolled", f"{ORG}/frontdesk", 1)


def test_reenrol_gives_a_new_certificate_for_a_new_key_with_the_same_name_role_and_attributes(
    ca: RunningCA, tmp_path: Path
) -> None:
    with ca.client("admin") as admin:
        registered = admin.register("drwho", "client", {"role": "practitioner", "license": "MD-9"})
    old = enrol(ca, "drwho", registered.secret, tmp_path / "drwho")
    key = new_key()
    with signed_client(ca.address, ca.layout.ca_cert(ORG).read_bytes(), tmp_path / "drwho") as me:
        renewed = me.reenroll(key)
    cert = x509.load_pem_x509_certificate(renewed.certificate)
    assert cert.public_key() == key.public_key()
    assert cert.serial_number != x509.load_pem_x509_certificate(old.cert_pem).serial_number
    assert certificate_attributes(cert) == {"role": "practitioner", "license": "MD-9"}
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "client"


def test_revoked_serials_are_in_the_crl_the_org_ca_signs_with_their_reason(
    ca: RunningCA, tmp_path: Path
) -> None:
    with ca.client("admin") as admin:
        registered = admin.register("drlost", "client", {"role": "practitioner"})
        signer = enrol(ca, "drlost", registered.secret, tmp_path / "drlost")
        serial = x509.load_pem_x509_certificate(signer.cert_pem).serial_number
        revocation = admin.revoke(name="drlost", reason="keyCompromise")
        assert [r.serial for r in revocation.revoked] == [format(serial, "x")]
        again = admin.revoke(name="drlost", reason="keyCompromise")
        assert again.revoked == [], "a revoked certificate is not revoked twice"
        # a certificate issued outside the service (`crypto issue`) is revoked by its PEM
        nurse = (ca.layout.identity_dir(ORG, "nurse") / "cert.pem").read_bytes()
        admin.revoke(certificate=nurse, reason="affiliationChanged")
    with ca.client() as anyone:
        crl = x509.load_pem_x509_crl(anyone.crl())
    ca_cert = x509.load_pem_x509_certificate(ca.layout.ca_cert(ORG).read_bytes())
    assert crl.is_signature_valid(ca_cert.public_key())  # type: ignore[arg-type]
    assert crl.issuer == ca_cert.subject
    entry = crl.get_revoked_certificate_by_serial_number(serial)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == (
        x509.ReasonFlags.key_compromise)
    nurse_serial = x509.load_pem_x509_certificate(nurse).serial_number
    assert crl.get_revoked_certificate_by_serial_number(nurse_serial) is not None


def test_registrations_secrets_and_revocations_survive_a_restart(layout: Layout, tmp_path: Path) -> None:
    first = start_ca(layout)
    try:
        with first.client("admin") as admin:
            used = admin.register("p1", "client")
            unused = admin.register("p2", "client")
        enrol(first, "p1", used.secret, tmp_path / "p1")
        with first.client("admin") as admin:
            admin.revoke(name="p1", reason="cessationOfOperation")
    finally:
        first.stop()
    second = start_ca(layout)
    try:
        with second.client() as person, pytest.raises(Exception, match="already used"):
            person.enroll("p1", used.secret, new_key())
        enrol(second, "p2", unused.secret, tmp_path / "p2")
        with second.client() as anyone:
            crl = x509.load_pem_x509_crl(anyone.crl())
        assert len(list(crl)) == 1
    finally:
        second.stop()
    with sqlite3.connect(layout.data / "ca" / ORG / "ca.sqlite") as db:
        states = dict(db.execute("SELECT name, state FROM registrations"))
    assert states == {"p1": "revoked", "p2": "enrolled"}


@pytest.mark.parametrize(("caller_role", "attrs", "role", "granted", "allowed"), [
    ("admin", {}, "admin", {"anything": "goes"}, True),
    ("client", FRONT_DESK, "client", {"role": "patient"}, True),
    ("client", FRONT_DESK, "client", {"role": "practitioner"}, False),
    ("client", FRONT_DESK, "peer", {}, False),
    ("client", {}, "client", {}, False),
    ("client", {"registrar_roles": "client,peer", "registrar_attrs": "license"}, "peer",
     {"license": "any value"}, True),
    ("client", FRONT_DESK, "client", {"registrar_roles": "client"}, True),
    ("client", FRONT_DESK, "client", {"registrar_roles": "client,admin"}, False),
    ("admin", {}, "orderer", {}, False),
])
def test_a_registrar_grants_only_what_its_own_certificate_lists(
    caller_role: str, attrs: dict[str, str], role: str, granted: dict[str, str], allowed: bool
) -> None:
    why = registrar.refusal("hospital/x", caller_role, attrs, role, granted)
    assert (why is None) == allowed, why


def test_the_readme_commands_for_the_ca_are_real_commands_with_real_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "revoke.update").write_bytes(b"")  # what `identity revoke --update` wrote
    readme = (ROOT / "README.md").read_text()
    block = readme.split("### Enrol people with the CA", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    lines = [line.split(" #", 1)[0].rstrip(" &") for line in block.splitlines() if line.strip()]
    assert len(lines) >= 10
    for line in lines:
        argv = shlex.split(line)
        assert argv[0] == "careledger", line
        command: click.Command = cli
        args = argv[1:]
        while isinstance(command, click.Group):
            command = command.commands[args.pop(0)]
        command.make_context(argv[1], args)  # refuses an unknown option or a missing argument


def run_cli(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, [*args, "--json"])
    return result.exit_code, json.loads(result.output)


def test_the_identity_commands_enrol_into_the_folder_as_reads_and_answer_json(
    ca: RunningCA, layout: Layout
) -> None:
    common = ("--dir", str(layout.root), "--ca", ca.address)
    code, first = run_cli("identity", "register", "drcli", "--attr", "role=practitioner", *common)
    assert code == 0 and first["name"] == "drcli"
    # a lost secret: --reset gives a new one (the old one stops working), role and attributes kept
    code, registered = run_cli("identity", "register", "drcli", "--reset", *common)
    assert code == 0 and registered["secret"] != first["secret"]
    code, refused = run_cli("identity", "enroll", "drcli", "--secret", first["secret"], *common)
    assert (code, refused["error"]["code"]) == (1, "UNAUTHENTICATED"), refused
    bad = CliRunner().invoke(cli, ["identity", "register", "drcli", "--reset", "--role", "admin", *common])
    assert bad.exit_code == 2 and "keeps its role and attributes" in bad.output
    code, enrolled = run_cli("identity", "enroll", "drcli", "--secret", registered["secret"], *common)
    assert code == 0 and enrolled["path"] == str(layout.identity_dir(ORG, "drcli"))
    code, again = run_cli("identity", "enroll", "drcli", "--secret", registered["secret"], "--out",
                          str(layout.root / "elsewhere"), *common)
    assert (code, again["error"]["code"]) == (1, "FAILED_PRECONDITION"), again
    code, renewed = run_cli("identity", "reenroll", "--as", "hospital:drcli", *common)
    assert code == 0 and renewed["serial"] != enrolled["serial"]
    code, listed = run_cli("identity", "list", *common)
    (drcli,) = [r for r in listed if r["name"] == "drcli"]
    assert (drcli["state"], len(drcli["certificates"])) == ("enrolled", 2)
    code, revoked = run_cli("identity", "revoke", "drcli", "--reason", "superseded", *common)
    assert code == 0 and len(revoked["revoked"]) == 2 and revoked["update"] is None
    code, crl = run_cli("identity", "crl", *common)
    assert set(crl["revoked_serials"]) == {enrolled["serial"], renewed["serial"]}


def test_without_a_running_ca_the_identity_commands_say_how_to_start_one(tmp_path: Path) -> None:
    code, out = run_cli("identity", "register", "x", "--dir", str(tmp_path))
    assert code == 1 and out["error"]["code"] == "NO_NETWORK"
    assert "careledger ca serve --org hospital" in out["error"]["message"]
