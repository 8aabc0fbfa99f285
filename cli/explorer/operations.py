"""The nodes as their operations endpoints show them: `/healthz` for health, Prometheus `/metrics`
for heights and the charts (transactions per second, endorse and commit latency).

The operations port is plain HTTP and carries no ledger data (see careledger.network.node.operations),
so it is read directly; what the ledger holds is read only through the signed services.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from careledger.network.config import NodeInfo, Profile

Json = dict[str, Any]

# (metric family, sample suffix) -> what the explorer keeps of it, summed over the labels
_KEPT = {
    ("careledger_ledger_height", ""): "height",
    ("careledger_transactions", "_total"): "transactions",
    ("careledger_endorse_seconds", "_sum"): "endorse_sum",
    ("careledger_endorse_seconds", "_count"): "endorse_count",
    ("careledger_block_commit_seconds", "_sum"): "commit_sum",
    ("careledger_block_commit_seconds", "_count"): "commit_count",
    ("careledger_blocks_cut", "_total"): "blocks_cut",
    ("careledger_orderer_queue_depth", ""): "queue_depth",
}


def parse_metrics(text: str) -> dict[str, float]:
    """The values the explorer charts, from one node's Prometheus text exposition."""
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = _KEPT.get((family.name, sample.name[len(family.name):]))
            if key is not None:
                values[key] = values.get(key, 0.0) + sample.value
    return values


@dataclass
class NodeState:
    """One node's last health check and metrics."""

    node: NodeInfo
    kind: str
    health: str = "UNKNOWN"  # OK, UNAVAILABLE (503 with failed checks) or UNREACHABLE
    failed_checks: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    checked: float = 0.0

    def as_json(self) -> Json:
        ops = f"http://{self.node.host}:{self.node.ops_port}" if self.node.ops_port else ""
        height = self.metrics.get("height")
        return {"id": self.node.id, "kind": self.kind, "org": self.node.org, "address": self.node.address,
                "ops": ops, "health": self.health, "failed_checks": self.failed_checks,
                "height": None if height is None else int(height),
                "queue_depth": self.metrics.get("queue_depth"), "checked": self.checked}


class NodeWatch:
    """Polls every node's /healthz and /metrics and keeps a window of chart points."""

    def __init__(self, profile: Profile, interval: float = 2.0, window: int = 90) -> None:
        self.interval = interval
        self.nodes = [NodeState(n, "orderer") for n in profile.orderers] + [
            NodeState(n, "peer") for n in profile.peers]
        self.points: deque[Json] = deque(maxlen=window)
        self._last: tuple[float, dict[str, dict[str, float]]] | None = None

    def snapshot(self) -> Json:
        """The nodes and the chart points, as /api/nodes serves them."""
        return {"nodes": [n.as_json() for n in self.nodes], "points": list(self.points),
                "interval": self.interval}

    async def run(self) -> None:
        """Poll until cancelled."""
        timeout = aiohttp.ClientTimeout(total=max(1.0, self.interval))
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                await self.poll(session)
                await asyncio.sleep(self.interval)

    async def poll(self, session: aiohttp.ClientSession) -> None:
        """Check every node once and add a chart point."""
        await asyncio.gather(*(self._check(session, n) for n in self.nodes))
        now = time.time()
        peers = {n.node.id: dict(n.metrics) for n in self.nodes if n.kind == "peer" and n.metrics}
        if self._last is not None:
            self.points.append(chart_point(self._last, (now, peers)))
        self._last = (now, peers)

    async def _check(self, session: aiohttp.ClientSession, state: NodeState) -> None:
        if not state.node.ops_port:
            state.health = "NO OPERATIONS PORT"
            return
        base = f"http://{state.node.host}:{state.node.ops_port}"
        try:
            async with session.get(f"{base}/healthz") as reply:
                body = await reply.json(content_type=None)
                state.health = str(body.get("status", "OK" if reply.status == 200 else "UNAVAILABLE"))
                state.failed_checks = dict(body.get("failed_checks", {}))
            async with session.get(f"{base}/metrics") as reply:
                state.metrics = parse_metrics(await reply.text())
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            state.health = "UNREACHABLE"
            state.failed_checks = {"operations": f"{base}: {exc or type(exc).__name__}"}
            state.metrics = {}
        state.checked = time.time()


def chart_point(before: tuple[float, dict[str, dict[str, float]]],
                after: tuple[float, dict[str, dict[str, float]]]) -> Json:
    """Transactions per second and mean endorse/commit latency (ms) between two polls.

    Every peer commits every transaction, so the rate is the fastest peer's; latencies are over the
    calls and blocks of all peers in the interval (None when there were none)."""
    (t0, m0), (t1, m1) = before, after
    dt = max(t1 - t0, 1e-6)

    def delta(peer: str, key: str) -> float:
        return max(m1.get(peer, {}).get(key, 0.0) - m0.get(peer, {}).get(key, 0.0), 0.0)

    def mean_ms(sum_key: str, count_key: str) -> float | None:
        count = sum(delta(p, count_key) for p in m1)
        return round(1000 * sum(delta(p, sum_key) for p in m1) / count, 2) if count else None

    tps = max((delta(p, "transactions") / dt for p in m1), default=0.0)
    return {"t": round(t1, 3), "tps": round(tps, 2), "endorse_ms": mean_ms("endorse_sum", "endorse_count"),
            "commit_ms": mean_ms("commit_sum", "commit_count")}
