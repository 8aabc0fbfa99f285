"""Operations endpoints of a node: `/healthz` (JSON, 200 or 503) and Prometheus `/metrics` over HTTP.

Served beside the gRPC port on the node's operations port, so that monitoring needs neither TLS
client certificates nor a gRPC client: `curl http://HOST:OPS_PORT/metrics`.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from careledger.protos import common_pb2

log = logging.getLogger(__name__)


class TxOutcomeLike(Protocol):
    """A transaction's outcome as the metrics read it: its validation code."""

    @property
    def code(self) -> int: ...


# A check returns "" when healthy, else what is wrong (shown in /healthz).
HealthCheck = Callable[[], str]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class PeerMetrics:
    """What a peer counts: committed blocks and transactions by validation code, and latencies."""

    height: Gauge
    blocks: Counter
    transactions: Counter
    commit_seconds: Histogram
    endorse_seconds: Histogram
    evaluate_seconds: Histogram
    batched_calls: Counter

    @classmethod
    def register(cls, registry: CollectorRegistry) -> PeerMetrics:
        return cls(
            Gauge("careledger_ledger_height", "Blocks in this peer's ledger", registry=registry),
            Counter("careledger_blocks_committed", "Blocks committed", registry=registry),
            Counter("careledger_transactions", "Transactions committed, by validation code",
                    ["code"], registry=registry),
            Histogram("careledger_block_commit_seconds", "Validate and commit one block",
                      buckets=LATENCY_BUCKETS, registry=registry),
            Histogram("careledger_endorse_seconds", "Gateway Endorse call, all endorsers",
                      buckets=LATENCY_BUCKETS, registry=registry),
            Histogram("careledger_evaluate_seconds", "Gateway Evaluate call",
                      buckets=LATENCY_BUCKETS, registry=registry),
            Counter("careledger_gateway_batched_calls", "Gateway calls that arrived in a Batch, by kind",
                    ["kind"], registry=registry),
        )

    def observe_block(self, block: common_pb2.Block, outcomes: Sequence[TxOutcomeLike]) -> None:
        """Ledger listener: count a committed block and its transactions by validation code."""
        self.blocks.inc()
        for code, count in collections.Counter(o.code for o in outcomes).items():  # a lookup per code
            self.transactions.labels(common_pb2.ValidationCode.Name(code)).inc(count)


@dataclass(frozen=True)
class OrdererMetrics:
    """What an orderer counts: envelopes by outcome, blocks cut, and the ordering queue."""

    broadcasts: Counter
    blocks: Counter
    queue_depth: Gauge

    @classmethod
    def register(cls, registry: CollectorRegistry) -> OrdererMetrics:
        return cls(
            Counter("careledger_broadcast", "Envelopes received, by outcome", ["status"],
                    registry=registry),
            Counter("careledger_blocks_cut", "Blocks cut by this orderer", registry=registry),
            Gauge("careledger_orderer_queue_depth", "Envelopes waiting to be cut into a block",
                  registry=registry),
        )


class OperationsServer:
    """A daemon-thread HTTP server for one node's /healthz and /metrics."""

    def __init__(self, node_id: str, host: str, port: int, registry: CollectorRegistry) -> None:
        self.node_id = node_id
        self.registry = registry
        self._checks: dict[str, HealthCheck] = {}
        handler = self._handler()
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="operations", daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def add_check(self, name: str, check: HealthCheck) -> None:
        self._checks[name] = check

    def health(self) -> tuple[bool, dict[str, object]]:
        failed = {}
        for name, check in self._checks.items():
            try:
                problem = check()
            except Exception as exc:  # a failing check is itself a finding, not a crash
                problem = f"check raised {type(exc).__name__}: {exc}"
            if problem:
                failed[name] = problem
        body: dict[str, object] = {"node": self.node_id, "status": "OK" if not failed else "UNAVAILABLE",
                                   "failed_checks": failed}
        return not failed, body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        ops = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path == "/metrics":
                    self._reply(200, CONTENT_TYPE_LATEST, generate_latest(ops.registry))
                elif self.path == "/healthz":
                    ok, body = ops.health()
                    self._reply(200 if ok else 503, "application/json", json.dumps(body).encode())
                else:
                    self._reply(404, "text/plain", b"not found: try /healthz or /metrics\n")

            def _reply(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                log.debug("operations %s", format % args)

        return Handler

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
