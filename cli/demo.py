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
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from careledger.cli.common import default_dir, dir_option, invocation, json_option, progress
from careledger.cli.crypto import new_pseudonym
from careledger.gateway import Contract, Gateway, connect_local, items
from careledger.gateway.records import connect_local_records
from careledger.network.config import Layout, Profile
from careledger.network.identity.certs import IdentitySpec, issue_identity
from careledger.network.local import launcher


class Narrator:
    """Tells the story: each step as a line for people, or collected for --json."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.chapters: list[dict[str, Any]] = []

    def chapter(self, title: str) -> None:
        self.chapters.append({"title": title, "steps": []})
        if not self.as_json:
            click.echo(f"\n{title}")

    def say(self, step: str, detail: str = "", *more: str) -> None:
        self.chapters[-1]["steps"].append({"step": step, "detail": "\n".join((detail, *more))})
        if not self.as_json:
            click.echo(f"  {step:<46} {detail}")
            for line in more:
                click.echo(f"  {'':<46} {line}")


def money(cents: int, currency: str) -> str:
    """An amount held in cents, as people read it: USD 120.00."""
    return f"{currency} {cents / 100:,.2f}"


def short_reference(kind: str, hex_id: str) -> str:
    """A short, readable reference to a transaction-id-sized identifier: BG-E46142BC."""
    return f"{kind}-{hex_id[:8].upper()}"


def _moment(iso: str) -> str:
    """An ISO 8601 UTC time as people read it: 2026-12-03 14:40 UTC."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M UTC")


class Cast:
    """The story's people: fresh identities issued by the organisations' CAs for this run."""

    def __init__(self, directory: Path, channel: str, run: str) -> None:
        self.directory, self.channel, self.run = directory, channel, run
        crypto = Layout(directory.resolve()).crypto
        self.patient = new_pseudonym()  # a patient's id on the ledger is a pseudonym, never a name
        self.doctor = f"drhouse-{run}"
        self.er_doctor = f"drgrey-{run}"
        # each doctor's licence number, the same in their certificate and on the board's register
        self.licences = {self.doctor: f"MD-{run}-1", self.er_doctor: f"MD-{run}-2"}
        issue_identity(crypto, "hospital", IdentitySpec(self.patient, "client", {"role": "patient"}))
        for name, lic in self.licences.items():
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


def story(directory: Path, teller: Narrator) -> None:
    """The healthcare story with new people, told by teller.

    Its timeline: the doctor sees the patient yesterday and claims today; the claim is paid today;
    then the board revokes the doctor's licence with effect from today 00:00 UTC (a date of service
    is a whole day), so a service dated today is denied while yesterday's payment stands.
    """
    channel = Profile.load(directory.resolve()).channel
    run = uuid.uuid4().hex[:6]
    cast = Cast(directory, channel, run)
    patient_id, doctor_id, er_id = (f"hospital/{n}" for n in (cast.patient, cast.doctor, cast.er_doctor))
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    _say = teller.say
    try:
        board = cast.contract("board:rita", "credentials")
        teller.chapter("1. The licensing board licenses two doctors")
        for name, who in ((cast.doctor, doctor_id), (cast.er_doctor, er_id)):
            lic = _json(board.submit_transaction, "issue", who, cast.licences[name], "MD", "US-MA",
                        "internal-medicine", str(today - timedelta(days=365)),
                        str(today + timedelta(days=365)))
            _say(f"licence {cast.licences[name]} issued to", f"{who}: {lic.get('status', 'issued')}")
        verdict = _json(board.evaluate_transaction, "verify", doctor_id)
        _say("verify now", f"valid={verdict['valid']}")

        teller.chapter("2. The patient registers a lab report (kept off the ledger, encrypted)")
        consent = cast.contract(f"hospital:{cast.patient}", "consent")
        consent.submit_transaction("register_patient")
        report = f"Lab report for {cast.patient}: HbA1c 6.1%".encode()
        with connect_local_records(directory, f"hospital:{cast.patient}") as store:
            stored = store.put("lab-1", report)
        consent.submit_transaction("register_record", "lab-1", "lab", "N",
                                   transient={"location": f"recordstore://hospital/{patient_id}/lab-1",
                                              "content_hash": stored.content_hash})
        _say("record stored, hash on the ledger", stored.content_hash[:16] + "...")
        # given at yesterday's visit: the claim for it needs the doctor's treatment relationship then
        consent.submit_transaction("grant_consent", f"c-{run}", doctor_id, "access", "TREAT", "lab",
                                   str(yesterday))
        _say("consent granted", f"{doctor_id}: access, TREAT, lab, from the visit of {yesterday}")

        teller.chapter("3. The doctor reads the record: the read is a transaction, audited first")
        doctor = cast.contract(f"hospital:{cast.doctor}", "consent")
        access = doctor.submit_async("access_record", patient_id, "lab-1", "TREAT")
        access.get_status()
        _say("access_record", json.loads(access.result)["reason"])
        with connect_local_records(directory, f"hospital:{cast.doctor}") as store:
            fetched = store.get("lab-1", access.tx_id, patient=patient_id)
        _say("record fetched with the access tx id", fetched.content.decode())

        teller.chapter("4. Emergency: another licensed doctor breaks the glass")
        er = cast.contract(f"hospital:{cast.er_doctor}", "consent")
        refused = _json(er.submit_transaction, "access_record", patient_id, "lab-1", "TREAT")
        _say("without consent", refused["reason"])
        glass = _json(er.submit_transaction, "break_glass", patient_id,
                      transient={"reason": b"unconscious patient in the ER"})
        reference = short_reference("BG", glass["id"])
        _say("break-glass opened", f"{reference}, open until {_moment(glass['period']['end'])}, "
             "reviewed afterwards")
        emergency = _json(er.submit_transaction, "access_record", patient_id, "lab-1", "ETREAT")
        _say("emergency access", emergency["reason"].replace(glass["id"], reference))

        teller.chapter("5. Yesterday's visit is claimed today, adjudicated and paid; a duplicate is denied")
        insurer = cast.contract("insurer:ivan", "claims")
        terms = {"plan": "gold", "start": str(today - timedelta(days=30)),
                 "end": str(today + timedelta(days=335)), "currency": "USD", "deductible": 5000,
                 "coinsurance": 20, "annual_limit": 500000,
                 "services": {"99213": {"fee": 15000, "max_quantity": 1}}, "prior_authorization": []}
        insurer.submit_transaction("register_coverage", f"cov-{run}", patient_id, json.dumps(terms))
        claims = cast.contract(f"hospital:{cast.doctor}", "claims")
        salt = secrets.token_bytes(16)  # the diagnosis goes as transient data; the ledger keeps a salted hash

        def claim(claim_id: str, served: date) -> dict[str, Any]:
            body = {"coverage": f"cov-{run}", "items": [
                {"service": "99213", "date": str(served), "quantity": 1, "unit_price": 15000}]}
            return _json(claims.submit_transaction, "submit_claim", claim_id, json.dumps(body),
                         transient={"diagnosis": b"E11.9", "salt": salt})

        def summary(c: dict[str, Any]) -> tuple[str, ...]:
            """The outcome and benefit, then one line per reason: its X12 CARC code and meaning."""
            meanings = _carc_meanings(_json(claims.evaluate_transaction, "claim_response_fhir", c["id"]))
            currency = c.get("currency", terms["currency"])
            reasons = [f"CARC {r['code']} {meanings.get(r['code'], '')} ({r['text']})".replace("  ", " ")
                       for line in c["items"] for r in line["reasons"]]
            return (f"{c['outcome']}, benefit {money(c['total']['benefit'], currency)}", *reasons)

        first = claim(f"cl-{run}-1", yesterday)
        _say(f"claim 1 (visit of {yesterday})", *summary(first))
        paid = _json(insurer.submit_transaction, "mark_paid", f"cl-{run}-1", f"pay-{run}")
        _say("claim 1 paid today", paid["status"])
        duplicate = claim(f"cl-{run}-2", yesterday)
        _say("claim 2 (the same visit again)", *summary(duplicate))

        teller.chapter("6. The board revokes the doctor's licence from today; today's visit is denied")
        effective = f"{today}T00:00:00Z"  # a date of service is a whole day: today's are not covered
        board.submit_transaction("revoke", doctor_id, "board decision 2026-17", effective)
        _say("licence revoked", f"{cast.licences[cast.doctor]}, with effect from {_moment(effective)}; "
             f"claim 1 (visit of {yesterday}) stays paid")
        verdict = _json(board.evaluate_transaction, "verify", doctor_id)
        _say("verify now", f"valid={verdict['valid']}: {verdict.get('reason', '')}")
        late = claim(f"cl-{run}-3", today)
        _say(f"claim 3 (visit of {today})", *summary(late))

        teller.chapter("7. The patient's accounting of disclosures (HIPAA 164.528)")
        since, until = str(yesterday), str(today + timedelta(days=1))
        for entry in sorted(items(consent, "disclosures", since, until), key=lambda d: str(d["date"])):
            basis = entry.get("basis", "").split("/")[0]
            _say(entry.get("date", "")[:19], f"{entry.get('recipient')} read {entry.get('record')} "
                 f"({entry.get('category')}) for {entry.get('purpose')} under {basis}")
    finally:
        cast.close()


def _carc_meanings(response: dict[str, Any]) -> dict[str, str]:
    """CARC code -> its X12 meaning, from a FHIR ClaimResponse's adjudication reasons."""
    meanings = {}
    for item in response.get("item", []):
        for adjudication in item.get("adjudication", []):
            for coding in adjudication.get("reason", {}).get("coding", []):
                meanings[coding.get("code", "")] = coding.get("display", "").rstrip(".")
    return meanings


def next_steps(directory: Path) -> list[str]:
    """What to run after the demo, spelled as this shell can run it (see invocation())."""
    command = invocation()
    where = "" if directory == default_dir() else f" --dir {directory}"
    return [f"{command} network status{where}", f"{command} ledger verify{where}",
            f"{command} network down{where}"]


@click.command()
@dir_option
@json_option
def demo(directory: Path, as_json: bool) -> None:
    """Run the healthcare story against the network in --dir (started if it is not running).

    Prints the story; with --json, one JSON object with every chapter's steps. Starting the
    network shows its progress on stderr.
    """
    if not any(n.serving for n in launcher.status(directory)):
        say = progress(as_json)
        say(f"starting a local network in {directory} ...")
        launcher.up(directory, progress=lambda m: say(f"  {m}"))
    teller = Narrator(as_json)
    story(directory, teller)
    steps = next_steps(directory)
    if as_json:
        click.echo(json.dumps({"directory": str(directory), "chapters": teller.chapters, "next": steps},
                              indent=2))
    else:
        click.echo("\nnext:\n" + "\n".join(f"  {step}" for step in steps))
