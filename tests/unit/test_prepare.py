"""`network prepare` (launcher.prepare) for nodes on other hosts: crypto, network.json and the
genesis block are written and nothing is started; addresses this machine lacks get ports counted
up from 7050 (nothing to probe), and the TLS certificates name each node's host."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from careledger.network.config import Layout
from careledger.network.local import launcher
from careledger.network.node.liveconfig import genesis_config, read_genesis

TOML = """channel = "healthcare"
[orderer]
host = "198.51.100.1"
[[orgs]]
name = "hospital"
host = "198.51.100.2"
[[orgs]]
name = "insurer"
host = "198.51.100.3"
"""


def test_prepare_writes_a_network_for_other_hosts_and_starts_nothing(tmp_path: Path) -> None:
    config = tmp_path / "hosts.toml"
    config.write_text(TOML)  # 198.51.100.0/24 is TEST-NET-2: no machine has these addresses
    profile = launcher.prepare(tmp_path / "net", config)
    layout = Layout(tmp_path / "net")
    nodes = [*profile.orderers, *profile.peers]
    assert [n.address for n in nodes] == ["198.51.100.1:7050", "198.51.100.2:7052", "198.51.100.3:7054"]
    assert [n.ops_port for n in nodes] == [7051, 7053, 7055]
    assert not layout.pids.exists() and not layout.logs.exists()
    genesis = genesis_config(read_genesis(layout.genesis))
    assert [(p.host, p.port) for p in genesis.peers_of("insurer")] == [("198.51.100.3", 7054)]
    pem = (layout.identity_dir("hospital", "peer0") / "cert.pem").read_bytes()
    cert = x509.load_pem_x509_certificate(pem)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "198.51.100.2" in [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]
    # prepared again (e.g. after editing the TOML), the nodes keep their ports
    assert launcher.prepare(tmp_path / "net", config).peers == profile.peers
