"""Claims rules: coverage terms, prior authorisation, and line-by-line adjudication.

Pure functions over records: no stub, no context; time comes in as the transaction's time and
what adjudication must read from the ledger comes in as callables, asked only when a check is
reached so the read set stays as narrow as the checks that ran.

A line is denied for the first of, in the plan's order (`denial`): before coverage (26), after
coverage (27), provider not licensed on the date of service (B7), provider with no treatment
relationship with the patient on the date of service (242), duplicate of a line for the same
patient, provider, service and date at any price or quantity (18), service not covered (204),
prior authorisation missing (197), too many units on the line (151), filed too late (29), the plan's
frequency limit for the service's calendar period reached (119). Otherwise it pays the fee
schedule's allowance (45) less the deductible (1), the copay (3) or coinsurance (2), up to the
annual limit (119).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from careledger.chaincode import ClientIdentity, ContractError
from careledger.chaincode.contracts.claims.records import (
    ADJUSTER,
    FREQUENCY_PERIODS,
    Accumulator,
    Adjustment,
    Amounts,
    Claim,
    ClaimLine,
    Coverage,
    Frequency,
    LineRef,
    Payment,
    PriorAuthorization,
    ServiceLine,
    ServiceRule,
    ServiceUsage,
    Voiding,
)
from careledger.chaincode.contracts.common import (
    JsonObject,
    Licence,
    Period,
    Relationship,
    iso,
    parse_time,
    require_digest,
    require_id,
    require_salt,
    sha256_hex,
)

DEFAULT_FILING_LIMIT_DAYS = 365
MAX_ITEMS = 50
_SERVICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,15}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")

# --- checked inputs --------------------------------------------------------------------------


def count(value: Any, what: str, minimum: int = 0) -> int:
    """`value` if it is an integer (not a bool) of at least `minimum`."""
    if type(value) is not int or value < minimum:
        raise ContractError(f"{what} must be an integer of at least {minimum}")
    return value


def service_code(value: Any, what: str) -> str:
    """`value` if it is a service code like 99213."""
    if not isinstance(value, str) or not _SERVICE.match(value):
        raise ContractError(f"{what} {value!r} is not a service code like 99213")
    return value


def json_object(value: Any, what: str) -> JsonObject:
    """`value` if it is a JSON object."""
    if not isinstance(value, dict):
        raise ContractError(f"{what} must be a JSON object")
    return value


def _currency(value: Any) -> str:
    if not isinstance(value, str) or not _CURRENCY.match(value):
        raise ContractError(f"currency {value!r} is not an ISO 4217 code like USD")
    return value


def _day(value: Any, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ContractError(f"{what} {value!r} is not an ISO 8601 date (YYYY-MM-DD)") from None


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


# --- coverage and prior authorisation ----------------------------------------------------------


def coverage(
    coverage_id: str, beneficiary: str, payor: str, by: str, now: datetime, terms: JsonObject
) -> Coverage:
    """A coverage from JSON terms: plan, start, end, currency, deductible, copay (cents) or
    coinsurance (percent), annual_limit, services {code: {fee, max_quantity, frequency}},
    prior_authorization [codes] and optionally filing_limit_days; every amount an integer. A
    service's optional frequency {count, per} allows at most `count` units per calendar `per`
    (month, quarter or year)."""
    if ("copay" in terms) == ("coinsurance" in terms):
        raise ContractError("terms must set exactly one of copay (cents) or coinsurance (percent)")
    start, end = parse_time(str(terms.get("start")), "start"), parse_time(str(terms.get("end")), "end")
    if end <= start:
        raise ContractError(f"coverage end {terms['end']} is not after start {terms['start']}")
    services = json_object(terms.get("services"), "terms services")
    if not services:
        raise ContractError("terms services must list at least one covered service")
    prior = terms.get("prior_authorization", [])
    if not isinstance(prior, list) or not set(prior) <= set(services):
        raise ContractError("terms prior_authorization must list covered service codes")
    copay = count(terms["copay"], "copay") if "copay" in terms else None
    coinsurance = count(terms["coinsurance"], "coinsurance") if copay is None else None
    if coinsurance is not None and coinsurance > 100:
        raise ContractError("coinsurance must be a percentage from 0 to 100")
    return Coverage(
        id=coverage_id,
        status="active",
        beneficiary=beneficiary,
        payor=payor,
        registered=iso(now),
        by=by,
        plan=require_id(str(terms.get("plan")), "plan"),
        period=Period(iso(start), iso(end)),
        currency=_currency(terms.get("currency", "USD")),
        deductible=count(terms.get("deductible"), "deductible"),
        annual_limit=count(terms.get("annual_limit"), "annual_limit"),
        filing_limit_days=count(
            terms.get("filing_limit_days", DEFAULT_FILING_LIMIT_DAYS), "filing_limit_days", 1
        ),
        services={service_code(code, "service"): service_rule(code, rule) for code, rule in services.items()},
        prior_authorization=tuple(sorted(prior)),
        copay=copay,
        coinsurance=coinsurance,
    )


def service_rule(code: str, raw: Any) -> ServiceRule:
    """A service's terms: {fee, max_quantity} and optionally frequency {count, per}."""
    rule = json_object(raw, f"service {code}")
    frequency = None
    if "frequency" in rule:
        limit = json_object(rule["frequency"], f"service {code} frequency")
        per = limit.get("per")
        if per not in FREQUENCY_PERIODS:
            raise ContractError(f"service {code} frequency per must be one of {', '.join(FREQUENCY_PERIODS)}")
        frequency = Frequency(count(limit.get("count"), f"service {code} frequency count", 1), per)
    return ServiceRule(
        fee=count(rule.get("fee"), f"service {code} fee"),
        max_quantity=count(rule.get("max_quantity"), f"service {code} max_quantity", 1),
        frequency=frequency,
    )


def require_needs_authorization(coverage: Coverage, service: str) -> None:
    """Refuse to authorise a service the coverage does not ask authorisation for."""
    if service not in coverage.prior_authorization:
        raise ContractError(f"service {service} needs no prior authorisation under coverage {coverage.id}")


def prior_authorization(
    auth_id: str, coverage: Coverage, service: str, start: str, end: str, by: str, now: datetime
) -> PriorAuthorization:
    """An active authorisation of `service` for dates of service in [start, end)."""
    begins, ends = _midnight(_day(start, "start")), _midnight(_day(end, "end"))
    if ends <= begins:
        raise ContractError(f"end {end} is not after start {start}")
    return PriorAuthorization(
        auth_id, coverage.id, service, "active", Period(iso(begins), iso(ends)), iso(now), by
    )


# --- claims ------------------------------------------------------------------------------------


def require_patient(request: JsonObject, coverage: Coverage) -> str:
    """The claim's patient: the coverage's beneficiary, which a claim that names its patient must match."""
    named = request.get("patient", coverage.beneficiary)
    if named != coverage.beneficiary:
        raise ContractError(f"claim patient {named!r} is not the beneficiary of coverage {coverage.id}")
    return coverage.beneficiary


def claim_items(request: JsonObject) -> list[Any]:
    """The claim's raw item list, if it has 1 to MAX_ITEMS of them."""
    items = request.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise ContractError(f"claim items must be a list of 1 to {MAX_ITEMS} lines")
    return items


def service_line(sequence: int, raw: Any, today: date) -> ServiceLine:
    """Item `sequence` of a claim, checked; no date of service after `today`."""
    item = json_object(raw, f"item {sequence}")
    served = _day(item.get("date"), f"item {sequence} date")
    if served > today:
        raise ContractError(f"item {sequence} date {served} is after the submission")
    return ServiceLine(
        sequence=sequence,
        service=service_code(item.get("service"), f"item {sequence} service"),
        date=served.isoformat(),
        quantity=count(item.get("quantity"), f"item {sequence} quantity", 1),
        unit_price=count(item.get("unit_price"), f"item {sequence} unit_price"),
    )


def diagnosis_hash(request: JsonObject, transient: Mapping[str, bytes]) -> str:
    """The claim's salted diagnosis hash: given in the claim, or made from the transient codes and
    salt so that the codes themselves never reach the ledger."""
    if "diagnosis_hash" in request:
        return require_digest(str(request["diagnosis_hash"]), "diagnosis_hash")
    codes, salt = transient.get("diagnosis"), transient.get("salt")
    if not codes or not salt:
        raise ContractError("a claim needs diagnosis_hash, or the transient fields diagnosis and salt")
    return sha256_hex(require_salt(salt), codes)


def fingerprint(patient: str, provider: str, item: ServiceLine) -> str:
    """What makes two claim lines duplicates: same patient, provider, service and date of service,
    whatever the price or quantity (a second bill for the same visit is a duplicate, not a new one)."""
    return sha256_hex(patient, provider, item.service, item.date)


def legacy_fingerprint(patient: str, provider: str, item: ServiceLine) -> str:
    """The fingerprint ledgers written before kept under "claim-line": it also covered quantity and
    price. Only voiding a line adjudicated then still needs it."""
    fields = (item.service, item.date, str(item.quantity), str(item.unit_price))
    return sha256_hex(patient, provider, *fields)


def denial(
    coverage: Coverage,
    item: ServiceLine,
    today: date,
    *,
    licence: Callable[[], Licence],
    relationship: Callable[[], Relationship],
    first_of_its_kind: Callable[[], LineRef | None],
    authorizations: Callable[[], Iterable[PriorAuthorization]],
    used: Callable[[], ServiceUsage],
) -> Adjustment | None:
    """The first reason, in the plan's order of checks, to pay nothing for the line.

    `licence` verifies the provider on the date of service; `relationship` asks whether the
    provider had a treatment relationship with the patient then; `first_of_its_kind` registers the
    line's fingerprint unless an earlier line holds it, and returns that earlier line;
    `authorizations` lists the coverage's authorisations of the line's service; `used` is what the
    coverage has had paid of a frequency-limited service in the line's calendar period.
    """
    served = _midnight(date.fromisoformat(item.date))
    if served < parse_time(coverage.period.start, "start"):
        return _denied("26", f"coverage {coverage.id} starts {coverage.period.start}")
    if coverage.period.end is not None and served >= parse_time(coverage.period.end, "end"):
        return _denied("27", f"coverage {coverage.id} ended {coverage.period.end}")
    verdict = licence()
    if not verdict.valid:
        return _denied("B7", verdict.reason)
    related = relationship()
    if not related.related:
        return _denied("242", related.reason)
    earlier = first_of_its_kind()
    if earlier is not None:
        return _denied("18", f"exact duplicate of claim {earlier.claim} item {earlier.sequence}")
    plan = coverage.services.get(item.service)
    if plan is None:
        return _denied("204", f"service {item.service} is not covered by plan {coverage.plan}")
    if item.service in coverage.prior_authorization and not any(
        auth.status == "active" and auth.period.contains(served) for auth in authorizations()
    ):
        return _denied("197", f"service {item.service} needs prior authorisation")
    if item.quantity > plan.max_quantity:
        return _denied("151", f"quantity {item.quantity} is over the plan's limit of {plan.max_quantity}")
    late = (today - served.date()).days
    if late > coverage.filing_limit_days:
        return _denied("29", f"filed {late} days after service; the limit is {coverage.filing_limit_days}")
    if plan.frequency is not None:
        usage = used()
        if usage.units + item.quantity > plan.frequency.count:
            return _denied(
                "119",
                f"plan {coverage.plan} allows {plan.frequency.count} of service {item.service} per "
                f"calendar {plan.frequency.per}; {usage.units} already paid in {usage.period}",
            )
    return None


def usage_period(coverage: Coverage, item: ServiceLine) -> str | None:
    """The calendar period a line counts against, if its service has a frequency limit."""
    rule = coverage.services.get(item.service)
    return None if rule is None or rule.frequency is None else rule.frequency.period_of(item.date)


def counted(used: ServiceUsage, line: ClaimLine) -> ServiceUsage:
    """The usage after a line that was not denied takes its units."""
    return used if line.decision == "denied" else replace(used, units=used.units + line.item.quantity)


def uncounted(used: ServiceUsage, line: ClaimLine) -> ServiceUsage:
    """The usage after a voided line that had been counted gives its units back."""
    return used if line.decision == "denied" else replace(used, units=used.units - line.item.quantity)


def denied_line(item: ServiceLine, reason: Adjustment) -> ClaimLine:
    """A line that pays nothing, for `reason`."""
    return ClaimLine(item, "denied", Amounts(submitted=item.submitted), (reason,))


def paid_line(coverage: Coverage, item: ServiceLine, used: Accumulator) -> tuple[ClaimLine, Accumulator]:
    """A covered line adjudicated against what the coverage has used this year, and the new usage:
    fee schedule, then deductible, then copay or coinsurance, then the annual limit."""
    fee = coverage.services[item.service].fee
    eligible = item.quantity * min(item.unit_price, fee)
    reasons = []
    if eligible < item.submitted:
        reasons.append(Adjustment("eligible", "45", f"fee schedule allows {fee} per unit"))
    deductible = min(coverage.deductible - used.deductible, eligible)
    if deductible:
        reasons.append(Adjustment("deductible", "1", f"deductible for {used.year}"))
    remaining = eligible - deductible
    if coverage.copay is not None:
        copay = min(coverage.copay, remaining)
        share = Adjustment("copay", "3", "co-payment")
    else:
        copay = (remaining * (coverage.coinsurance or 0) + 50) // 100
        share = Adjustment("copay", "2", f"coinsurance {coverage.coinsurance}%")
    if copay:
        reasons.append(share)
    owed = remaining - copay
    benefit = min(owed, coverage.annual_limit - used.benefit)
    decision = "approved"
    if benefit < owed:
        reasons.append(Adjustment("benefit", "119", f"annual limit for {used.year} reached"))
        decision = "reduced" if benefit else "denied"
    amounts = Amounts(item.submitted, eligible, deductible, copay, benefit)
    used = replace(used, deductible=used.deductible + deductible, benefit=used.benefit + benefit)
    return ClaimLine(item, decision, amounts, tuple(reasons)), used


def outcome(lines: Iterable[ClaimLine]) -> str:
    """A claim's outcome: approved or denied if every line is, else partial."""
    decisions = {line.decision for line in lines}
    return {frozenset({"denied"}): "denied", frozenset({"approved"}): "approved"}.get(
        frozenset(decisions), "partial"
    )


def paid(claim: Claim, reference: str, by: str, now: datetime) -> Claim:
    """An approved or partial claim marked paid its total benefit."""
    if claim.status not in ("approved", "partial"):
        raise ContractError(f"claim {claim.id} is {claim.status}; only approved or partial claims are paid")
    payment = Payment(iso(now), claim.total.benefit, require_id(reference, "payment_ref"), by)
    return replace(claim, status="paid", payment=payment)


def check_void(claim: Claim, who: str, reason: str) -> None:
    """Refuse to void unless by the claim's provider, while unpaid, with a reason."""
    if claim.provider != who:
        raise ContractError(f"{who} may not void claim {claim.id}: only its provider may")
    if claim.status in ("paid", "voided"):
        raise ContractError(f"claim {claim.id} is {claim.status} and can no longer be voided")
    if not reason.strip():
        raise ContractError("a reason is required")


def given_back(used: Accumulator, line: ClaimLine) -> Accumulator:
    """The usage after a voided line gives back its deductible and benefit."""
    return replace(
        used,
        deductible=used.deductible - line.amounts.deductible,
        benefit=used.benefit - line.amounts.benefit,
    )


def voided(claim: Claim, reason: str, by: str, now: datetime) -> Claim:
    """The claim withdrawn."""
    return replace(claim, status="voided", voided=Voiding(iso(now), reason, by))


def require_may_see(who: ClientIdentity, what: str, patient: str, provider: str | None, insurer: str) -> None:
    """Refuse unless the caller is the patient, the provider or an adjuster of the insurer concerned."""
    adjuster = who.get_attribute("role") == ADJUSTER and who.org == insurer
    if who.id not in (patient, provider) and not adjuster:
        raise ContractError(f"{who.id} may not see {what}: it is neither its patient, provider nor insurer")


def _denied(code: str, text: str) -> Adjustment:
    return Adjustment("benefit", code, text)
