"""The network TOML is checked before any process starts (issue 14): a typed schema (pydantic) names
the file, the key, the expected type or the allowed values; unknown keys are refused with a
did-you-mean; policies are checked against the declared orgs and contract classes imported."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from careledger.cli.main import cli
from careledger.network.config import DEFAULT_CONFIG, ConfigError, NetworkConfig
from careledger.network.local.launcher import check_contracts

DEFAULT_TOML = DEFAULT_CONFIG.read_text()


def _write(tmp_path: Path, text: str, name: str = "x.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _changed(old: str, new: str) -> str:
    assert old in DEFAULT_TOML
    return DEFAULT_TOML.replace(old, new, 1)


def _checked(path: Path) -> NetworkConfig:
    """What `network up` does before starting anything: load, then the cross-checks."""
    config = NetworkConfig.load(path)
    check_contracts(str(path), [o.name for o in config.orgs], config.contracts)
    return config


def test_every_shipped_network_config_passes_the_schema_and_the_cross_checks() -> None:
    root = Path(__file__).resolve().parents[2]
    for path in [DEFAULT_CONFIG, *root.glob("tests/e2e/*.toml"), *root.glob("benchmarks/*.toml")]:
        _checked(path)


def test_a_string_for_an_integer_is_refused_naming_file_key_and_type(tmp_path: Path) -> None:
    path = _write(tmp_path, _changed("batch_max_tx = 500 ", 'batch_max_tx = "lots" '))
    with pytest.raises(ConfigError) as exc:
        NetworkConfig.load(path)
    assert str(exc.value) == f'{path}: orderer.batch_max_tx: expected an integer, got "lots"'


def test_out_of_range_and_not_allowed_values_are_refused(tmp_path: Path) -> None:
    text = _changed('consensus = "solo"', 'consensus = "raft"').replace("batch_timeout_ms = 100",
                                                                      "batch_timeout_ms = -1")
    with pytest.raises(ConfigError) as exc:
        NetworkConfig.load(_write(tmp_path, text))
    message = str(exc.value)
    assert "orderer.consensus: expected 'solo' or 'etcd', got \"raft\"" in message
    assert "orderer.batch_timeout_ms: " in message and "got -1" in message


def test_a_misspelled_key_is_refused_with_a_did_you_mean(tmp_path: Path) -> None:
    path = _write(tmp_path, _changed("batch_max_tx = 500", "batch_max_txs = 500"))
    with pytest.raises(ConfigError) as exc:
        NetworkConfig.load(path)
    assert str(exc.value) == f'{path}: unknown key "batch_max_txs" in [orderer]; did you mean "batch_max_tx"?'


def test_misspelled_keys_in_nested_and_aliased_tables(tmp_path: Path) -> None:
    text = _changed('[contracts.basic]\nclass =', '[contracts.basic]\nklass =').replace(
        '[[orgs]]\nname = "insurer"\npeers = 1', '[[orgs]]\nname = "insurer"\npeer = 1')
    with pytest.raises(ConfigError) as exc:
        NetworkConfig.load(_write(tmp_path, text))
    message = str(exc.value)
    assert 'unknown key "klass" in [contracts.basic]; did you mean "class"?' in message
    assert "contracts.basic.class: required key is missing" in message
    assert 'unknown key "peer" in [orgs[1]]; did you mean "peers"?' in message


def test_a_config_without_orgs_names_the_missing_key(tmp_path: Path) -> None:
    path = _write(tmp_path, 'channel = "healthcare"\n[orderer]\nbatch_max_tx = 10\n')
    with pytest.raises(ConfigError, match=r"x\.toml: orgs: required key is missing; a network needs at "
                                          r"least one \[\[orgs\]\]"):
        NetworkConfig.load(path)


def test_a_policy_naming_an_unknown_org_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, _changed('policy = "AND(hospital, insurer)"', 'policy = "AND(hospital, insurr)"'))
    with pytest.raises(ConfigError) as exc:
        _checked(path)
    assert str(exc.value) == (f'{path}: contracts.basic.policy "AND(hospital, insurr)" names org "insurr", '
                              "which is none of the network's orgs (board, hospital, insurer); "
                              'did you mean "insurer"?')


def test_a_policy_that_does_not_parse_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, _changed('policy = "board"', 'policy = "AND(board"'))
    with pytest.raises(ConfigError, match=r"contracts\.credentials\.policy: policy 'AND\(board'"):
        _checked(path)


def test_a_contract_class_that_does_not_import_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, _changed("contracts.claims:ClaimsContract", "contracts.claimz:ClaimsContract"))
    with pytest.raises(ConfigError) as exc:
        _checked(path)
    assert "contracts.claims.class: contract spec 'careledger.chaincode.contracts.claimz:ClaimsContract'" \
        in str(exc.value)
    assert "No module named 'careledger.chaincode.contracts.claimz'" in str(exc.value)
    missing = _write(tmp_path, _changed("basic:BasicContract", "basic:BasicContrakt"), "y.toml")
    with pytest.raises(ConfigError, match="'BasicContrakt' is not a Contract subclass"):
        _checked(missing)


def test_network_up_refuses_a_bad_config_before_starting_anything(tmp_path: Path) -> None:
    config = _write(tmp_path, _changed('policy = "board"', 'policy = "registry"'), "bad.toml")
    directory = tmp_path / "net"
    result = CliRunner().invoke(cli, ["network", "up", "--config", str(config), "--dir", str(directory)])
    assert result.exit_code != 0
    assert 'contracts.credentials.policy "registry" names org "registry"' in result.output
    assert not directory.exists()  # no crypto, no profile, no pids file: nothing was started

    typo = _write(tmp_path, _changed("batch_max_tx = 500", 'batch_max_tx = "lots"'), "lots.toml")
    result = CliRunner().invoke(cli, ["network", "up", "--config", str(typo), "--dir", str(directory)])
    assert result.exit_code != 0
    assert 'orderer.batch_max_tx: expected an integer, got "lots"' in result.output
    assert not directory.exists()


def test_careledger_node_peer_refuses_a_profile_with_a_bad_policy_or_class(tmp_path: Path) -> None:
    from careledger.network.config import ContractInfo, NodeInfo, Profile

    peer = NodeInfo("peer0", "hospital", "127.0.0.1", 1)
    contract = ContractInfo("basic", "no.such.module:Basic", "AND(hospital, insurer)")
    Profile("healthcare", "orderer", ("hospital",), NetworkConfig.load().orderer, (), (peer,), (contract,),
            ()).save(tmp_path)
    result = CliRunner().invoke(cli, ["node", "peer", "--dir", str(tmp_path), "--name", peer.id])
    assert result.exit_code != 0
    assert 'contracts.basic.policy "AND(hospital, insurer)" names org "insurer"' in result.output
    assert "contracts.basic.class: contract spec 'no.such.module:Basic': cannot import" in result.output
    assert "running peer" not in result.output
