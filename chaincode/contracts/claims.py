"""Insurance claims: FHIR Coverage, prior authorisation, and claims adjudicated in the contract.

Adjudication runs line by line and records a standard X12 claim adjustment reason code (CARC) for
every denial and every amount the patient bears. Money is integer cents. Each line's exact
duplicate check READS a composite index key of the line's fingerprint before writing it, so two
identical claims ordered into the same block conflict on that key (MVCC) instead of both paying.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from typing import Any

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
    parse_json,
    parse_time,
    period,
    reference,
    require_digest,
    require_id,
    require_identity_id,
    require_role,
    scan,
    sha256_hex,
    store,
    tx_time,
)

INSURER_ORG = "insurer"
ADJUSTER = "claims-adjuster"
PRACTITIONER = "practitioner"
PATIENT = "patient"

CPT = "http://www.ama-assn.org/go/cpt"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
CARC_SYSTEM = "https://x12.org/codes/claim-adjustment-reason-codes"
CARC = {
    "1": "Deductible Amount.",
    "2": "Coinsurance Amount.",
    "3": "Co-payment Amount.",
    "18": "Exact duplicate claim/service.",
    "26": "Expenses incurred prior to coverage.",
    "27": "Expenses incurred after coverage terminated.",
    "29": "The time limit for filing has expired.",
    "45": "Charge exceeds fee schedule/maximum allowable or contracted/legislated fee arrangement.",
    "119": "Benefit maximum for this time period or occurrence has been reached.",
    "151": "Payer deems the information submitted does not support this many/frequency of services.",
    "197": "Precertification/authorization/notification/pre-treatment absent.",
    "204": "This service/equipment/drug is not covered under the patient's current benefit plan.",
    "B7": "This provider was not certified/eligible to be paid for this procedure/service on this date.",
}
AMOUNTS = ("submitted", "eligible", "deductible", "copay", "benefit")
DEFAULT_FILING_LIMIT_DAYS = 365
MAX_ITEMS = 50
_SERVICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,15}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")

Reason = tuple[str, str]
"""A CARC code and the contract's own words for this case."""


def _count(value: Any, what: str, minimum: int = 0) -> int:
    if type(value) is not int or value < minimum:
        raise ContractError(f"{what} must be an integer of at least {minimum}")
    return value


def _service(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _SERVICE.match(value):
        raise ContractError(f"{what} {value!r} is not a service code like 99213")
    return value


def _object(value: Any, what: str) -> dict[str, Any]:
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


def _money(cents: int, currency: str) -> Record:
    return {"value": cents / 100, "currency": currency}


def _fingerprint(claim: Record, item: Record) -> str:
    """What makes two claim lines exact duplicates: same patient, provider, service, day, quantity, price."""
    fields = (item["service"], item["date"], str(item["quantity"]), str(item["unit_price"]))
    return sha256_hex(claim["patient"], claim["provider"], *fields)


class ClaimsContract(Contract):
    """Coverage and prior authorisation by the insurer; claims by practitioners, adjudicated here."""

    name = "claims"

    # --- coverage ---------------------------------------------------------------------------

    @submit
    def register_coverage(self, ctx: Context, coverage_id: str, patient: str, terms: str) -> Record:
        """Record a patient's coverage from JSON terms: plan, start, end, currency, deductible,
        copay (cents) or coinsurance (percent), annual_limit, services {code: {fee, max_quantity}},
        prior_authorization [codes] and optionally filing_limit_days."""
        who = require_role(ctx, ADJUSTER, org=INSURER_ORG)
        state_key = key(ctx, "coverage", require_id(coverage_id, "coverage_id"))
        if ctx.stub.get_state(state_key) is not None:
            raise ContractError(f"coverage {coverage_id} already exists")
        coverage = {
            "id": coverage_id,
            "status": "active",
            "beneficiary": require_identity_id(patient, "patient"),
            "payor": who.org,
            "registered": iso(tx_time(ctx)),
            "by": who.id,
        } | self._terms(_object(parse_json(terms, "terms"), "terms"))
        store(ctx, key(ctx, "coverage-by-patient", patient, coverage_id), {"coverage": coverage_id})
        return changed(ctx, state_key, coverage, "CoverageRegistered")

    @submit
    def grant_prior_authorization(
        self, ctx: Context, auth_id: str, coverage_id: str, service: str, start: str, end: str
    ) -> Record:
        """Authorise a service that needs it under a coverage for dates of service in [start, end)."""
        who = require_role(ctx, ADJUSTER, org=INSURER_ORG)
        coverage = self._coverage(ctx, coverage_id)
        if service not in coverage["prior_authorization"]:
            raise ContractError(
                f"service {service} needs no prior authorisation under coverage {coverage_id}"
            )
        state_key = key(ctx, "prior-auth", coverage_id, service, require_id(auth_id, "auth_id"))
        if ctx.stub.get_state(state_key) is not None:
            raise ContractError(f"prior authorisation {auth_id} already exists")
        begins, ends = _midnight(_day(start, "start")), _midnight(_day(end, "end"))
        if ends <= begins:
            raise ContractError(f"end {end} is not after start {start}")
        auth = {
            "id": auth_id,
            "coverage": coverage_id,
            "service": service,
            "status": "active",
            "period": period(iso(begins), iso(ends)),
            "granted": iso(tx_time(ctx)),
            "by": who.id,
        }
        return changed(ctx, state_key, auth, "PriorAuthorizationGranted")

    @evaluate
    def get_coverage(self, ctx: Context, coverage_id: str) -> Record:
        """A coverage, for its beneficiary or the insurer's adjusters."""
        coverage = self._coverage(ctx, coverage_id)
        self._may_see(ctx, f"coverage {coverage_id}", coverage["beneficiary"], None, coverage["payor"])
        return coverage

    @evaluate
    def coverage_fhir(self, ctx: Context, coverage_id: str) -> Record:
        """A coverage as a FHIR R4 Coverage with its cost to the beneficiary."""
        c = self.get_coverage(ctx, coverage_id)
        copay_type = "http://terminology.hl7.org/CodeSystem/coverage-copay-type"
        costs = [
            {"type": concept(copay_type, "deductible"), "valueMoney": _money(c["deductible"], c["currency"])}
        ]
        if "copay" in c:
            costs.append(
                {"type": concept(copay_type, "copay"), "valueMoney": _money(c["copay"], c["currency"])}
            )
        else:
            percent = {
                "value": c["coinsurance"],
                "unit": "%",
                "system": "http://unitsofmeasure.org",
                "code": "%",
            }
            costs.append({"type": concept(copay_type, "copaypct"), "valueQuantity": percent})
        return {
            "resourceType": "Coverage",
            "id": c["id"],
            "status": c["status"],
            "beneficiary": reference("Patient", c["beneficiary"]),
            "payor": [reference("Organization", c["payor"])],
            "period": c["period"],
            "class": [
                {
                    "type": concept("http://terminology.hl7.org/CodeSystem/coverage-class", "plan"),
                    "value": c["plan"],
                }
            ],
            "costToBeneficiary": costs,
            "extension": [
                {
                    "url": "urn:careledger:fhir:annual-benefit-limit",
                    "valueMoney": _money(c["annual_limit"], c["currency"]),
                }
            ],
        }

    # --- claims -----------------------------------------------------------------------------

    @submit
    def submit_claim(self, ctx: Context, claim_id: str, claim: str) -> Record:
        """Submit and adjudicate a claim from JSON: coverage, diagnosis_hash (salted SHA-256 made
        off-ledger; or leave it out and send transient `diagnosis` codes and a `salt`) and items
        [{service, date, quantity, unit_price}]; the provider is the caller."""
        return changed(ctx, *self._adjudicate(ctx, claim_id, claim, None), "ClaimAdjudicated")

    @submit
    def correct_claim(self, ctx: Context, claim_id: str, new_claim_id: str, claim: str) -> Record:
        """Void an unpaid claim and adjudicate its corrected replacement in one transaction."""
        self._void(ctx, claim_id, f"corrected by claim {new_claim_id}")
        return changed(ctx, *self._adjudicate(ctx, new_claim_id, claim, claim_id), "ClaimCorrected")

    @submit
    def void_claim(self, ctx: Context, claim_id: str, reason: str) -> Record:
        """Withdraw an unpaid claim: its lines no longer count as duplicates or against limits."""
        return changed(ctx, *self._void(ctx, claim_id, reason), "ClaimVoided")

    @submit
    def mark_paid(self, ctx: Context, claim_id: str, payment_ref: str) -> Record:
        """Record payment of an approved or partial claim; paying a paid claim changes nothing."""
        who = require_role(ctx, ADJUSTER, org=INSURER_ORG)
        state_key = key(ctx, "claim", claim_id)
        claim = self._claim(ctx, claim_id)
        if claim["status"] == "paid":
            return claim
        if claim["status"] not in ("approved", "partial"):
            raise ContractError(
                f"claim {claim_id} is {claim['status']}; only approved or partial claims are paid"
            )
        claim["status"] = "paid"
        claim["payment"] = {
            "date": iso(tx_time(ctx)),
            "amount": claim["total"]["benefit"],
            "reference": require_id(payment_ref, "payment_ref"),
            "by": who.id,
        }
        return changed(ctx, state_key, claim, "ClaimPaid")

    @evaluate
    def get_claim(self, ctx: Context, claim_id: str) -> Record:
        """A claim with its adjudication, for its patient, its provider or the insurer's adjusters."""
        claim = self._claim(ctx, claim_id)
        self._may_see(ctx, f"claim {claim_id}", claim["patient"], claim["provider"], claim["insurer"])
        return claim

    @evaluate
    def my_claims(self, ctx: Context) -> list[Record]:
        """The calling patient's claims, or the calling practitioner's claims, in id order."""
        who = ctx.client_identity
        index = {PATIENT: "claim-by-patient", PRACTITIONER: "claim-by-provider"}.get(
            who.get_attribute("role") or ""
        )
        if index is None:
            raise ContractError(
                f"{who.id} may not call my_claims: it needs attribute role=patient or practitioner"
            )
        return [self._claim(ctx, entry["claim"]) for entry in scan(ctx, index, who.id)]

    @evaluate
    def claim_fhir(self, ctx: Context, claim_id: str) -> Record:
        """A claim as submitted, as a FHIR R4 Claim."""
        c = self.get_claim(ctx, claim_id)
        related = [
            {
                "claim": reference("Claim", c["replaces"]),
                "relationship": concept(
                    "http://terminology.hl7.org/CodeSystem/ex-relatedclaimrelationship", "prior"
                ),
            }
        ]
        return {
            **_fhir_head("Claim", c),
            "provider": reference("Practitioner", c["provider"]),
            "priority": concept("http://terminology.hl7.org/CodeSystem/processpriority", "normal"),
            "related": related if c["replaces"] else [],
            "diagnosis": [
                {
                    "sequence": 1,
                    "diagnosisCodeableConcept": concept("urn:careledger:salted-sha256", c["diagnosis_hash"]),
                }
            ],
            "insurance": [{"sequence": 1, "focal": True, "coverage": reference("Coverage", c["coverage"])}],
            "item": [
                {
                    "sequence": line["sequence"],
                    "productOrService": concept(CPT, line["service"]),
                    "servicedDate": line["date"],
                    "quantity": {"value": line["quantity"]},
                    "unitPrice": _money(line["unit_price"], c["currency"]),
                    "net": _money(line["amounts"]["submitted"], c["currency"]),
                }
                for line in c["items"]
            ],
            "total": _money(c["total"]["submitted"], c["currency"]),
        }

    @evaluate
    def claim_response_fhir(self, ctx: Context, claim_id: str) -> Record:
        """A claim's adjudication as a FHIR R4 ClaimResponse, reasons as X12 CARC codes."""
        c = self.get_claim(ctx, claim_id)
        response = {
            **_fhir_head("ClaimResponse", c),
            "requestor": reference("Practitioner", c["provider"]),
            "request": reference("Claim", c["id"]),
            "outcome": "complete",
            "disposition": c["outcome"],
            "item": [
                {
                    "itemSequence": line["sequence"],
                    "adjudication": self._adjudication_fhir(line, c["currency"]),
                }
                for line in c["items"]
            ],
            "total": [
                {
                    "category": concept(ADJUDICATION, category),
                    "amount": _money(c["total"][category], c["currency"]),
                }
                for category in AMOUNTS
            ],
        }
        if c["payment"] is not None:
            response["payment"] = {
                "type": concept("http://terminology.hl7.org/CodeSystem/ex-paymenttype", "complete"),
                "date": c["payment"]["date"][:10],
                "amount": _money(c["payment"]["amount"], c["currency"]),
                "identifier": {"system": "urn:careledger:payment", "value": c["payment"]["reference"]},
            }
        return response

    # --- adjudication -----------------------------------------------------------------------

    def _adjudicate(self, ctx: Context, claim_id: str, text: str, replaces: str | None) -> tuple[str, Record]:
        """The new claim's state key and record, adjudicated; its indexes and accumulators written."""
        who = require_role(ctx, PRACTITIONER)
        state_key = key(ctx, "claim", require_id(claim_id, "claim_id"))
        if ctx.stub.get_state(state_key) is not None:
            raise ContractError(f"claim {claim_id} already exists")
        request = _object(parse_json(text, "claim"), "claim")
        coverage = self._coverage(ctx, request.get("coverage"))
        items = request.get("items")
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
            raise ContractError(f"claim items must be a list of 1 to {MAX_ITEMS} lines")
        claim = {
            "id": claim_id,
            "patient": coverage["beneficiary"],
            "provider": who.id,
            "coverage": coverage["id"],
            "insurer": coverage["payor"],
            "currency": coverage["currency"],
            "diagnosis_hash": _diagnosis_hash(ctx, request),
            "created": iso(tx_time(ctx)),
            "replaces": replaces,
            "payment": None,
        }
        claim["items"] = [
            self._adjudicate_line(ctx, claim, coverage, self._item(ctx, n, item))
            for n, item in enumerate(items, start=1)
        ]
        claim["total"] = {a: sum(line["amounts"][a] for line in claim["items"]) for a in AMOUNTS}
        decisions = {line["decision"] for line in claim["items"]}
        outcome = {frozenset({"denied"}): "denied", frozenset({"approved"}): "approved"}
        claim["outcome"] = claim["status"] = outcome.get(frozenset(decisions), "partial")
        store(ctx, key(ctx, "claim-by-patient", claim["patient"], claim_id), {"claim": claim_id})
        store(ctx, key(ctx, "claim-by-provider", who.id, claim_id), {"claim": claim_id})
        return state_key, claim

    @staticmethod
    def _item(ctx: Context, sequence: int, raw: Any) -> Record:
        item = _object(raw, f"item {sequence}")
        served = _day(item.get("date"), f"item {sequence} date")
        if served > tx_time(ctx).date():
            raise ContractError(f"item {sequence} date {served} is after the submission")
        return {
            "sequence": sequence,
            "service": _service(item.get("service"), f"item {sequence} service"),
            "date": served.isoformat(),
            "quantity": _count(item.get("quantity"), f"item {sequence} quantity", 1),
            "unit_price": _count(item.get("unit_price"), f"item {sequence} unit_price"),
        }

    def _adjudicate_line(self, ctx: Context, claim: Record, coverage: Record, item: Record) -> Record:
        submitted = item["quantity"] * item["unit_price"]
        denial = self._denial(ctx, claim, coverage, item)
        if denial is not None:
            amounts = dict.fromkeys(AMOUNTS, 0) | {"submitted": submitted}
            reason = {"category": "benefit", "code": denial[0], "text": denial[1]}
            return item | {"decision": "denied", "amounts": amounts, "reasons": [reason]}
        fee = coverage["services"][item["service"]]["fee"]
        eligible = item["quantity"] * min(item["unit_price"], fee)
        reasons = []
        if eligible < submitted:
            reasons.append(
                {"category": "eligible", "code": "45", "text": f"fee schedule allows {fee} per unit"}
            )
        year = str(date.fromisoformat(item["date"]).year)
        used_key = key(ctx, "accumulator", coverage["id"], year)
        used = find(ctx, used_key) or {
            "coverage": coverage["id"],
            "year": year,
            "deductible": 0,
            "benefit": 0,
        }
        deductible = min(coverage["deductible"] - used["deductible"], eligible)
        if deductible:
            reasons.append({"category": "deductible", "code": "1", "text": f"deductible for {year}"})
        remaining = eligible - deductible
        if "copay" in coverage:
            copay = min(coverage["copay"], remaining)
            share = {"category": "copay", "code": "3", "text": "co-payment"}
        else:
            copay = (remaining * coverage["coinsurance"] + 50) // 100
            share = {"category": "copay", "code": "2", "text": f"coinsurance {coverage['coinsurance']}%"}
        if copay:
            reasons.append(share)
        owed = remaining - copay
        benefit = min(owed, coverage["annual_limit"] - used["benefit"])
        decision = "approved"
        if benefit < owed:
            reasons.append({"category": "benefit", "code": "119", "text": f"annual limit for {year} reached"})
            decision = "reduced" if benefit else "denied"
        used |= {"deductible": used["deductible"] + deductible, "benefit": used["benefit"] + benefit}
        store(ctx, used_key, used)
        amounts = {"submitted": submitted, "eligible": eligible, "deductible": deductible, "copay": copay}
        return item | {"decision": decision, "amounts": amounts | {"benefit": benefit}, "reasons": reasons}

    def _denial(self, ctx: Context, claim: Record, coverage: Record, item: Record) -> Reason | None:
        """The first reason, in the plan's order of checks, to pay nothing for the line."""
        served = _midnight(date.fromisoformat(item["date"]))
        if served < parse_time(coverage["period"]["start"], "start"):
            return "26", f"coverage {coverage['id']} starts {coverage['period']['start']}"
        if served >= parse_time(coverage["period"]["end"], "end"):
            return "27", f"coverage {coverage['id']} ended {coverage['period']['end']}"
        verdict = json.loads(
            ctx.stub.invoke_contract("credentials", "verify", [claim["provider"], item["date"]])
        )
        if not verdict["valid"]:
            return "B7", verdict["reason"]
        index_key = key(ctx, "claim-line", _fingerprint(claim, item))
        earlier = find(ctx, index_key)  # this read is what makes a same-block duplicate MVCC-invalid
        if earlier is not None:
            return "18", f"exact duplicate of claim {earlier['claim']} item {earlier['sequence']}"
        store(ctx, index_key, {"claim": claim["id"], "sequence": item["sequence"]})
        plan = coverage["services"].get(item["service"])
        if plan is None:
            return "204", f"service {item['service']} is not covered by plan {coverage['plan']}"
        if item["service"] in coverage["prior_authorization"] and not any(
            auth["status"] == "active" and in_period(served, auth["period"]["start"], auth["period"]["end"])
            for auth in scan(ctx, "prior-auth", coverage["id"], item["service"])
        ):
            return "197", f"service {item['service']} needs prior authorisation"
        if item["quantity"] > plan["max_quantity"]:
            return "151", f"quantity {item['quantity']} is over the plan's limit of {plan['max_quantity']}"
        late = (tx_time(ctx).date() - served.date()).days
        if late > coverage["filing_limit_days"]:
            return "29", f"filed {late} days after service; the limit is {coverage['filing_limit_days']}"
        return None

    def _void(self, ctx: Context, claim_id: str, reason: str) -> tuple[str, Record]:
        """Void the caller's unpaid claim: release its duplicate index keys and give back what its
        lines took from the deductible and the annual limit."""
        who = require_role(ctx, PRACTITIONER)
        state_key = key(ctx, "claim", claim_id)
        claim = self._claim(ctx, claim_id)
        if claim["provider"] != who.id:
            raise ContractError(f"{who.id} may not void claim {claim_id}: only its provider may")
        if claim["status"] in ("paid", "voided"):
            raise ContractError(f"claim {claim_id} is {claim['status']} and can no longer be voided")
        if not reason.strip():
            raise ContractError("a reason is required")
        for line in claim["items"]:
            index_key = key(ctx, "claim-line", _fingerprint(claim, line))
            if find(ctx, index_key) == {"claim": claim_id, "sequence": line["sequence"]}:
                ctx.stub.del_state(index_key)
            if line["amounts"]["deductible"] or line["amounts"]["benefit"]:
                used_key = key(ctx, "accumulator", claim["coverage"], line["date"][:4])
                used = load(ctx, used_key, f"no accumulator for claim {claim_id}")
                used["deductible"] -= line["amounts"]["deductible"]
                used["benefit"] -= line["amounts"]["benefit"]
                store(ctx, used_key, used)
        claim |= {"status": "voided", "voided": {"at": iso(tx_time(ctx)), "reason": reason, "by": who.id}}
        store(ctx, state_key, claim)
        return state_key, claim

    # --- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _terms(terms: dict[str, Any]) -> Record:
        """The coverage terms, checked: every amount an integer, exactly one of copay/coinsurance."""
        if ("copay" in terms) == ("coinsurance" in terms):
            raise ContractError("terms must set exactly one of copay (cents) or coinsurance (percent)")
        start, end = parse_time(str(terms.get("start")), "start"), parse_time(str(terms.get("end")), "end")
        if end <= start:
            raise ContractError(f"coverage end {terms['end']} is not after start {terms['start']}")
        services = _object(terms.get("services"), "terms services")
        if not services:
            raise ContractError("terms services must list at least one covered service")
        prior = terms.get("prior_authorization", [])
        if not isinstance(prior, list) or not set(prior) <= set(services):
            raise ContractError("terms prior_authorization must list covered service codes")
        share = (
            {"copay": _count(terms["copay"], "copay")}
            if "copay" in terms
            else {"coinsurance": _count(terms["coinsurance"], "coinsurance")}
        )
        if share.get("coinsurance", 0) > 100:
            raise ContractError("coinsurance must be a percentage from 0 to 100")
        return share | {
            "plan": require_id(str(terms.get("plan")), "plan"),
            "period": period(iso(start), iso(end)),
            "currency": _currency(terms.get("currency", "USD")),
            "deductible": _count(terms.get("deductible"), "deductible"),
            "annual_limit": _count(terms.get("annual_limit"), "annual_limit"),
            "filing_limit_days": _count(
                terms.get("filing_limit_days", DEFAULT_FILING_LIMIT_DAYS), "filing_limit_days", 1
            ),
            "services": {
                _service(code, "service"): {
                    "fee": _count(_object(rule, f"service {code}").get("fee"), f"service {code} fee"),
                    "max_quantity": _count(rule.get("max_quantity"), f"service {code} max_quantity", 1),
                }
                for code, rule in services.items()
            },
            "prior_authorization": sorted(prior),
        }

    @staticmethod
    def _coverage(ctx: Context, coverage_id: Any) -> Record:
        if not isinstance(coverage_id, str):
            raise ContractError("claim coverage must be a coverage id")
        return load(
            ctx,
            key(ctx, "coverage", require_id(coverage_id, "coverage")),
            f"coverage {coverage_id} does not exist",
        )

    @staticmethod
    def _claim(ctx: Context, claim_id: str) -> Record:
        return load(
            ctx, key(ctx, "claim", require_id(claim_id, "claim_id")), f"claim {claim_id} does not exist"
        )

    @staticmethod
    def _may_see(ctx: Context, what: str, patient: str, provider: str | None, insurer: str) -> None:
        """Refuse unless the caller is the patient, the provider or an adjuster of the insurer concerned."""
        who = ctx.client_identity
        adjuster = who.get_attribute("role") == ADJUSTER and who.org == insurer
        if who.id not in (patient, provider) and not adjuster:
            raise ContractError(
                f"{who.id} may not see {what}: it is neither its patient, provider nor insurer"
            )

    @staticmethod
    def _adjudication_fhir(line: Record, currency: str) -> list[Record]:
        reasons = {reason["category"]: reason for reason in line["reasons"]}
        entries = []
        for category in AMOUNTS:
            entry = {
                "category": concept(ADJUDICATION, category),
                "amount": _money(line["amounts"][category], currency),
            }
            if category in reasons:
                code = reasons[category]["code"]
                entry["reason"] = concept(CARC_SYSTEM, code, CARC[code]) | {"text": reasons[category]["text"]}
            entries.append(entry)
        return entries


def _fhir_head(resource_type: str, c: Record) -> Record:
    """The fields a FHIR Claim and its ClaimResponse share."""
    return {
        "resourceType": resource_type,
        "id": c["id"],
        "status": "cancelled" if c["status"] == "voided" else "active",
        "type": concept("http://terminology.hl7.org/CodeSystem/claim-type", "professional"),
        "use": "claim",
        "patient": reference("Patient", c["patient"]),
        "created": c["created"],
        "insurer": reference("Organization", c["insurer"]),
    }


MIN_SALT_BYTES = 16


def _diagnosis_hash(ctx: Context, request: Record) -> str:
    """The claim's salted diagnosis hash: given in the claim, or made here from transient data so
    that the codes themselves never reach the ledger."""
    if "diagnosis_hash" in request:
        return require_digest(str(request["diagnosis_hash"]), "diagnosis_hash")
    transient = ctx.stub.get_transient()
    codes, salt = transient.get("diagnosis"), transient.get("salt")
    if not codes or not salt:
        raise ContractError("a claim needs diagnosis_hash, or the transient fields diagnosis and salt")
    if len(salt) < MIN_SALT_BYTES:
        raise ContractError(f"transient salt must be at least {MIN_SALT_BYTES} random bytes")
    return sha256_hex(salt, codes)
