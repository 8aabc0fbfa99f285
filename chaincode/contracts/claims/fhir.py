"""Coverages and claims as FHIR R4 Coverage, Claim and ClaimResponse resources, pruned of the
empty values FHIR JSON forbids."""

from __future__ import annotations

from careledger.chaincode.contracts.claims.records import AMOUNTS, CARC, Claim, ClaimLine, Coverage
from careledger.chaincode.contracts.common import JsonObject
from careledger.chaincode.contracts.fhir import concept, prune, reference

_TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
CPT = "http://www.ama-assn.org/go/cpt"
ADJUDICATION = f"{_TERMINOLOGY}/adjudication"
CARC_SYSTEM = "https://x12.org/codes/claim-adjustment-reason-codes"


def money(cents: int, currency: str) -> JsonObject:
    """A FHIR Money from integer cents."""
    return {"value": cents / 100, "currency": currency}


def coverage(c: Coverage) -> JsonObject:
    """A coverage as a FHIR Coverage with its cost to the beneficiary and its annual limit."""
    copay_type = f"{_TERMINOLOGY}/coverage-copay-type"
    costs = [{"type": concept(copay_type, "deductible"), "valueMoney": money(c.deductible, c.currency)}]
    if c.copay is not None:
        costs.append({"type": concept(copay_type, "copay"), "valueMoney": money(c.copay, c.currency)})
    else:
        percent = {"value": c.coinsurance, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}
        costs.append({"type": concept(copay_type, "copaypct"), "valueQuantity": percent})
    resource: JsonObject = {
        "resourceType": "Coverage",
        "id": c.id,
        "status": c.status,
        "beneficiary": reference("Patient", c.beneficiary),
        "payor": [reference("Organization", c.payor)],
        "period": c.period.to_json(),
        "class": [{"type": concept(f"{_TERMINOLOGY}/coverage-class", "plan"), "value": c.plan}],
        "costToBeneficiary": costs,
        "extension": [
            {
                "url": "urn:careledger:fhir:annual-benefit-limit",
                "valueMoney": money(c.annual_limit, c.currency),
            }
        ],
    }
    return prune(resource)


def claim(c: Claim) -> JsonObject:
    """A claim as submitted, as a FHIR Claim; a correction names the claim it replaces."""
    prior = concept(f"{_TERMINOLOGY}/ex-relatedclaimrelationship", "prior")
    related = [{"claim": reference("Claim", c.replaces), "relationship": prior}] if c.replaces else []
    resource: JsonObject = {
        **_head("Claim", c),
        "provider": reference("Practitioner", c.provider),
        "priority": concept(f"{_TERMINOLOGY}/processpriority", "normal"),
        "related": related,
        "diagnosis": [
            {
                "sequence": 1,
                "diagnosisCodeableConcept": concept("urn:careledger:salted-sha256", c.diagnosis_hash),
            }
        ],
        "insurance": [{"sequence": 1, "focal": True, "coverage": reference("Coverage", c.coverage)}],
        "item": [
            {
                "sequence": line.item.sequence,
                "productOrService": concept(CPT, line.item.service),
                "servicedDate": line.item.date,
                "quantity": {"value": line.item.quantity},
                "unitPrice": money(line.item.unit_price, c.currency),
                "net": money(line.amounts.submitted, c.currency),
            }
            for line in c.items
        ],
        "total": money(c.total.submitted, c.currency),
    }
    return prune(resource)


def claim_response(c: Claim) -> JsonObject:
    """A claim's adjudication as a FHIR ClaimResponse, reasons as X12 CARC codes."""
    totals = c.total.to_json()
    response = {
        **_head("ClaimResponse", c),
        "requestor": reference("Practitioner", c.provider),
        "request": reference("Claim", c.id),
        "outcome": "complete",
        "disposition": c.outcome,
        "item": [
            {"itemSequence": line.item.sequence, "adjudication": _adjudication(line, c.currency)}
            for line in c.items
        ],
        "total": [
            {"category": concept(ADJUDICATION, category), "amount": money(totals[category], c.currency)}
            for category in AMOUNTS
        ],
    }
    if c.payment is not None:
        response["payment"] = {
            "type": concept(f"{_TERMINOLOGY}/ex-paymenttype", "complete"),
            "date": c.payment.date[:10],
            "amount": money(c.payment.amount, c.currency),
            "identifier": {"system": "urn:careledger:payment", "value": c.payment.reference},
        }
    return prune(response)


def _adjudication(line: ClaimLine, currency: str) -> list[JsonObject]:
    amounts = line.amounts.to_json()
    reasons = {reason.category: reason for reason in line.reasons}
    entries = []
    for category in AMOUNTS:
        entry = {"category": concept(ADJUDICATION, category), "amount": money(amounts[category], currency)}
        if category in reasons:
            reason = reasons[category]
            entry["reason"] = concept(CARC_SYSTEM, reason.code, CARC[reason.code]) | {"text": reason.text}
        entries.append(entry)
    return entries


def _head(resource_type: str, c: Claim) -> JsonObject:
    """The fields a FHIR Claim and its ClaimResponse share."""
    return {
        "resourceType": resource_type,
        "id": c.id,
        "status": "cancelled" if c.status == "voided" else "active",
        "type": concept(f"{_TERMINOLOGY}/claim-type", "professional"),
        "use": "claim",
        "patient": reference("Patient", c.patient),
        "created": c.created,
        "insurer": reference("Organization", c.insurer),
    }
