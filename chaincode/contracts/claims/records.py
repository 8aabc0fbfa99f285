"""The claims contract's records as the ledger keeps them, and its vocabulary.

Frozen dataclasses: each `to_json` is the on-ledger JSON shape, key for key. Money is integer cents.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Self

from careledger.chaincode.contracts.common import JsonObject, Period

INSURER_ORG = "insurer"
ADJUSTER = "claims-adjuster"
PRACTITIONER = "practitioner"
PATIENT = "patient"

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
    "242": "Services not provided by network/primary care providers.",
    "B7": "This provider was not certified/eligible to be paid for this procedure/service on this date.",
}
"""X12 claim adjustment reason codes (CARC) the adjudication gives, with their standard wording."""
AMOUNTS = ("submitted", "eligible", "deductible", "copay", "benefit")
FREQUENCY_PERIODS = ("month", "quarter", "year")
"""The calendar periods a plan's frequency limit may count over."""


@dataclass(frozen=True)
class Frequency:
    """A plan's frequency limit: at most `count` units of a service per calendar `per`
    (month, quarter or year) under one coverage."""

    count: int
    per: str

    def period_of(self, day: str) -> str:
        """The calendar period an ISO date falls in: 2026, 2026-Q1 or 2026-03."""
        year, month = day[:4], int(day[5:7])
        return {"year": year, "quarter": f"{year}-Q{(month - 1) // 3 + 1}", "month": day[:7]}[self.per]

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The limit as stored inside its service rule."""
        return cls(data["count"], data["per"])

    def to_json(self) -> JsonObject:
        """On-ledger JSON."""
        return {"count": self.count, "per": self.per}


@dataclass(frozen=True)
class ServiceRule:
    """What a plan pays for one service: the fee schedule's price per unit, the most units on one
    line, and optionally the most units per calendar period."""

    fee: int
    max_quantity: int
    frequency: Frequency | None = None

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The rule as stored inside its coverage (rules stored before frequency limits have none)."""
        frequency = data.get("frequency")
        return cls(
            data["fee"], data["max_quantity"], None if frequency is None else Frequency.from_json(frequency)
        )

    def to_json(self) -> JsonObject:
        """On-ledger JSON; `frequency` only when the plan sets one."""
        data: JsonObject = {"fee": self.fee, "max_quantity": self.max_quantity}
        return data if self.frequency is None else data | {"frequency": self.frequency.to_json()}


@dataclass(frozen=True)
class Coverage:
    """A patient's insurance coverage and its plan terms, under ("coverage", id); the patient's
    share is exactly one of `copay` (cents) or `coinsurance` (percent)."""

    id: str
    status: str
    beneficiary: str
    payor: str
    registered: str
    by: str
    plan: str
    period: Period
    currency: str
    deductible: int
    annual_limit: int
    filing_limit_days: int
    services: dict[str, ServiceRule]
    prior_authorization: tuple[str, ...]
    copay: int | None = None
    coinsurance: int | None = None

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The coverage as stored."""
        return cls(
            id=data["id"],
            status=data["status"],
            beneficiary=data["beneficiary"],
            payor=data["payor"],
            registered=data["registered"],
            by=data["by"],
            plan=data["plan"],
            period=Period.from_json(data["period"]),
            currency=data["currency"],
            deductible=data["deductible"],
            annual_limit=data["annual_limit"],
            filing_limit_days=data["filing_limit_days"],
            services={code: ServiceRule.from_json(rule) for code, rule in data["services"].items()},
            prior_authorization=tuple(data["prior_authorization"]),
            copay=data.get("copay"),
            coinsurance=data.get("coinsurance"),
        )

    def to_json(self) -> JsonObject:
        """On-ledger JSON; only the patient's share that the plan uses appears."""
        share = {"copay": self.copay} if self.coinsurance is None else {"coinsurance": self.coinsurance}
        return share | {
            "id": self.id,
            "status": self.status,
            "beneficiary": self.beneficiary,
            "payor": self.payor,
            "registered": self.registered,
            "by": self.by,
            "plan": self.plan,
            "period": self.period.to_json(),
            "currency": self.currency,
            "deductible": self.deductible,
            "annual_limit": self.annual_limit,
            "filing_limit_days": self.filing_limit_days,
            "services": {code: rule.to_json() for code, rule in self.services.items()},
            "prior_authorization": list(self.prior_authorization),
        }


@dataclass(frozen=True)
class PriorAuthorization:
    """The insurer's authorisation of a service for dates of service in a period, under
    ("prior-auth", coverage, service, id)."""

    id: str
    coverage: str
    service: str
    status: str
    period: Period
    granted: str
    by: str

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The authorisation as stored."""
        return cls(
            id=data["id"],
            coverage=data["coverage"],
            service=data["service"],
            status=data["status"],
            period=Period.from_json(data["period"]),
            granted=data["granted"],
            by=data["by"],
        )

    def to_json(self) -> JsonObject:
        """On-ledger JSON."""
        return {
            "id": self.id,
            "coverage": self.coverage,
            "service": self.service,
            "status": self.status,
            "period": self.period.to_json(),
            "granted": self.granted,
            "by": self.by,
        }


@dataclass(frozen=True)
class Accumulator:
    """What a coverage has used of its deductible and annual limit in a year, under
    ("accumulator", coverage, year)."""

    coverage: str
    year: str
    deductible: int = 0
    benefit: int = 0

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The accumulator as stored."""
        return cls(data["coverage"], data["year"], data["deductible"], data["benefit"])

    def to_json(self) -> JsonObject:
        """On-ledger JSON."""
        return {
            "coverage": self.coverage,
            "year": self.year,
            "deductible": self.deductible,
            "benefit": self.benefit,
        }


@dataclass(frozen=True)
class ServiceUsage:
    """How many units of a frequency-limited service a coverage has had paid in one calendar
    period, under ("service-usage", coverage, service, period)."""

    coverage: str
    service: str
    period: str
    units: int = 0

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The usage as stored."""
        return cls(data["coverage"], data["service"], data["period"], data["units"])

    def to_json(self) -> JsonObject:
        """On-ledger JSON."""
        return {
            "coverage": self.coverage,
            "service": self.service,
            "period": self.period,
            "units": self.units,
        }


@dataclass(frozen=True)
class ClaimRef:
    """An index entry pointing at a claim: under ("claim-by-patient", patient, claim) and
    ("claim-by-provider", provider, claim)."""

    claim: str

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The entry as stored."""
        return cls(data["claim"])

    def to_json(self) -> JsonObject:
        """On-ledger JSON."""
        return {"claim": self.claim}


@dataclass(frozen=True)
class CoverageRef:
    """An index entry pointing at a coverage, under ("coverage-by-patient", patient, coverage)."""

    coverage: str

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The entry as stored."""
        return cls(data["coverage"])

    def to_json(self) -> JsonObject:
        """On-ledger JSON."""
        return {"coverage": self.coverage}


@dataclass(frozen=True)
class LineRef:
    """The first claim line for a patient, provider, service and date of service, under
    ("claim-service", fingerprint): what makes a later line for the same service a duplicate,
    whatever its price or quantity. Ledgers written before kept it under ("claim-line",
    fingerprint), the fingerprint then also covering quantity and price."""

    claim: str
    sequence: int

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The entry as stored."""
        return cls(data["claim"], data["sequence"])

    def to_json(self) -> JsonObject:
        """On-ledger JSON."""
        return {"claim": self.claim, "sequence": self.sequence}


@dataclass(frozen=True)
class ServiceLine:
    """One line of a claim as the provider submitted it."""

    sequence: int
    service: str
    date: str
    quantity: int
    unit_price: int

    @property
    def submitted(self) -> int:
        """The line's charge."""
        return self.quantity * self.unit_price

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The line's submitted fields as stored inside its claim line."""
        return cls(data["sequence"], data["service"], data["date"], data["quantity"], data["unit_price"])

    def to_json(self) -> JsonObject:
        """On-ledger JSON."""
        return {
            "sequence": self.sequence,
            "service": self.service,
            "date": self.date,
            "quantity": self.quantity,
            "unit_price": self.unit_price,
        }


@dataclass(frozen=True)
class Adjustment:
    """Why an amount was not paid: the adjudication category it touches, a CARC code, our words."""

    category: str
    code: str
    text: str

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The adjustment as stored inside its claim line."""
        return cls(data["category"], data["code"], data["text"])

    def to_json(self) -> JsonObject:
        """On-ledger JSON."""
        return {"category": self.category, "code": self.code, "text": self.text}


@dataclass(frozen=True)
class Amounts:
    """The adjudicated amounts of a line or a claim, in cents (the FHIR adjudication categories)."""

    submitted: int
    eligible: int = 0
    deductible: int = 0
    copay: int = 0
    benefit: int = 0

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The amounts as stored."""
        return cls(*(data[category] for category in AMOUNTS))

    @classmethod
    def total(cls, amounts: Iterable[Amounts]) -> Self:
        """The sum of amounts, category by category."""
        rows = [a.to_json() for a in amounts]
        return cls(*(sum(row[category] for row in rows) for category in AMOUNTS))

    def to_json(self) -> JsonObject:
        """On-ledger JSON."""
        return {category: getattr(self, category) for category in AMOUNTS}


@dataclass(frozen=True)
class ClaimLine:
    """A submitted line with its adjudication: approved, reduced or denied, and why."""

    item: ServiceLine
    decision: str
    amounts: Amounts
    reasons: tuple[Adjustment, ...]

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The line as stored inside its claim."""
        return cls(
            ServiceLine.from_json(data),
            data["decision"],
            Amounts.from_json(data["amounts"]),
            tuple(Adjustment.from_json(r) for r in data["reasons"]),
        )

    def to_json(self) -> JsonObject:
        """On-ledger JSON: the submitted fields and the adjudication side by side."""
        return self.item.to_json() | {
            "decision": self.decision,
            "amounts": self.amounts.to_json(),
            "reasons": [r.to_json() for r in self.reasons],
        }


@dataclass(frozen=True)
class Payment:
    """The insurer's payment of a claim."""

    date: str
    amount: int
    reference: str
    by: str

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The payment as stored inside its claim."""
        return cls(data["date"], data["amount"], data["reference"], data["by"])

    def to_json(self) -> JsonObject:
        """On-ledger JSON."""
        return {"date": self.date, "amount": self.amount, "reference": self.reference, "by": self.by}


@dataclass(frozen=True)
class Voiding:
    """When, why and by whom a claim was withdrawn."""

    at: str
    reason: str
    by: str

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The voiding as stored inside its claim."""
        return cls(data["at"], data["reason"], data["by"])

    def to_json(self) -> JsonObject:
        """On-ledger JSON."""
        return {"at": self.at, "reason": self.reason, "by": self.by}


@dataclass(frozen=True)
class Claim:
    """A provider's claim with its adjudication, under ("claim", id). `outcome` is the
    adjudication's verdict; `status` moves on from it to paid or voided."""

    id: str
    patient: str
    provider: str
    coverage: str
    insurer: str
    currency: str
    diagnosis_hash: str
    created: str
    replaces: str | None
    items: tuple[ClaimLine, ...]
    total: Amounts
    outcome: str
    status: str
    payment: Payment | None = None
    voided: Voiding | None = None

    @classmethod
    def from_json(cls, data: JsonObject) -> Self:
        """The claim as stored."""
        payment, voided = data["payment"], data.get("voided")
        return cls(
            id=data["id"],
            patient=data["patient"],
            provider=data["provider"],
            coverage=data["coverage"],
            insurer=data["insurer"],
            currency=data["currency"],
            diagnosis_hash=data["diagnosis_hash"],
            created=data["created"],
            replaces=data["replaces"],
            items=tuple(ClaimLine.from_json(line) for line in data["items"]),
            total=Amounts.from_json(data["total"]),
            outcome=data["outcome"],
            status=data["status"],
            payment=None if payment is None else Payment.from_json(payment),
            voided=None if voided is None else Voiding.from_json(voided),
        )

    def to_json(self) -> JsonObject:
        """On-ledger JSON; `payment` is always there (null until paid), `voided` only once voided."""
        data: JsonObject = {
            "id": self.id,
            "patient": self.patient,
            "provider": self.provider,
            "coverage": self.coverage,
            "insurer": self.insurer,
            "currency": self.currency,
            "diagnosis_hash": self.diagnosis_hash,
            "created": self.created,
            "replaces": self.replaces,
            "items": [line.to_json() for line in self.items],
            "total": self.total.to_json(),
            "outcome": self.outcome,
            "status": self.status,
            "payment": None if self.payment is None else self.payment.to_json(),
        }
        return data if self.voided is None else data | {"voided": self.voided.to_json()}
