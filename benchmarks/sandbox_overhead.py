"""What the contract time limit costs per call: simulate a read (basic read_asset) over a real
state database inline, as before the sandbox, and on the sandbox's worker threads.

Run: .venv/bin/python benchmarks/sandbox_overhead.py [calls] [threads]
Prints microseconds per call (median and 99th percentile) for each way, single- and multi-threaded.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from careledger.chaincode import ClientIdentity
from careledger.chaincode.contracts.basic import BasicContract
from careledger.chaincode.runtime import ContractRegistry, Invocation, simulate
from careledger.chaincode.sandbox import Sandbox
from careledger.network.peer.outcome import TxOutcome
from careledger.network.peer.statedb import StateDB
from careledger.protos import common_pb2

NOW = datetime(2026, 3, 1, tzinfo=UTC)
ASSET = b'{"id": "a1", "owner": "bob", "value": "1", "created_by": "hospital/alice"}'


def main(calls: int, threads: int) -> None:
    registry = ContractRegistry([BasicContract()])
    invocation = Invocation("tx", "healthcare", "basic", "read_asset", [b"a1"], {}, NOW,
                            ClientIdentity("hospital", "alice", "client"))
    with tempfile.TemporaryDirectory() as tmp, StateDB(Path(tmp) / "state.db") as db:
        db.apply_block(0, [TxOutcome("t0", common_pb2.VALID, "basic",
                                     (("basic", common_pb2.KVWrite(key="a1", value=ASSET)),), None, NOW)])
        sandbox = Sandbox(3000, "bench")
        ways = {"inline": None, "sandbox": sandbox}

        def one(box: Sandbox | None) -> float:
            started = time.perf_counter()
            result = simulate(registry, db, invocation, box, db.snapshot)
            assert result.response.status == 200, result.response.message
            return (time.perf_counter() - started) * 1e6

        for workers in (1, threads):
            with ThreadPoolExecutor(workers) as pool:
                for name, box in ways.items():
                    list(pool.map(lambda _, box=box: one(box), range(200)))  # warm up connections and workers
                    started = time.perf_counter()
                    took = sorted(pool.map(lambda _, box=box: one(box), range(calls)))
                    wall = time.perf_counter() - started
                    print(f"{workers:2d} thread(s) {name:8s}: median {statistics.median(took):7.1f} us, "
                          f"p99 {took[int(len(took) * 0.99)]:7.1f} us, {calls / wall:8.0f} calls/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000, int(sys.argv[2]) if len(sys.argv) > 2 else 8)
