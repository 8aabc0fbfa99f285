"""The healthcare contracts write, announce, read and render exactly what they did before they
became packages: same world-state bytes, events, query answers (FHIR included) and read-write sets;
and every typed record reads and writes back the exact bytes it was stored as."""

from __future__ import annotations

import json

import pytest
from ledgerstory import GOLDEN, run_story

from careledger.chaincode.codec import canonical_json
from careledger.chaincode.contracts.claims import records as claims
from careledger.chaincode.contracts.common import LedgerRecord
from careledger.chaincode.contracts.consent import records as consent
from careledger.chaincode.contracts.credentials import records as credentials
from careledger.chaincode.keypolicy import KEY_POLICY_NAMESPACE
from careledger.chaincode.stub import split_composite_key


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads(GOLDEN.read_text())


@pytest.fixture(scope="module")
def story() -> dict:
    return json.loads(json.dumps(run_story()))


@pytest.mark.parametrize("part", ["state", "events", "queries", "rwsets"])
def test_story_matches_what_the_contracts_wrote_before(golden, story, part):
    assert story[part] == golden[part]


RECORD_TYPES: dict[tuple[str, str], type[LedgerRecord]] = {
    ("consent", "patient"): consent.Patient,
    ("consent", "record"): consent.RecordPointer,
    ("consent", "consent"): consent.Consent,
    ("consent", "audit"): consent.AuditEvent,
    ("consent", "break-glass"): consent.BreakGlass,
    ("consent", "review"): consent.Review,
    ("consent", "delegate"): consent.Delegation,
    ("claims", "coverage"): claims.Coverage,
    ("claims", "coverage-by-patient"): claims.CoverageRef,
    ("claims", "prior-auth"): claims.PriorAuthorization,
    ("claims", "claim"): claims.Claim,
    ("claims", "claim-by-patient"): claims.ClaimRef,
    ("claims", "claim-by-provider"): claims.ClaimRef,
    ("claims", "claim-service"): claims.LineRef,
    ("claims", "accumulator"): claims.Accumulator,
    ("claims", "service-usage"): claims.ServiceUsage,
    ("credentials", "credential"): credentials.Credential,
    ("credentials", "status-list"): credentials.StatusCounter,
}


def test_every_record_on_the_ledger_round_trips_to_the_same_bytes(golden):
    seen = set()
    for namespace, state_key, text in golden["state"]:
        if namespace == KEY_POLICY_NAMESPACE:  # a key's endorsement policy, not a record
            continue
        object_type, _ = split_composite_key(state_key)
        kind = RECORD_TYPES[(namespace, object_type)]
        record = kind.from_json(json.loads(text))
        assert canonical_json(record.to_json()) == text.encode("utf-8"), (namespace, object_type)
        assert kind.from_json(record.to_json()) == record
        seen.add((namespace, object_type))
    assert seen == set(RECORD_TYPES)


# Written by ledgers before issue 10, which the story no longer writes: the duplicate index was
# ("claim-line", sha256(patient, provider, service, date, quantity, price)). They still load, and
# voiding a claim of that time still releases them (test_contract_claims).
LEGACY = [
    ("claims", "claim-line", '{"claim":"cl1","sequence":1}', claims.LineRef),
    # Before issue 10 a permit named no roles (an org-wide one now covers only its licensed
    # clinical identities, consent/rules.covered_roles) and an audit event no action (a read).
    (
        "consent",
        "consent",
        '{"actions":["access","use"],"actor":"hospital","categories":["lab"],"id":"c1",'
        '"patient":"hospital/pat1","period":{"start":"2026-03-12T12:00:00Z"},"provision":"permit",'
        '"purposes":["TREAT","HPAYMT"],"recorded":"2026-03-12T12:00:00Z","status":"active"}',
        consent.Consent,
    ),
    (
        "consent",
        "audit",
        '{"agent":"hospital/bob","basis":"consent/c2","category":"mental-health","granted":true,'
        '"id":"tx0020","patient":"hospital/pat1","purpose":"TREAT","reason":"consent c2 permits '
        'mental-health access for TREAT","record":"r-mh","recorded":"2026-03-12T12:00:00Z"}',
        consent.AuditEvent,
    ),
]


@pytest.mark.parametrize(("namespace", "object_type", "text", "kind"), LEGACY)
def test_records_of_the_earlier_format_still_load(namespace, object_type, text, kind):
    record = kind.from_json(json.loads(text))
    assert canonical_json(record.to_json()) == text.encode("utf-8"), (namespace, object_type)
