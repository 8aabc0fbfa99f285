"""Paginated lists through the real network (issue 11): 250 records and 250 disclosures of one
patient, read in pages of 100 through the SDK (blocking and asyncio) and the CLI, and the refusals
of a page size out of range and of a bookmark another query made."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import grpc
import pytest
from healthcare import SMITH, Ledger, issue, ledger_id, new_category, new_id

from careledger.gateway import EvaluateError, aio, pages
from careledger.network.local.testing import LocalNetwork

pytest_plugins = ("healthcare",)

COUNT, PAGE = 250, 100
SINCE, UNTIL = "2000-01-01", "2100-01-01"


Calls = list[tuple[tuple[str, ...], dict[str, bytes]]]


def _commit_all(care: Ledger, who: str, fn: str, calls: Calls) -> None:
    """Submit every call at once (endorsed one by one, ordered together) and wait for each block."""
    contract = care.contract(who, "consent")
    submitted = [contract.submit_async(fn, *args, transient=transient) for args, transient in calls]
    for tx in submitted:
        assert care.settle(tx.get_status(), tx.result).code == "VALID"


@pytest.fixture(scope="module")
def patient(net: LocalNetwork, care: Ledger, smith_licensed: dict) -> tuple[str, list[str]]:
    """A new patient with 250 records and 250 granted reads of one of them by Dr Smith; its
    org:user and its record ids."""
    who = issue(net, "hospital", "pt", role="patient")
    care.submit(who, "consent", "register_patient")
    category = new_category()
    records = sorted(new_id("rec") for _ in range(COUNT))
    _commit_all(care, who, "register_record", [
        ((record, category, "N"), {"location": f"vault://{record}".encode(), "content_hash": b"a" * 64})
        for record in records
    ])
    care.submit(who, "consent", "grant_consent", new_id("consent"), ledger_id(SMITH), "access", "TREAT",
                category)
    _commit_all(care, SMITH, "access_record", [((ledger_id(who), records[0], "TREAT"), {})] * COUNT)
    return who, records


def _run(net: LocalNetwork, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "careledger.cli", "tx", "list", *args, "--json",
                           "--dir", str(net.directory)], capture_output=True, text=True, timeout=120)


def _cli(net: LocalNetwork, *args: str) -> dict[str, Any]:
    done = _run(net, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_250_records_come_in_pages_of_100_through_the_sdk(care: Ledger, patient) -> None:
    who, records = patient
    read = list(pages(care.contract(who, "consent"), "patient_records", page_size=PAGE))
    assert [len(page.items) for page in read] == [100, 100, 50]
    assert [r["id"] for page in read for r in page.items] == records  # key order, none twice
    assert [bool(page.bookmark) for page in read] == [True, True, False]
    assert sum(page.fetched for page in read) == COUNT
    again = list(pages(care.contract(who, "consent"), "patient_records", page_size=PAGE))
    assert [page.bookmark for page in again] == [page.bookmark for page in read]  # deterministic


def test_250_disclosures_come_in_pages_of_100_and_the_asyncio_sdk_agrees(net: LocalNetwork, care: Ledger,
                                                                         patient) -> None:
    who, records = patient
    read = list(pages(care.contract(who, "consent"), "disclosures", SINCE, UNTIL, page_size=PAGE))
    assert [(len(page.items), page.fetched) for page in read] == [(100, 100), (100, 100), (50, 50)]
    found = [d for page in read for d in page.items]
    assert {(d["recipient"], d["record"]) for d in found} == {(ledger_id(SMITH), records[0])}
    first = care.evaluate(who, "consent", "audit_events_fhir", SINCE, UNTIL, str(PAGE))
    assert len(first["entry"]) == PAGE and first["link"][0]["relation"] == "next"
    assert len(care.audit_events(who, SINCE, UNTIL)) == COUNT  # the FHIR export, by its next links

    async def every_record() -> list[Any]:
        async with aio.connect_local(net.directory, who) as gateway:
            contract = gateway.get_network(net.profile.channel).get_contract("consent")
            return [r async for r in aio.items(contract, "patient_records", page_size=PAGE)]

    assert [r["id"] for r in asyncio.run(every_record())] == records


def test_the_cli_prints_a_page_and_its_bookmark_and_reads_them_all(net: LocalNetwork, patient) -> None:
    who, records = patient
    first = _cli(net, "--as", who, "consent", "patient_records", "--page-size", str(PAGE))
    assert [r["id"] for r in first["items"]] == records[:100] and first["pages"] == 1
    second = _cli(net, "--as", who, "consent", "patient_records", "--page-size", str(PAGE),
                  "--bookmark", first["bookmark"])
    assert [r["id"] for r in second["items"]] == records[100:200] and second["bookmark"]
    every = _cli(net, "--as", who, "consent", "disclosures", SINCE, UNTIL, "--page-size", str(PAGE), "--all")
    assert (len(every["items"]), every["pages"], every["fetched"], every["bookmark"]) == (COUNT, 3, COUNT, "")
    no_list = _run(net, "--as", "board:rita", "credentials", "verify", ledger_id(SMITH))  # no list function
    error = json.loads(no_list.stdout)["error"]
    assert no_list.returncode != 0 and error["code"] == "INVALID_ARGUMENT"
    assert error["message"].startswith("contract 'credentials' function 'verify' takes 1 to 2 argument")


@pytest.mark.parametrize(("args", "named"), [
    (("0", ""), "page_size 0 is out of range"),
    (("1001", ""), "page_size 1001 is out of range"),
    (("ten", ""), "page_size 'ten' is not a whole number"),
    (("", "bm90LWEta2V5"), "bookmark 'bm90LWEta2V5' was not made by this query"),
])
def test_a_bad_page_size_or_bookmark_is_invalid_argument(care: Ledger, patient, args, named) -> None:
    who, _ = patient
    with pytest.raises(EvaluateError) as refused:
        care.contract(who, "consent").evaluate_transaction("patient_records", *args)
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.message.startswith(named)


def test_a_bookmark_of_another_list_or_patient_is_refused(net: LocalNetwork, care: Ledger, patient) -> None:
    who, _ = patient
    (first, *_) = pages(care.contract(who, "consent"), "patient_records", page_size=PAGE)
    other = issue(net, "hospital", "pt", role="patient")
    care.submit(other, "consent", "register_patient")
    for caller, fn, args in [(who, "disclosures", (SINCE, UNTIL)), (other, "patient_records", ())]:
        with pytest.raises(EvaluateError) as refused:
            care.contract(caller, "consent").evaluate_transaction(fn, *args, "", first.bookmark)
        assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "was not made by this query" in refused.value.message
