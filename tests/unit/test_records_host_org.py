"""The record store's host org comes from the network configuration, through the profile."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from careledger.gateway.local import records_host_org
from careledger.network.config import DEFAULT_CONFIG, ConfigError, NetworkConfig, Profile

DEFAULT_TOML = DEFAULT_CONFIG.read_text()


def _config(tmp_path: Path, text: str) -> NetworkConfig:
    path = tmp_path / "network.toml"
    path.write_text(text)
    return NetworkConfig.load(path)


def test_the_default_network_hosts_the_record_store_on_the_hospital() -> None:
    assert NetworkConfig.load().records_org == "hospital"


def test_records_host_org_names_another_org_of_the_network(tmp_path: Path) -> None:
    text = DEFAULT_TOML.replace('[records]\nhost_org = "hospital"', '[records]\nhost_org = "board"')
    assert _config(tmp_path, text).records_org == "board"


def test_a_config_without_records_keeps_the_hospital(tmp_path: Path) -> None:
    text = DEFAULT_TOML.replace('[records]\nhost_org = "hospital"', "")
    assert _config(tmp_path, text).records_org == "hospital"


def test_a_records_host_org_outside_the_network_is_refused(tmp_path: Path) -> None:
    text = DEFAULT_TOML.replace('[records]\nhost_org = "hospital"', '[records]\nhost_org = "pharmacy"')
    with pytest.raises(ConfigError, match="'pharmacy' .* none of the network's orgs"):
        _config(tmp_path, text)


def test_the_profile_carries_the_host_org_to_peers_and_the_sdk(tmp_path: Path) -> None:
    profile = replace(Profile("healthcare", "orderer", ("hospital", "board"), NetworkConfig.load().orderer,
                              (), (), ()), records_org="board")
    profile.save(tmp_path)
    assert Profile.load(tmp_path).records_org == "board"
    assert records_host_org(tmp_path) == "board"
