"""One story through the three healthcare contracts that writes every kind of on-ledger record.

`run_story()` returns the committed world state, the events and the answers of every query (FHIR
exports included). tests/unit/ledger_golden.json holds what the contracts wrote before they became
packages; test_records_golden.py proves the packages write and render the same bytes.

    python tests/unit/ledgerstory.py > tests/unit/ledger_golden.json   # only to re-bless on purpose
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from contractharness import Call, Ledger, admin, client  # noqa: E402

from careledger.chaincode.contracts.claims import ClaimsContract  # noqa: E402
from careledger.chaincode.contracts.consent import ConsentContract  # noqa: E402
from careledger.chaincode.contracts.credentials import CredentialsContract  # noqa: E402
from careledger.chaincode.runtime import SimulationResult  # noqa: E402

GOLDEN = Path(__file__).with_name("ledger_golden.json")

PAT = client("hospital", "pat1", "patient")
BOB = client("hospital", "bob", "practitioner")
CARA = client("hospital", "cara", "practitioner")
IVY = client("insurer", "ivy", "claims-adjuster")
RITA = client("board", "rita", "registrar")
HOSPITAL_ADMIN = admin("hospital")
DAN = client("hospital", "dan", "practitioner")  # never licensed
MUM = client("hospital", "mum")  # the patient's guardian
SALT = b"0123456789abcdef"
DIGEST = hashlib.sha256(b"salt+lab report").hexdigest()
EDITED = hashlib.sha256(b"salt+corrected report").hexdigest()
TERMS: dict[str, Any] = {
    "plan": "gold-2026",
    "start": "2026-01-01",
    "end": "2027-01-01",
    "deductible": 10000,
    "coinsurance": 20,
    "annual_limit": 30000,
    "services": {"99213": {"fee": 15000, "max_quantity": 1}, "70551": {"fee": 80000, "max_quantity": 1}},
    "prior_authorization": ["70551"],
}


class RecordingLedger(Ledger):
    """A Ledger that also keeps what every proposal read and wrote: the MVCC behaviour."""

    def __init__(self) -> None:
        super().__init__(CredentialsContract(), ConsentContract(), ClaimsContract())
        self.rwsets: list[list[Any]] = []

    def _simulate(self, call: Call) -> tuple[str, SimulationResult]:
        tx_id, result = super()._simulate(call)
        namespaces = [
            [
                ns.namespace,
                [[r.key, r.version.block_num, r.version.tx_num] for r in ns.reads],
                [[w.key, w.is_delete] for w in ns.writes],
                [[r.start_key, r.end_key, len(r.reads)] for r in ns.range_reads],
            ]
            for ns in result.rwset.ns_rwset
        ]
        self.rwsets.append([tx_id, call.function, namespaces])
        return tx_id, result


def _claim(coverage: str, *items: tuple[str, str, int, int]) -> str:
    lines = [{"service": s, "date": d, "quantity": q, "unit_price": p} for s, d, q, p in items]
    return json.dumps({"coverage": coverage, "diagnosis_hash": DIGEST, "items": lines})


def _credentials(ledger: RecordingLedger, queries: dict[str, Any]) -> None:
    for who, until in ((BOB.id, "2026-06-01"), (CARA.id, "2027-01-01")):
        ledger.submit(RITA, "credentials", "issue", who, f"L-{who[-3:]}", "MD", "US-CA", "ICU,ER",
                      "2026-01-01", until)
    ledger.later(days=10)
    ledger.submit(RITA, "credentials", "suspend", CARA.id, "inquiry", "2026-03-05")
    ledger.later(days=1)
    ledger.submit(RITA, "credentials", "reinstate", CARA.id, "cleared")
    ledger.submit(RITA, "credentials", "renew", BOB.id, "2027-06-01", "renewed on time")
    queries["verify"] = ledger.evaluate(BOB, "credentials", "verify", CARA.id, "2026-03-06")
    for fn in ("get_credential", "qualification_fhir", "verification_result_fhir", "credential_document"):
        queries[fn] = ledger.evaluate(BOB, "credentials", fn, CARA.id)


def _consent(ledger: RecordingLedger, queries: dict[str, Any]) -> None:
    ledger.submit(PAT, "consent", "register_patient")
    for record_id, category in (("r-lab", "lab"), ("r-mh", "mental-health"), ("r-old", "lab")):
        transient = {"location": f"s3://vault/{record_id}".encode(), "content_hash": DIGEST.encode()}
        ledger.submit(PAT, "consent", "register_record", record_id, category, "N", transient=transient)
    ledger.submit(PAT, "consent", "grant_consent", "c1", "hospital", "access,use", "TREAT,HPAYMT", "lab")
    ledger.submit(PAT, "consent", "grant_consent", "c2", BOB.id, "access", "TREAT", "lab,mental-health",
                  "2026-03-01", "2026-12-31T18:30:00+02:00")
    ledger.submit(PAT, "consent", "deny_consent", "c3", CARA.id, "access", "TREAT", "mental-health")
    ledger.submit(PAT, "consent", "grant_consent", "c4", "insurer", "access", "HPAYMT", "lab")
    ledger.submit(PAT, "consent", "revoke_consent", "c4")
    ledger.submit(BOB, "consent", "access_record", PAT.id, "r-mh", "TREAT")
    ledger.submit(CARA, "consent", "access_record", PAT.id, "r-mh", "TREAT")
    ledger.submit(IVY, "consent", "access_record", PAT.id, "r-lab", "HPAYMT")
    ledger.submit(CARA, "consent", "access_record", PAT.id, "r-none", "TREAT")
    ledger.submit(PAT, "consent", "access_record", PAT.id, "r-lab", "TREAT")
    ledger.submit(CARA, "consent", "break_glass", PAT.id, transient={"reason": b"unconscious"})
    ledger.submit(CARA, "consent", "access_record", PAT.id, "r-mh", "ETREAT")
    ledger.submit(BOB, "consent", "break_glass", PAT.id, transient={"reason": b"cardiac arrest"})
    ledger.submit(PAT, "consent", "erase_record", PAT.id, "r-old", transient={"salt": SALT})
    ledger.submit(HOSPITAL_ADMIN, "consent", "erase_record", PAT.id, "r-lab", "court order 12",
                  transient={"salt": SALT})
    ledger.submit(CARA, "consent", "access_record", PAT.id, "r-lab", "TREAT")
    # issue 10: a refused break-glass is committed and audited; an edit under a correct grant; a
    # claims adjuster named with their role; a guardian acting for the patient, audited
    ledger.submit(DAN, "consent", "break_glass", PAT.id, transient={"reason": b"fall"})
    ledger.submit(PAT, "consent", "grant_consent", "c6", BOB.id, "correct", "TREAT", "mental-health")
    ledger.submit(BOB, "consent", "correct_record", PAT.id, "r-mh", "TREAT",
                  transient={"content_hash": EDITED.encode()})
    ledger.submit(PAT, "consent", "grant_consent", "c7", IVY.id, "access", "HPAYMT", "mental-health", "", "",
                  "claims-adjuster")
    ledger.submit(HOSPITAL_ADMIN, "consent", "name_delegate", PAT.id, MUM.id, "GUARD", "minor")
    ledger.submit(MUM, "consent", "deny_consent_for", PAT.id, "c8", "insurer", "access", "HRESCH", "lab")
    queries["disclosures_for"] = ledger.submit(MUM, "consent", "disclosures_for", PAT.id, "2026-01-01",
                                               "2027-01-01")
    queries["patient_delegates"] = ledger.evaluate(PAT, "consent", "patient_delegates")
    queries["pending_reviews"] = ledger.evaluate(HOSPITAL_ADMIN, "consent", "pending_reviews")
    first_review = queries["pending_reviews"]["items"][0]
    ledger.submit(HOSPITAL_ADMIN, "consent", "close_review", first_review["id"], "justified")
    queries["check_access"] = ledger.evaluate(BOB, "consent", "check_access", PAT.id, "r-mh", "TREAT")
    for fn in ("patient_records", "patient_consents", "access_summary"):
        queries[fn] = ledger.evaluate(PAT, "consent", fn)
    for consent_id in ("c2", "c3", "c7", "c8"):
        queries[f"consent_fhir {consent_id}"] = ledger.evaluate(PAT, "consent", "consent_fhir", consent_id)
    for fn in ("disclosures", "audit_events_fhir"):
        queries[fn] = ledger.evaluate(PAT, "consent", fn, "2026-01-01", "2027-01-01")


def _claims(ledger: RecordingLedger, queries: dict[str, Any]) -> None:
    ledger.submit(IVY, "claims", "register_coverage", "cov1", PAT.id, json.dumps(TERMS))
    copay = {k: v for k, v in TERMS.items() if k != "coinsurance"} | {"copay": 2500, "currency": "EUR",
                                                                      "filing_limit_days": 30}
    ledger.submit(IVY, "claims", "register_coverage", "cov2", PAT.id, json.dumps(copay))
    ledger.submit(IVY, "claims", "grant_prior_authorization", "pa1", "cov1", "70551", "2026-03-01",
                  "2026-04-01")
    monthly = TERMS | {"services": {"99213": {"fee": 15000, "max_quantity": 1,
                                               "frequency": {"count": 1, "per": "month"}}},
                       "prior_authorization": []}
    ledger.submit(IVY, "claims", "register_coverage", "cov3", PAT.id, json.dumps(monthly))
    # a claim needs a treatment relationship on the date of service: Bob's consent c2 runs from
    # 2026-03-01 (his February line is denied 242); Cara is treating from January on
    ledger.submit(PAT, "consent", "grant_consent", "c5", CARA.id, "access", "TREAT", "lab", "2026-01-01")
    ledger.submit(BOB, "claims", "submit_claim", "cl1", _claim(
        "cov1", ("99213", "2026-03-10", 1, 20000), ("70551", "2026-03-11", 1, 80000),
        ("99213", "2026-03-10", 1, 20000), ("12345", "2026-03-10", 1, 100), ("99213", "2025-12-01", 1, 10),
    ))
    ledger.submit(BOB, "claims", "submit_claim", "cl2", _claim(
        "cov1", ("70551", "2026-02-11", 1, 100), ("99213", "2026-03-09", 2, 100),
    ))
    ledger.submit(BOB, "claims", "submit_claim", "cl3", _claim("cov2", ("99213", "2026-03-08", 1, 9000)))
    ledger.submit(CARA, "claims", "submit_claim", "cl4", _claim("cov2", ("99213", "2026-01-02", 1, 9000)))
    transient = {"diagnosis": b"I10", "salt": SALT}
    ledger.submit(CARA, "claims", "submit_claim", "cl5", json.dumps(
        {"coverage": "cov2", "items": [{"service": "70551", "date": "2026-03-09", "quantity": 1,
                                        "unit_price": 5}]}), transient=transient)
    correction = _claim("cov1", ("99213", "2026-03-09", 1, 100))
    ledger.submit(BOB, "claims", "correct_claim", "cl2", "cl2b", correction)
    ledger.submit(BOB, "claims", "submit_claim", "cl6", _claim("cov3", ("99213", "2026-03-05", 1, 15000)))
    ledger.submit(BOB, "claims", "submit_claim", "cl7", _claim("cov3", ("99213", "2026-03-06", 1, 15000)))
    ledger.submit(BOB, "claims", "submit_claim", "cl8", _claim("cov1", ("99213", "2026-03-10", 1, 20001)))
    ledger.submit(CARA, "claims", "void_claim", "cl5", "entered twice")
    ledger.submit(IVY, "claims", "mark_paid", "cl1", "pay-1")
    ledger.submit(IVY, "claims", "mark_paid", "cl3", "pay-3")
    for coverage_id in ("cov1", "cov2", "cov3"):
        queries[f"coverage_fhir {coverage_id}"] = ledger.evaluate(PAT, "claims", "coverage_fhir", coverage_id)
    for claim_id in ("cl1", "cl2", "cl2b", "cl3", "cl4", "cl5", "cl6", "cl7", "cl8"):
        for fn in ("get_claim", "claim_fhir", "claim_response_fhir"):
            queries[f"{fn} {claim_id}"] = ledger.evaluate(PAT, "claims", fn, claim_id)
    queries["my_claims"] = ledger.evaluate(BOB, "claims", "my_claims")
    queries["get_coverage"] = ledger.evaluate(IVY, "claims", "get_coverage", "cov2")


def run_story() -> dict[str, Any]:
    """Committed state (namespace, key, value text), events, query answers and read-write sets."""
    ledger = RecordingLedger()
    queries: dict[str, Any] = {}
    _credentials(ledger, queries)
    _consent(ledger, queries)
    _claims(ledger, queries)
    queries["status_list suspension"] = ledger.evaluate(RITA, "credentials", "status_list", "suspension")
    ledger.submit(RITA, "credentials", "revoke", BOB.id, "fraud", "2026-03-01")
    queries["status_list revocation"] = ledger.evaluate(RITA, "credentials", "status_list", "revocation")
    queries["audit_events_fhir page of 2"] = ledger.evaluate(  # links the next page; last, so that
        PAT, "consent", "audit_events_fhir", "2026-01-01", "2027-01-01", "2")  # no later tx id moves
    state = [
        [ns, key, value.decode("utf-8")] for (ns, key), (value, _) in sorted(ledger.state.values.items())
    ]
    return {"state": state, "events": ledger.events, "queries": queries, "rwsets": ledger.rwsets}


if __name__ == "__main__":
    print(json.dumps(run_story(), indent=1, sort_keys=True, ensure_ascii=True))
