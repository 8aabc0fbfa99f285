"""The contracts' list functions a page at a time (issue 11): every item once, in key order, across
pages; filtered lists answer what the caller may see, so a page may hold fewer items than asked;
another caller's or another list's bookmark is a 400 and reveals nothing."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from contractharness import Call, Ledger, admin, client

from careledger.chaincode.contracts.claims import ClaimsContract
from careledger.chaincode.contracts.consent import ConsentContract
from careledger.chaincode.contracts.credentials import CredentialsContract

PAT = client("hospital", "pat1", "patient")
OTHER_PAT = client("hospital", "pat2", "patient")
BOB = client("hospital", "bob", "practitioner")
DAN = client("hospital", "dan", "practitioner")
REGISTRAR = client("board", "rita", "registrar")
ADJUSTER = client("insurer", "ivy", "claims-adjuster")
HASH = hashlib.sha256(b"document").hexdigest()
TERMS = {"plan": "gold-2026", "start": "2026-01-01", "end": "2027-01-01", "currency": "USD", "deductible": 0,
         "coinsurance": 20, "annual_limit": 100000, "services": {"99213": {"fee": 15000, "max_quantity": 1}},
         "prior_authorization": []}


@pytest.fixture
def ledger() -> Ledger:
    ledger = Ledger(ConsentContract(), CredentialsContract(), ClaimsContract())
    for patient in (PAT, OTHER_PAT):
        ledger.submit(patient, "consent", "register_patient")
    for i in range(5):
        ledger.submit(PAT, "consent", "register_record", f"r{i}", "lab", "N",
                      transient={"location": f"s3://vault/r{i}".encode(), "content_hash": HASH.encode()})
    ledger.submit(REGISTRAR, "credentials", "issue", BOB.id, "CA-1", "MD", "US-CA", "", "2026-01-01",
                  "2027-01-01")
    return ledger


def all_pages(ledger: Ledger, who: Any, contract: str, fn: str, *args: str, size: int) -> list[dict]:
    """Every page of a list function, following the bookmarks."""
    found, bookmark = [], ""
    while True:
        page = ledger.evaluate(who, contract, fn, *args, str(size), bookmark)
        found.append(page)
        bookmark = page["bookmark"]
        if not bookmark:
            return found


def status(ledger: Ledger, who: Any, contract: str, fn: str, *args: str) -> tuple[int, str]:
    response = ledger.simulate(Call(who, contract, fn, args)).response
    return response.status, response.message


def test_records_come_once_each_in_key_order_across_pages(ledger) -> None:
    pages = all_pages(ledger, PAT, "consent", "patient_records", size=2)
    assert [[r["id"] for r in page["items"]] for page in pages] == [["r0", "r1"], ["r2", "r3"], ["r4"]]
    assert [page["fetched"] for page in pages] == [2, 2, 1]
    assert ledger.evaluate(PAT, "consent", "patient_records") == {  # no paging arguments: page 1 of 100
        "items": [r for page in pages for r in page["items"]], "bookmark": "", "fetched": 5}
    assert all_pages(ledger, OTHER_PAT, "consent", "patient_records", size=2) == [
        {"items": [], "bookmark": "", "fetched": 0}]


def test_a_bookmark_works_only_for_its_own_caller_and_list(ledger) -> None:
    bookmark = ledger.evaluate(PAT, "consent", "patient_records", "2")["bookmark"]
    for who, fn in [(OTHER_PAT, "patient_records"), (PAT, "patient_consents"), (PAT, "patient_delegates")]:
        code, message = status(ledger, who, "consent", fn, "2", bookmark)
        assert code == 400 and message.startswith(f"bookmark {bookmark!r} was not made by this query")
        assert "r2" not in message  # the refusal shows no key of another's
    assert status(ledger, PAT, "consent", "patient_records", "1001")[0] == 400
    # the role rule comes first: a practitioner learns nothing from a page argument
    assert status(ledger, BOB, "consent", "patient_records", "0") == (
        500, "hospital/bob may not call patient_records: it needs attribute role=patient")


def test_disclosures_page_over_the_audit_trail_and_answer_only_disclosures(ledger) -> None:
    ledger.submit(PAT, "consent", "grant_consent", "c1", BOB.id, "access", "TREAT", "lab")
    for record in ("r0", "r1", "r2"):
        ledger.submit(BOB, "consent", "access_record", PAT.id, record, "TREAT")  # granted: disclosed
    for record in ("r3", "r4"):
        ledger.submit(DAN, "consent", "access_record", PAT.id, record, "TREAT")  # refused: audited only
    pages = all_pages(ledger, PAT, "consent", "disclosures", "2026-01-01", "2027-01-01", size=2)
    assert [page["fetched"] for page in pages] == [2, 2, 1]  # five audit events read
    assert sorted(d["record"] for page in pages for d in page["items"]) == ["r0", "r1", "r2"]
    assert any(len(page["items"]) < page["fetched"] for page in pages)  # a filtered page is short
    later = all_pages(ledger, PAT, "consent", "disclosures", "2026-03-02", "2027-01-01", size=2)
    assert [page["items"] for page in later] == [[], [], []]  # pages go on, none in those dates


def test_the_fhir_audit_trail_links_its_next_page_until_the_last(ledger) -> None:
    ledger.submit(PAT, "consent", "grant_consent", "c1", BOB.id, "access", "TREAT", "lab")
    for record in ("r0", "r1", "r2"):
        ledger.submit(BOB, "consent", "access_record", PAT.id, record, "TREAT")
    seen, bookmark = [], ""
    while True:
        bundle = ledger.evaluate(PAT, "consent", "audit_events_fhir", "2026-01-01", "2027-01-01", "2",
                                 bookmark)
        seen.append(len(bundle["entry"]))
        if "link" not in bundle:
            break
        (link,) = bundle["link"]
        assert link["relation"] == "next" and link["url"].startswith("?bookmark=")
        bookmark = link["url"].removeprefix("?bookmark=")
    assert seen == [2, 1]
    code, message = status(ledger, OTHER_PAT, "consent", "audit_events_fhir", "2026-01-01", "2027-01-01", "2",
                           bookmark)
    assert code == 400 and "was not made by this query" in message


def test_pending_reviews_answer_the_open_ones_of_each_page(ledger) -> None:
    ledger.submit(REGISTRAR, "credentials", "issue", DAN.id, "CA-2", "MD", "US-CA", "", "2026-01-01",
                  "2027-01-01")
    opened = [ledger.submit(who, "consent", "break_glass", PAT.id, transient={"reason": b"collapse"})
              for who in (BOB, DAN)]
    ledger.submit(admin("hospital"), "consent", "close_review", opened[0]["id"], "justified")
    pages = all_pages(ledger, admin("hospital"), "consent", "pending_reviews", size=1)
    assert [page["fetched"] for page in pages] == [1, 1]
    assert [item["id"] for page in pages for item in page["items"]] == [opened[1]["id"]]


def test_my_claims_pages_through_the_callers_index(ledger) -> None:
    ledger.submit(ADJUSTER, "claims", "register_coverage", "cov1", PAT.id, json.dumps(TERMS))
    ledger.submit(PAT, "consent", "grant_consent", "treat", BOB.id, "access", "TREAT", "lab", "2026-01-01")
    for claim_id, day in [("c1", "2026-02-20"), ("c2", "2026-02-21"), ("c3", "2026-02-22")]:
        line = {"service": "99213", "date": day, "quantity": 1, "unit_price": 15000}
        ledger.submit(BOB, "claims", "submit_claim", claim_id,
                      json.dumps({"coverage": "cov1", "diagnosis_hash": HASH, "items": [line]}))
    for who in (PAT, BOB):
        pages = all_pages(ledger, who, "claims", "my_claims", size=2)
        assert [[c["id"] for c in page["items"]] for page in pages] == [["c1", "c2"], ["c3"]]
    bookmark = ledger.evaluate(PAT, "claims", "my_claims", "2")["bookmark"]
    assert status(ledger, BOB, "claims", "my_claims", "2", bookmark)[0] == 400  # the patient's index
    assert ledger.evaluate(OTHER_PAT, "claims", "my_claims") == {"items": [], "bookmark": "", "fetched": 0}
