"""One real network per test session: orderer and three peers as processes, gRPC over TLS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from careledger.network.testing import LocalNetwork, local_network

CONFIG = Path(__file__).with_name("network.toml")


@pytest.fixture(scope="session")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    with local_network(CONFIG, tmp_path_factory.mktemp("net")) as network:
        yield network


@pytest.fixture()
def hospital(net: LocalNetwork):  # noqa: ANN201 - a Contract
    with net.connect("hospital:admin") as gw:
        yield gw.get_network(net.profile.channel).get_contract("basic")
