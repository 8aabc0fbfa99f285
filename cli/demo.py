"""`careledger demo`: start a local network if none runs, then tell one healthcare story via the SDK.

A board licenses a doctor, a patient consents, the doctor reads a record (audited), an emergency
physician breaks the glass, a claim is approved and paid, a duplicate is denied, a licence is revoked
and the next claim is denied, and the patient reads their accounting of disclosures.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from careledger.cli.common import dir_option
from careledger.gateway import Contract, Gateway, connect_local
from careledger.gateway.records import connect_local_records
from careledger.network.config import Layout, Profile
from careledger.network.identity.certs import IdentitySpec, issue_identity
from careledger.network.local import launcher


def _say(step: str, detail: object = "") -> None:
    text = detail if isinstance(detail, str) else json.dumps(detail, sort_keys=True)
    click.echo(f"  {step:<46} {text}"[:160])


class Cast:
    """The story's people: fresh identities issued by the organisations' CAs for this run."""

    def __init__(self, directory: Path, channel: str, run: str) -> None:
        self.directory, self.channel, self.run = directory, channel, run
        crypto = Layout(directory.resolve()).crypto
        self.patient = f"patient-{run}"
        self.doctor = f"drhouse-{run}"
        self.er_doctor = f"drgrey-{run}"
        issue_identity(crypto, "hospital", IdentitySpec(self.patient, "client", {"role": "patient"}))
        for name, lic in ((self.doctor, f"MD-{run}"), (self.er_doctor, f"MD-ER-{run}")):
            issue_identity(crypto, "hospital",
                           IdentitySpec(name, "client", {"role": "practitioner", "license": lic}))
        self._gateways: list[Gateway] = []

    def contract(self, who: str, name: str) -> Contract:
        # one gateway peer for the whole story, so each step sees the commits of the one before
        gateway = connect_local(self.directory, who, peer="peer0.hospital")
        self._gateways.append(gateway)
        return gateway.get_network(self.channel).get_contract(name)

    def close(self) -> None:
        for gateway in self._gateways:
            gateway.close()


def _json(call: Callable[..., bytes], *args: Any, **kw: Any) -> Any:
    return json.loads(call(*args, **kw))


def story(directory: Path) -> None:
    channel = Profile.load(directory.resolve()).channel
    run = uuid.uuid4().hex[:6]
    cast = Cast(directory, channel, run)
    patient_id, doctor_id, er_id = (f"hospital/{n}" for n in (cast.patient, cast.doctor, cast.er_doctor))
    today = datetime.now(UTC).date()
    try:
        board = cast.contract("board:rita", "credentials")
        click.echo("\n1. The licensing board licenses two doctors")
        for who in (doctor_id, er_id):
            lic = _json(board.submit_transaction, "issue", who, f"MD-{run}-{who[-1]}", "MD", "US-MA",
                        "internal-medicine", str(today - timedelta(days=365)),
                        str(today + timedelta(days=365)))
            _say(f"licence issued to {who}", lic["status"] if "status" in lic else "issued")
        verdict = _json(board.evaluate_transaction, "verify", doctor_id)
        _say("verify now", f"valid={verdict['valid']}")

        click.echo("\n2. The patient registers a lab report (kept off the ledger, encrypted)")
        consent = cast.contract(f"hospital:{cast.patient}", "consent")
        consent.submit_transaction("register_patient")
        report = f"Lab report for {cast.patient}: HbA1c 6.1%".encode()
        with connect_local_records(directory, f"hospital:{cast.patient}") as store:
            stored = store.put("lab-1", report)
        consent.submit_transaction("register_record", "lab-1", "lab", "N",
                                   transient={"location": f"recordstore://hospital/{patient_id}/lab-1",
                                              "content_hash": stored.content_hash})
        _say("record stored, hash on the ledger", stored.content_hash[:16] + "...")
        consent.submit_transaction("grant_consent", f"c-{run}", doctor_id, "access", "TREAT", "lab")
        _say("consent granted", f"{doctor_id}: access, TREAT, lab")

        click.echo("\n3. The doctor reads the record: the read is a transaction, audited first")
        doctor = cast.contract(f"hospital:{cast.doctor}", "consent")
        access = doctor.submit_async("access_record", patient_id, "lab-1", "TREAT")
        access.get_status()
        _say("access_record", json.loads(access.result)["reason"])
        with connect_local_records(directory, f"hospital:{cast.doctor}") as store:
            fetched = store.get("lab-1", access.tx_id, patient=patient_id)
        _say("record fetched with the access tx id", fetched.content.decode())

        click.echo("\n4. Emergency: another licensed doctor breaks the glass")
        er = cast.contract(f"hospital:{cast.er_doctor}", "consent")
        refused = _json(er.submit_transaction, "access_record", patient_id, "lab-1", "TREAT")
        _say("without consent", refused["reason"])
        glass = _json(er.submit_transaction, "break_glass", patient_id,
                      transient={"reason": b"unconscious patient in the ER"})
        _say("break-glass open until", glass["period"]["end"])
        emergency = _json(er.submit_transaction, "access_record", patient_id, "lab-1", "ETREAT")
        _say("emergency access", emergency["reason"])

        click.echo("\n5. A claim is adjudicated by the contract, paid; a duplicate is denied")
        insurer = cast.contract("insurer:ivan", "claims")
        terms = {"plan": "gold", "start": str(today - timedelta(days=30)),
                 "end": str(today + timedelta(days=335)), "currency": "USD", "deductible": 5000,
                 "coinsurance": 20, "annual_limit": 500000,
                 "services": {"99213": {"fee": 15000, "max_quantity": 1}}, "prior_authorization": []}
        insurer.submit_transaction("register_coverage", f"cov-{run}", patient_id, json.dumps(terms))
        claims = cast.contract(f"hospital:{cast.doctor}", "claims")
        salt = secrets.token_bytes(16)  # the diagnosis goes as transient data; the ledger keeps a salted hash

        def claim(claim_id: str) -> dict[str, Any]:
            body = {"coverage": f"cov-{run}", "items": [
                {"service": "99213", "date": str(today), "quantity": 1, "unit_price": 15000}]}
            return _json(claims.submit_transaction, "submit_claim", claim_id, json.dumps(body),
                         transient={"diagnosis": b"E11.9", "salt": salt})

        def summary(c: dict[str, Any]) -> str:
            reasons = ", ".join(f"{r['code']} {r['text']}" for line in c["items"] for r in line["reasons"])
            return f"{c['outcome']}, benefit {c['total']['benefit']} cents ({reasons})"

        first = claim(f"cl-{run}-1")
        _say("claim 1", summary(first))
        paid = _json(insurer.submit_transaction, "mark_paid", f"cl-{run}-1", f"pay-{run}")
        _say("claim 1 paid", paid["status"])
        duplicate = claim(f"cl-{run}-2")
        _say("claim 2 (same service again)", summary(duplicate))

        click.echo("\n6. The board revokes the doctor's licence; the next claim is denied")
        as_of = f"{today - timedelta(days=1)}T23:59:00Z"  # effective from the start of today
        board.submit_transaction("revoke", doctor_id, "board decision 2026-17", as_of)
        verdict = _json(board.evaluate_transaction, "verify", doctor_id)
        _say("verify now", f"valid={verdict['valid']}: {verdict.get('reason', '')}")
        late = claim(f"cl-{run}-3")
        _say("claim 3", summary(late))

        click.echo("\n7. The patient's accounting of disclosures (HIPAA 164.528)")
        since, until = str(today - timedelta(days=1)), str(today + timedelta(days=1))
        for entry in _json(consent.evaluate_transaction, "disclosures", since, until):
            basis = entry.get("basis", "").split("/")[0]
            _say(entry.get("date", "")[:19], f"{entry.get('recipient')} read {entry.get('record')} "
                 f"({entry.get('category')}) for {entry.get('purpose')} under {basis}")
    finally:
        cast.close()


@click.command()
@dir_option
def demo(directory: Path) -> None:
    """Run the healthcare story against the network in --dir (started if it is not running)."""
    if not any(n.serving for n in launcher.status(directory)):
        click.echo(f"starting a local network in {directory} ...")
        launcher.up(directory, progress=lambda m: click.echo(f"  {m}"))
    story(directory)
    click.echo(f"\nnext: careledger ledger verify --dir {directory}; "
               f"careledger network down --dir {directory}")
