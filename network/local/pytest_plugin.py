"""pytest fixtures for testing against a real CareLedger network (registered as a pytest11 plugin).

    def test_patient_registers(careledger_connect):
        consent = careledger_connect("hospital:alice").get_network("healthcare").get_contract("consent")
        consent.submit_transaction("register_patient")

`careledger_network` starts one network per test session (separate processes, TLS) in a temporary
directory; set the ini option `careledger_network_config` to use your own network TOML.

pytest loads this plugin in every run of any environment where CareLedger is installed, so it
imports nothing heavy (gRPC, protobuf, the SDK, the launcher) until a test uses its fixtures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from careledger.gateway import Gateway
    from careledger.network.local.testing import LocalNetwork


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("careledger_network_config",
                  "network TOML for the careledger_network fixture (default: the built-in network)",
                  default="")


@pytest.fixture(scope="session")
def careledger_network(request: pytest.FixtureRequest,
                       tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    """A running local network for the whole session; stopped when the session ends."""
    from careledger.network.local.testing import local_network

    configured = request.config.getini("careledger_network_config")
    config = (request.config.rootpath / configured) if configured else None
    with local_network(config, tmp_path_factory.mktemp("careledger")) as network:
        yield network


@pytest.fixture()
def careledger_connect(careledger_network: LocalNetwork) -> Iterator[Callable[..., Gateway]]:
    """Connect the SDK as "ORG[:USER]" (optionally to a named peer); closed after the test."""
    opened: list[Gateway] = []

    def connect(who: str = "hospital:admin", peer: str | None = None) -> Gateway:
        gateway = careledger_network.connect(who, peer)
        opened.append(gateway)
        return gateway

    yield connect
    for gateway in opened:
        gateway.close()
