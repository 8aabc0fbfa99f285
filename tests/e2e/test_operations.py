"""Operations endpoints: /healthz and Prometheus /metrics on every node."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid

from careledger.network.local.testing import LocalNetwork


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return reply.read().decode()


def metric(text: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name) + (re.escape("{" + labels + "}") if labels else "") + r" ([0-9.e+]+)"
    found = re.search(r"^" + pattern + r"$", text, re.M)
    return float(found.group(1)) if found else 0.0


def test_metrics_counters_move_after_transactions(net: LocalNetwork, hospital) -> None:
    peer = net.profile.peers_of("hospital")[0]
    orderer = net.profile.orderers[0]
    peer_url = f"http://{peer.host}:{peer.ops_port}/metrics"
    orderer_url = f"http://{orderer.host}:{orderer.ops_port}/metrics"
    before, before_orderer = scrape(peer_url), scrape(orderer_url)
    for _ in range(3):
        hospital.submit_transaction("create_asset", f"m-{uuid.uuid4().hex[:10]}", "ops", "1")
    after, after_orderer = scrape(peer_url), scrape(orderer_url)
    def grew(name: str, labels: str = "", by: float = 1, text=(before, after)) -> bool:
        return metric(text[1], name, labels) >= metric(text[0], name, labels) + by

    assert grew("careledger_transactions_total", 'code="VALID"', by=3)
    assert grew("careledger_blocks_committed_total")
    assert grew("careledger_ledger_height")
    assert grew("careledger_endorse_seconds_count", by=3)
    assert grew("careledger_broadcast_total", 'status="ACCEPTED"', 3, (before_orderer, after_orderer))
    assert "careledger_orderer_queue_depth" in after_orderer


def test_healthz_answers_ok_on_every_node(net: LocalNetwork) -> None:
    for node in (*net.profile.orderers, *net.profile.peers):
        body = json.loads(scrape(f"http://{node.host}:{node.ops_port}/healthz"))
        assert body == {"node": node.id, "status": "OK", "failed_checks": {}}
