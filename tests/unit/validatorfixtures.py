"""The fixtures of a validator's tests: a three-org network's certificates, a fresh state database
and a Validator over both with the module's contract policies.

A test module binds them with `net, state, validator = validator_fixtures(POLICIES)`: plain names in
that module, so they shadow no other module's `net` (a `pytest_plugins` module's fixtures would be
global, and ledgerfixtures has a two-org `net`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from txfactory import TestNetwork

from careledger.network.peer.policy import Policy
from careledger.network.peer.statedb import StateDB
from careledger.network.peer.validation import Validator


def validator_fixtures(policies: Mapping[str, Policy]) -> tuple[Callable[..., Any], ...]:
    """The fixtures `net`, `state` and `validator` (the contracts' policies are `policies`)."""

    @pytest.fixture(scope="module")
    def net(tmp_path_factory: pytest.TempPathFactory) -> TestNetwork:
        return TestNetwork.create(tmp_path_factory.mktemp("crypto"), ["hospital", "insurer", "board"])

    @pytest.fixture
    def state(tmp_path: Path) -> Iterator[StateDB]:
        with StateDB(tmp_path / "state.db") as db:
            yield db

    @pytest.fixture
    def validator(net: TestNetwork, state: StateDB) -> Validator:
        return Validator("healthcare", net.membership(), policies, state)

    return net, state, validator
