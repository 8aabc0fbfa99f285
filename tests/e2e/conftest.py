"""End-to-end tests share the session network of the careledger pytest plugin.

The plugin (network/local/pytest_plugin.py) starts the network from tests/e2e/network.toml, as set by
`careledger_network_config` in pyproject.toml: the same fixture an integrator's suite uses.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from careledger.gateway import Contract
from careledger.network.local.testing import LocalNetwork


@pytest.fixture(scope="session")
def net(careledger_network: LocalNetwork) -> LocalNetwork:
    return careledger_network


@pytest.fixture()
def hospital(net: LocalNetwork) -> Iterator[Contract]:
    with net.connect("hospital:admin") as gw:
        yield gw.get_network(net.profile.channel).get_contract("basic")
