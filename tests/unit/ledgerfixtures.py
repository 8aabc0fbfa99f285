"""Fixtures for tests of a peer's Ledger: a two-org network's certificates and a fresh ledger.

A test module loads them with `pytest_plugins = ("ledgerfixtures",)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from txfactory import TestNetwork

from careledger.network.peer.ledger import Ledger
from careledger.network.peer.policy import parse
from careledger.network.peer.statedb import StateDB
from careledger.network.peer.validation import Validator

Factory = Callable[[StateDB], Validator]


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> TestNetwork:
    return TestNetwork.create(tmp_path_factory.mktemp("crypto"), ["hospital", "insurer"])


@pytest.fixture
def factory(net: TestNetwork) -> Factory:
    membership = net.membership()
    policies = {"consent": parse("AND(hospital, insurer)")}
    return lambda state: Validator("healthcare", membership, policies, state)


@pytest.fixture
def ledger(tmp_path: Path, factory: Factory) -> Iterator[Ledger]:
    with Ledger(tmp_path / "ledger", factory) as led:
        yield led
