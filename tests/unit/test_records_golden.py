"""The healthcare contracts write, announce, read and render exactly what they did before they
became packages: same world-state bytes, events, query answers (FHIR included) and read-write sets."""

from __future__ import annotations

import json

import pytest
from ledgerstory import GOLDEN, run_story


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads(GOLDEN.read_text())


@pytest.fixture(scope="module")
def story() -> dict:
    return json.loads(json.dumps(run_story()))


@pytest.mark.parametrize("part", ["state", "events", "queries", "rwsets"])
def test_story_matches_what_the_contracts_wrote_before(golden, story, part):
    assert story[part] == golden[part]
