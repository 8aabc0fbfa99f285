"""The claims contract: FHIR Coverage, prior authorisation, and claims adjudicated in the contract.

Adjudication runs line by line and records a standard X12 claim adjustment reason code (CARC) for
every denial and every amount the patient bears. Money is integer cents. The provider must have
had a treatment relationship with the patient on the date of service, which the consent contract
answers in this transaction. Each line's duplicate check READS a composite index key of the line's
fingerprint (patient, provider, service, date) before writing it, so two claims for the same service
ordered into the same block conflict on that key (MVCC) instead of both paying; a frequency-limited
service's usage counter is read and written the same way. The rules are in rules.py; this class
checks the caller and moves records.
"""

from __future__ import annotations

from typing import Any

from careledger.chaincode import Context, Contract, ContractError, evaluate, submit
from careledger.chaincode.contracts.claims import fhir, rules
from careledger.chaincode.contracts.claims.records import (
    ADJUSTER,
    INSURER_ORG,
    PATIENT,
    PRACTITIONER,
    Accumulator,
    Amounts,
    Claim,
    ClaimLine,
    ClaimRef,
    Coverage,
    CoverageRef,
    LineRef,
    PriorAuthorization,
    ServiceLine,
    ServiceUsage,
)
from careledger.chaincode.contracts.common import (
    JsonObject,
    changed,
    find,
    iso,
    key,
    licence,
    list_page,
    load,
    page_records,
    parse_json,
    require_id,
    require_identity_id,
    require_new_id,
    require_role,
    scan,
    store,
    treatment_relationship,
    tx_time,
)


class ClaimsContract(Contract):
    """Coverage and prior authorisation by the insurer; claims by practitioners, adjudicated here."""

    name = "claims"

    # --- coverage ---------------------------------------------------------------------------

    @submit
    def register_coverage(self, ctx: Context, coverage_id: str, patient: str, terms: str) -> JsonObject:
        """Record a patient's coverage from JSON terms: plan, start, end, currency, deductible,
        copay (cents) or coinsurance (percent), annual_limit, services {code: {fee, max_quantity,
        and optionally frequency {count, per: month|quarter|year}}}, prior_authorization [codes]
        and optionally filing_limit_days."""
        who = require_role(ctx, ADJUSTER, org=INSURER_ORG)
        state_key = key(ctx, "coverage", require_new_id(coverage_id, "coverage_id"))
        if ctx.stub.get_state(state_key) is not None:
            raise ContractError(f"coverage {coverage_id} already exists")
        coverage = rules.coverage(
            coverage_id,
            require_identity_id(patient, "patient"),
            who.org,
            who.id,
            tx_time(ctx),
            rules.json_object(parse_json(terms, "terms"), "terms"),
        )
        store(ctx, key(ctx, "coverage-by-patient", patient, coverage_id), CoverageRef(coverage_id))
        return changed(ctx, state_key, coverage, "CoverageRegistered")

    @submit
    def grant_prior_authorization(
        self, ctx: Context, auth_id: str, coverage_id: str, service: str, start: str, end: str
    ) -> JsonObject:
        """Authorise a service that needs it under a coverage for dates of service in [start, end)."""
        who = require_role(ctx, ADJUSTER, org=INSURER_ORG)
        coverage = _coverage(ctx, coverage_id)
        rules.require_needs_authorization(coverage, service)
        state_key = key(ctx, "prior-auth", coverage_id, service, require_new_id(auth_id, "auth_id"))
        if ctx.stub.get_state(state_key) is not None:
            raise ContractError(f"prior authorisation {auth_id} already exists")
        auth = rules.prior_authorization(auth_id, coverage, service, start, end, who.id, tx_time(ctx))
        return changed(ctx, state_key, auth, "PriorAuthorizationGranted")

    @evaluate
    def get_coverage(self, ctx: Context, coverage_id: str) -> JsonObject:
        """A coverage, for its beneficiary or the insurer's adjusters."""
        return _visible_coverage(ctx, coverage_id).to_json()

    @evaluate
    def coverage_fhir(self, ctx: Context, coverage_id: str) -> JsonObject:
        """A coverage as a FHIR R4 Coverage with its cost to the beneficiary."""
        return fhir.coverage(_visible_coverage(ctx, coverage_id))

    # --- claims -----------------------------------------------------------------------------

    @submit
    def submit_claim(self, ctx: Context, claim_id: str, claim: str) -> JsonObject:
        """Submit and adjudicate a claim from JSON: coverage, optionally patient (which must be the
        coverage's beneficiary), diagnosis_hash (salted SHA-256 made off-ledger; or leave it out and
        send transient `diagnosis` codes and a `salt`) and items [{service, date, quantity,
        unit_price}]; the provider is the caller."""
        return changed(ctx, *_adjudicate(ctx, claim_id, claim, None), "ClaimAdjudicated")

    @submit
    def correct_claim(self, ctx: Context, claim_id: str, new_claim_id: str, claim: str) -> JsonObject:
        """Void an unpaid claim and adjudicate its corrected replacement in one transaction."""
        _void(ctx, claim_id, f"corrected by claim {new_claim_id}")
        return changed(ctx, *_adjudicate(ctx, new_claim_id, claim, claim_id), "ClaimCorrected")

    @submit
    def void_claim(self, ctx: Context, claim_id: str, reason: str) -> JsonObject:
        """Withdraw an unpaid claim: its lines no longer count as duplicates or against limits."""
        return changed(ctx, *_void(ctx, claim_id, reason), "ClaimVoided")

    @submit
    def mark_paid(self, ctx: Context, claim_id: str, payment_ref: str) -> JsonObject:
        """Record payment of an approved or partial claim; paying a paid claim changes nothing."""
        who = require_role(ctx, ADJUSTER, org=INSURER_ORG)
        claim = _claim(ctx, claim_id)
        if claim.status == "paid":
            return claim.to_json()
        paid = rules.paid(claim, payment_ref, who.id, tx_time(ctx))
        return changed(ctx, key(ctx, "claim", claim_id), paid, "ClaimPaid")

    @evaluate
    def get_claim(self, ctx: Context, claim_id: str) -> JsonObject:
        """A claim with its adjudication, for its patient, its provider or the insurer's adjusters."""
        return _visible_claim(ctx, claim_id).to_json()

    @evaluate
    def my_claims(self, ctx: Context, page_size: str = "", bookmark: str = "") -> JsonObject:
        """The calling patient's claims, or the calling practitioner's claims, in id order, a page
        at a time: {items, bookmark (of the next page, "" after the last), fetched}."""
        who = ctx.client_identity
        index = {PATIENT: "claim-by-patient", PRACTITIONER: "claim-by-provider"}.get(
            who.get_attribute("role") or ""
        )
        if index is None:
            raise ContractError(
                f"{who.id} may not call my_claims: it needs attribute role=patient or practitioner"
            )
        found = list_page(ctx, index, who.id, page_size=page_size, bookmark=bookmark)
        return found.answer([_claim(ctx, entry.claim).to_json() for entry in page_records(found, ClaimRef)])

    @evaluate
    def claim_fhir(self, ctx: Context, claim_id: str) -> JsonObject:
        """A claim as submitted, as a FHIR R4 Claim."""
        return fhir.claim(_visible_claim(ctx, claim_id))

    @evaluate
    def claim_response_fhir(self, ctx: Context, claim_id: str) -> JsonObject:
        """A claim's adjudication as a FHIR R4 ClaimResponse, reasons as X12 CARC codes."""
        return fhir.claim_response(_visible_claim(ctx, claim_id))


def _adjudicate(ctx: Context, claim_id: str, text: str, replaces: str | None) -> tuple[str, Claim]:
    """The new claim's state key and record, adjudicated; its indexes and accumulators written."""
    who = require_role(ctx, PRACTITIONER)
    state_key = key(ctx, "claim", require_new_id(claim_id, "claim_id"))
    if ctx.stub.get_state(state_key) is not None:
        raise ContractError(f"claim {claim_id} already exists")
    request = rules.json_object(parse_json(text, "claim"), "claim")
    coverage = _coverage(ctx, request.get("coverage"))
    rules.require_patient(request, coverage)
    items = rules.claim_items(request)
    diagnosis_hash = rules.diagnosis_hash(request, ctx.stub.get_transient())
    today = tx_time(ctx).date()
    lines = [
        _adjudicate_line(ctx, claim_id, who.id, coverage, rules.service_line(n, item, today))
        for n, item in enumerate(items, start=1)
    ]
    claim = Claim(
        id=claim_id,
        patient=coverage.beneficiary,
        provider=who.id,
        coverage=coverage.id,
        insurer=coverage.payor,
        currency=coverage.currency,
        diagnosis_hash=diagnosis_hash,
        created=iso(tx_time(ctx)),
        replaces=replaces,
        items=tuple(lines),
        total=Amounts.total(line.amounts for line in lines),
        outcome=rules.outcome(lines),
        status=rules.outcome(lines),
    )
    store(ctx, key(ctx, "claim-by-patient", claim.patient, claim_id), ClaimRef(claim_id))
    store(ctx, key(ctx, "claim-by-provider", who.id, claim_id), ClaimRef(claim_id))
    return state_key, claim


def _adjudicate_line(
    ctx: Context, claim_id: str, provider: str, coverage: Coverage, item: ServiceLine
) -> ClaimLine:
    """One line adjudicated; a covered line updates the coverage's usage for its year and, for a
    frequency-limited service, for its calendar period."""
    index_key = key(ctx, "claim-service", rules.fingerprint(coverage.beneficiary, provider, item))
    period = rules.usage_period(coverage, item)
    usage_key = None if period is None else key(ctx, "service-usage", coverage.id, item.service, period)

    def first_of_its_kind() -> LineRef | None:
        earlier = find(ctx, index_key, LineRef)  # this read makes a same-block duplicate MVCC-invalid
        if earlier is None:
            store(ctx, index_key, LineRef(claim_id, item.sequence))
        return earlier

    def used() -> ServiceUsage:  # asked only for a frequency-limited service
        found = None if usage_key is None else find(ctx, usage_key, ServiceUsage)
        return found or ServiceUsage(coverage.id, item.service, period or "")

    denial = rules.denial(
        coverage,
        item,
        tx_time(ctx).date(),
        licence=lambda: licence(ctx, provider, item.date),
        relationship=lambda: treatment_relationship(ctx, coverage.beneficiary, item.date),
        first_of_its_kind=first_of_its_kind,
        authorizations=lambda: scan(ctx, "prior-auth", coverage.id, item.service, kind=PriorAuthorization),
        used=used,
    )
    if denial is not None:
        return rules.denied_line(item, denial)
    year = item.date[:4]
    used_key = key(ctx, "accumulator", coverage.id, year)
    spent = find(ctx, used_key, Accumulator) or Accumulator(coverage.id, year)
    line, spent = rules.paid_line(coverage, item, spent)
    store(ctx, used_key, spent)
    if usage_key is not None:
        store(ctx, usage_key, rules.counted(used(), line))
    return line


def _void(ctx: Context, claim_id: str, reason: str) -> tuple[str, Claim]:
    """Void the caller's unpaid claim: release its duplicate index keys and give back what its
    lines took from the deductible, the annual limit and frequency limits."""
    who = require_role(ctx, PRACTITIONER)
    state_key = key(ctx, "claim", claim_id)
    claim = _claim(ctx, claim_id)
    rules.check_void(claim, who.id, reason)
    coverage: Coverage | None = None
    for line in claim.items:
        mine = LineRef(claim_id, line.item.sequence)
        for index_key in (
            key(ctx, "claim-service", rules.fingerprint(claim.patient, claim.provider, line.item)),
            key(ctx, "claim-line", rules.legacy_fingerprint(claim.patient, claim.provider, line.item)),
        ):
            if find(ctx, index_key, LineRef) == mine:
                ctx.stub.del_state(index_key)
        if line.decision != "denied":
            coverage = coverage or _coverage(ctx, claim.coverage)
            period = rules.usage_period(coverage, line.item)
            if period is not None:
                usage_key = key(ctx, "service-usage", coverage.id, line.item.service, period)
                taken = find(ctx, usage_key, ServiceUsage)
                if taken is not None:
                    store(ctx, usage_key, rules.uncounted(taken, line))
        if line.amounts.deductible or line.amounts.benefit:
            used_key = key(ctx, "accumulator", claim.coverage, line.item.date[:4])
            used = load(ctx, used_key, Accumulator, f"no accumulator for claim {claim_id}")
            store(ctx, used_key, rules.given_back(used, line))
    claim = rules.voided(claim, reason, who.id, tx_time(ctx))
    store(ctx, state_key, claim)
    return state_key, claim


def _coverage(ctx: Context, coverage_id: Any) -> Coverage:
    if not isinstance(coverage_id, str):
        raise ContractError("claim coverage must be a coverage id")
    state_key = key(ctx, "coverage", require_id(coverage_id, "coverage"))
    return load(ctx, state_key, Coverage, f"coverage {coverage_id} does not exist")


def _visible_coverage(ctx: Context, coverage_id: str) -> Coverage:
    """The coverage, if the caller may see it."""
    coverage = _coverage(ctx, coverage_id)
    rules.require_may_see(
        ctx.client_identity, f"coverage {coverage_id}", coverage.beneficiary, None, coverage.payor
    )
    return coverage


def _claim(ctx: Context, claim_id: str) -> Claim:
    state_key = key(ctx, "claim", require_id(claim_id, "claim_id"))
    return load(ctx, state_key, Claim, f"claim {claim_id} does not exist")


def _visible_claim(ctx: Context, claim_id: str) -> Claim:
    """The claim, if the caller may see it."""
    claim = _claim(ctx, claim_id)
    rules.require_may_see(
        ctx.client_identity, f"claim {claim_id}", claim.patient, claim.provider, claim.insurer
    )
    return claim
