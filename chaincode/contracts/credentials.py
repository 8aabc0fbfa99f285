"""Practitioner licences: the medical board issues them and every contract can verify them.

A credential keeps every status change with its effective time and every validity period, so
`verify` answers for past dates of service as well as for now: a suspension recorded today with
effect from last month makes last month's services unlicensed, and a gap between an expiry and a
late renewal stays a gap.
"""

from __future__ import annotations

import re
from datetime import datetime

from careledger.chaincode import Context, Contract, ContractError, evaluate, submit
from careledger.chaincode.contracts.common import (
    Record,
    changed,
    concept,
    find,
    in_period,
    iso,
    key,
    load,
    parse_time,
    period,
    reference,
    require_id,
    require_identity_id,
    require_role,
    scan,
    split_codes,
    store,
    tx_time,
)

BOARD_ORG = "board"
REGISTRAR = "registrar"

V2_0360 = "http://terminology.hl7.org/CodeSystem/v2-0360"
QUALIFICATIONS = {
    "MD": "Doctor of Medicine",
    "DO": "Doctor of Osteopathy",
    "DDS": "Doctor of Dental Surgery",
    "PharmD": "Doctor of Pharmacy",
    "PA": "Physician Assistant",
    "NP": "Nurse Practitioner",
    "CNM": "Certified Nurse Midwife",
    "RN": "Registered Nurse",
    "LPN": "Licensed Practical Nurse",
}
_JURISDICTION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")  # ISO 3166-1 or 3166-2

# Status changes and the status each leaves; issue and renew leave it as it was.
_STATUS_AFTER = {"suspended": "suspended", "reinstated": "active", "revoked": "revoked"}
STATUS_LIST = "urn:careledger:credentials:status"
STATUS_PURPOSES = {"revocation": "revoked", "suspension": "suspended"}


def _credential_key(ctx: Context, practitioner: str) -> str:
    return key(ctx, "credential", require_identity_id(practitioner, "practitioner"))


def _reason(reason: str) -> str:
    if not reason.strip():
        raise ContractError("a reason is required")
    return reason


def _status_changes(credential: Record) -> list[Record]:
    """Suspensions, reinstatements and revocations, in effective order (enforced when recorded)."""
    return [change for change in credential["changes"] if change["action"] in _STATUS_AFTER]


def _status_at(credential: Record, moment: datetime) -> tuple[str, str | None]:
    """The status in force at `moment` and since when."""
    status, since = "active", None
    for change in _status_changes(credential):
        if parse_time(change["effective"], "effective") <= moment:
            status, since = _STATUS_AFTER[change["action"]], change["effective"]
    return status, since


def _verdict(credential: Record | None, practitioner: str, moment: datetime) -> Record:
    """Whether the practitioner was licensed at `moment`, and if not, why not."""
    if credential is None:
        status, reason = "unknown", f"no licence has been issued to {practitioner}"
    else:
        licence = f"licence {credential['license']}"
        held, since = _status_at(credential, moment)
        periods = credential["periods"]
        if held != "active":
            status, reason = held, f"{licence} is {held} with effect from {since}"
        elif any(in_period(moment, p["start"], p["end"]) for p in periods):
            status, reason = "valid", f"{licence} is valid"
        elif moment < parse_time(periods[0]["start"], "start"):
            status, reason = "not-yet-valid", f"{licence} is valid from {periods[0]['start']}"
        else:
            status, reason = "expired", f"{licence} expired; no validity period covers that time"
    return {
        "practitioner": practitioner,
        "at": iso(moment),
        "valid": status == "valid",
        "status": status,
        "reason": reason,
    }


class CredentialsContract(Contract):
    """Issue, suspend, reinstate, revoke, renew and verify practitioner licences."""

    name = "credentials"

    @submit
    def issue(
        self,
        ctx: Context,
        practitioner: str,
        license_number: str,
        qualification: str,
        jurisdiction: str,
        specialties: str,
        valid_from: str,
        valid_until: str,
    ) -> Record:
        """Record a licence for `practitioner` (org/name); only a board registrar may."""
        who = require_role(ctx, REGISTRAR, org=BOARD_ORG)
        state_key = _credential_key(ctx, practitioner)
        if ctx.stub.get_state(state_key) is not None:
            raise ContractError(f"{practitioner} already holds a licence; renew it instead")
        if qualification not in QUALIFICATIONS:
            raise ContractError(
                f"qualification {qualification!r} is not a v2-0360 degree/licence code; "
                f"use {', '.join(QUALIFICATIONS)}"
            )
        if not _JURISDICTION.match(jurisdiction):
            raise ContractError(f"jurisdiction {jurisdiction!r} is not an ISO 3166 code like US-CA")
        start, end = parse_time(valid_from, "valid_from"), parse_time(valid_until, "valid_until")
        if end <= start:
            raise ContractError(f"valid_until {valid_until} is not after valid_from {valid_from}")
        counter_key = key(ctx, "status-list")
        counter = find(ctx, counter_key) or {"next": 0}
        store(ctx, counter_key, {"next": counter["next"] + 1})
        credential = {
            "practitioner": practitioner,
            "license": require_id(license_number, "license_number"),
            "qualification": qualification,
            "jurisdiction": jurisdiction,
            "specialties": split_codes(specialties, "specialties") if specialties.strip() else [],
            "status": "active",
            "periods": [period(iso(start), iso(end))],
            "status_list_index": counter["next"],
            "changes": [self._change(ctx, "issued", tx_time(ctx), "licence issued", who.id)],
        }
        return changed(ctx, state_key, credential, "CredentialIssued")

    @submit
    def suspend(self, ctx: Context, practitioner: str, reason: str, effective: str = "") -> Record:
        """Suspend an active licence, now or with effect from an earlier time; reversible."""
        return self._change_status(ctx, practitioner, "suspended", reason, effective)

    @submit
    def reinstate(self, ctx: Context, practitioner: str, reason: str) -> Record:
        """Lift a suspension from now on."""
        return self._change_status(ctx, practitioner, "reinstated", reason, "")

    @submit
    def revoke(self, ctx: Context, practitioner: str, reason: str, effective: str = "") -> Record:
        """Revoke a licence for good, now or with effect from an earlier time."""
        return self._change_status(ctx, practitioner, "revoked", reason, effective)

    @submit
    def renew(self, ctx: Context, practitioner: str, valid_until: str, reason: str) -> Record:
        """Extend a licence to `valid_until`; after a lapse the new period starts now, not earlier."""
        who = require_role(ctx, REGISTRAR, org=BOARD_ORG)
        state_key = _credential_key(ctx, practitioner)
        credential = self._load(ctx, state_key, practitioner)
        if credential["status"] == "revoked":
            raise ContractError(f"licence {credential['license']} is revoked; revocation is permanent")
        now, end = tx_time(ctx), parse_time(valid_until, "valid_until")
        last_end = parse_time(credential["periods"][-1]["end"], "end")
        if end <= max(now, last_end):
            raise ContractError(
                f"valid_until {valid_until} does not extend the licence beyond {iso(max(now, last_end))}"
            )
        credential["periods"].append(period(iso(max(now, last_end)), iso(end)))
        credential["changes"].append(self._change(ctx, "renewed", now, _reason(reason), who.id))
        return changed(ctx, state_key, credential, "CredentialRenewed")

    @evaluate
    def get_credential(self, ctx: Context, practitioner: str) -> Record:
        """The licence with its periods and every status change: a public register."""
        return self._load(ctx, _credential_key(ctx, practitioner), practitioner)

    @evaluate
    def verify(self, ctx: Context, practitioner: str, at: str = "") -> Record:
        """Whether the practitioner is licensed at `at` (ISO 8601; empty = the transaction time)."""
        moment = parse_time(at, "at") if at else tx_time(ctx)
        return _verdict(find(ctx, _credential_key(ctx, practitioner)), practitioner, moment)

    @evaluate
    def qualification_fhir(self, ctx: Context, practitioner: str) -> Record:
        """The licence as a FHIR R4 Practitioner with one qualification."""
        credential = self._load(ctx, _credential_key(ctx, practitioner), practitioner)
        code = credential["qualification"]
        return {
            "resourceType": "Practitioner",
            "identifier": [{"system": "urn:careledger:id", "value": practitioner}],
            "active": _verdict(credential, practitioner, tx_time(ctx))["valid"],
            "qualification": [
                {
                    "identifier": [
                        {
                            "system": f"urn:careledger:license:{credential['jurisdiction']}",
                            "value": credential["license"],
                        }
                    ],
                    "code": concept(V2_0360, code, QUALIFICATIONS[code])
                    | {"text": ", ".join(credential["specialties"]) or QUALIFICATIONS[code]},
                    "period": period(credential["periods"][0]["start"], credential["periods"][-1]["end"]),
                    "issuer": reference("Organization", BOARD_ORG),
                }
            ],
        }

    @evaluate
    def verification_result_fhir(self, ctx: Context, practitioner: str, at: str = "") -> Record:
        """The answer of `verify` as a FHIR R4 VerificationResult with the board as primary source."""
        verdict = self.verify(ctx, practitioner, at)
        outcome = "successful" if verdict["valid"] else "failed"
        return {
            "resourceType": "VerificationResult",
            "target": [reference("Practitioner", practitioner)],
            "targetLocation": ["Practitioner.qualification"],
            "need": concept("http://terminology.hl7.org/CodeSystem/need", "periodic"),
            "status": "validated" if verdict["valid"] else "val-fail",
            "statusDate": verdict["at"],
            "validationType": concept("http://terminology.hl7.org/CodeSystem/validation-type", "primary"),
            "validationProcess": [
                concept("http://terminology.hl7.org/CodeSystem/validation-process", "primary")
            ],
            "primarySource": [
                {
                    "who": reference("Organization", BOARD_ORG),
                    "type": [
                        concept("http://terminology.hl7.org/CodeSystem/primary-source-type", "lic-board")
                    ],
                    "validationStatus": concept(
                        "http://terminology.hl7.org/CodeSystem/validation-status", outcome
                    )
                    | {"text": verdict["reason"]},
                    "validationDate": verdict["at"],
                }
            ],
        }

    @evaluate
    def credential_document(self, ctx: Context, practitioner: str) -> Record:
        """The unsigned W3C VC 2.0 content of the licence, with its status list entries.

        The lead signs it off-chain; a verifier checks the status lists published from status_list.
        """
        credential = self._load(ctx, _credential_key(ctx, practitioner), practitioner)
        index = str(credential["status_list_index"])
        return {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiableCredential", "PractitionerLicenseCredential"],
            "issuer": f"urn:careledger:org:{BOARD_ORG}",
            "validFrom": credential["periods"][0]["start"],
            "validUntil": credential["periods"][-1]["end"],
            "credentialSubject": {
                "id": f"urn:careledger:practitioner:{practitioner}",
                "license": credential["license"],
                "qualification": credential["qualification"],
                "jurisdiction": credential["jurisdiction"],
                "specialties": credential["specialties"],
            },
            "credentialStatus": [
                {
                    "id": f"{STATUS_LIST}/{purpose}#{index}",
                    "type": "BitstringStatusListEntry",
                    "statusPurpose": purpose,
                    "statusListIndex": index,
                    "statusListCredential": f"{STATUS_LIST}/{purpose}",
                }
                for purpose in STATUS_PURPOSES
            ],
        }

    @evaluate
    def status_list(self, ctx: Context, purpose: str) -> Record:
        """The status list indices set for `purpose` (revocation or suspension) as of now."""
        if purpose not in STATUS_PURPOSES:
            raise ContractError(f"status purpose {purpose!r} is not one of {', '.join(STATUS_PURPOSES)}")
        return {
            "statusListCredential": f"{STATUS_LIST}/{purpose}",
            "statusPurpose": purpose,
            "indices": sorted(
                c["status_list_index"]
                for c in scan(ctx, "credential")
                if c["status"] == STATUS_PURPOSES[purpose]
            ),
        }

    def _change_status(
        self, ctx: Context, practitioner: str, action: str, reason: str, effective: str
    ) -> Record:
        who = require_role(ctx, REGISTRAR, org=BOARD_ORG)
        state_key = _credential_key(ctx, practitioner)
        credential = self._load(ctx, state_key, practitioner)
        allowed_from = {"suspended": "active", "reinstated": "suspended", "revoked": None}[action]
        if credential["status"] == "revoked":
            raise ContractError(f"licence {credential['license']} is revoked; revocation is permanent")
        if allowed_from is not None and credential["status"] != allowed_from:
            raise ContractError(
                f"licence {credential['license']} is {credential['status']}, not {allowed_from}"
            )
        now = tx_time(ctx)
        moment = parse_time(effective, "effective") if effective else now
        if moment > now:
            raise ContractError(f"effective time {iso(moment)} is in the future")
        last = next((c["effective"] for c in reversed(_status_changes(credential))), None)
        if last is not None and moment < parse_time(last, "effective"):
            raise ContractError(
                f"effective time {iso(moment)} is before the licence's last status change at {last}"
            )
        credential["status"] = _STATUS_AFTER[action]
        credential["changes"].append(self._change(ctx, action, moment, _reason(reason), who.id))
        return changed(ctx, state_key, credential, f"Credential{action.capitalize()}")

    @staticmethod
    def _change(ctx: Context, action: str, effective: datetime, reason: str, by: str) -> Record:
        return {
            "action": action,
            "effective": iso(effective),
            "recorded": iso(tx_time(ctx)),
            "reason": reason,
            "by": by,
            "tx_id": ctx.stub.tx_id,
        }

    @staticmethod
    def _load(ctx: Context, state_key: str, practitioner: str) -> Record:
        return load(ctx, state_key, f"no licence has been issued to {practitioner}")
