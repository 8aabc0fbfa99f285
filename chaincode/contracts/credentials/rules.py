"""The licence rules: what may be issued, which status changes are allowed, and what `verify` answers.

Pure functions over records: no stub, no context. Time comes in as the transaction's time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from careledger.chaincode import ContractError
from careledger.chaincode.contracts.common import Period, iso, parse_time, require_id, split_codes
from careledger.chaincode.contracts.credentials.records import (
    QUALIFICATIONS,
    STATUS_AFTER,
    STATUS_PURPOSES,
    Change,
    Credential,
    Verdict,
)

_JURISDICTION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")  # ISO 3166-1 or 3166-2
# The status a licence must have for each status change; None: any but revoked.
_ALLOWED_FROM = {"suspended": "active", "reinstated": "suspended", "revoked": None}


def issue(
    practitioner: str,
    license_number: str,
    qualification: str,
    jurisdiction: str,
    specialties: str,
    valid_from: str,
    valid_until: str,
    *,
    index: int,
    now: datetime,
    by: str,
    tx_id: str,
) -> Credential:
    """A new active licence with one validity period, at status list `index`."""
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
    return Credential(
        practitioner=practitioner,
        license=require_id(license_number, "license_number"),
        qualification=qualification,
        jurisdiction=jurisdiction,
        specialties=tuple(split_codes(specialties, "specialties")) if specialties.strip() else (),
        status="active",
        periods=(Period(iso(start), iso(end)),),
        status_list_index=index,
        changes=(Change("issued", iso(now), iso(now), "licence issued", by, tx_id),),
    )


def change_status(
    credential: Credential, action: str, reason: str, effective: str, *, now: datetime, by: str, tx_id: str
) -> Credential:
    """The licence after `action` (suspended, reinstated or revoked) with effect from `effective`
    (empty: now); an effective time may reach back, but not into the future nor before the last
    status change, so status changes stay in effective order."""
    allowed_from = _ALLOWED_FROM[action]
    _refuse_if_revoked(credential)
    if allowed_from is not None and credential.status != allowed_from:
        raise ContractError(f"licence {credential.license} is {credential.status}, not {allowed_from}")
    moment = parse_time(effective, "effective") if effective else now
    if moment > now:
        raise ContractError(f"effective time {iso(moment)} is in the future")
    last = next((c.effective for c in reversed(credential.changes) if c.is_status_change), None)
    if last is not None and moment < parse_time(last, "effective"):
        raise ContractError(
            f"effective time {iso(moment)} is before the licence's last status change at {last}"
        )
    change = Change(action, iso(moment), iso(now), _reason(reason), by, tx_id)
    return replace(credential, status=STATUS_AFTER[action], changes=(*credential.changes, change))


def renew(
    credential: Credential, valid_until: str, reason: str, *, now: datetime, by: str, tx_id: str
) -> Credential:
    """The licence extended to `valid_until`; after a lapse the new period starts now, not earlier."""
    _refuse_if_revoked(credential)
    end = parse_time(valid_until, "valid_until")
    lapse = credential.periods[-1].end
    begins = now if lapse is None else max(now, parse_time(lapse, "end"))
    if end <= begins:
        raise ContractError(f"valid_until {valid_until} does not extend the licence beyond {iso(begins)}")
    change = Change("renewed", iso(now), iso(now), _reason(reason), by, tx_id)
    return replace(
        credential,
        periods=(*credential.periods, Period(iso(begins), iso(end))),
        changes=(*credential.changes, change),
    )


def status_at(credential: Credential, moment: datetime) -> tuple[str, str | None]:
    """The status in force at `moment` and since when (None: since issue)."""
    status, since = "active", None
    for change in credential.changes:
        if change.is_status_change and parse_time(change.effective, "effective") <= moment:
            status, since = STATUS_AFTER[change.action], change.effective
    return status, since


def verdict(credential: Credential | None, practitioner: str, moment: datetime) -> Verdict:
    """Whether the practitioner was licensed at `moment`, and if not, why not."""
    if credential is None:
        status, reason = "unknown", f"no licence has been issued to {practitioner}"
    else:
        licence = f"licence {credential.license}"
        held, since = status_at(credential, moment)
        first = credential.periods[0]
        if held != "active":
            status, reason = held, f"{licence} is {held} with effect from {since}"
        elif any(p.contains(moment) for p in credential.periods):
            status, reason = "valid", f"{licence} is valid"
        elif moment < parse_time(first.start, "start"):
            status, reason = "not-yet-valid", f"{licence} is valid from {first.start}"
        else:
            status, reason = "expired", f"{licence} expired; no validity period covers that time"
    return Verdict(practitioner, iso(moment), status, reason)


def status_indices(credentials: Iterable[Credential], purpose: str) -> list[int]:
    """The status list indices set for `purpose` (revocation or suspension), in order."""
    if purpose not in STATUS_PURPOSES:
        raise ContractError(f"status purpose {purpose!r} is not one of {', '.join(STATUS_PURPOSES)}")
    return sorted(c.status_list_index for c in credentials if c.status == STATUS_PURPOSES[purpose])


def _refuse_if_revoked(credential: Credential) -> None:
    if credential.status == "revoked":
        raise ContractError(f"licence {credential.license} is revoked; revocation is permanent")


def _reason(reason: str) -> str:
    if not reason.strip():
        raise ContractError("a reason is required")
    return reason
