"""What a page costs: a list query over a ledger of N assets, a page of 100 against reading them all.

    python benchmarks/pages.py [--sizes 10000,100000] [--calls 50] [--json]

For each size N it commits N `basic` assets (the JSON create_asset writes) into a peer's state
database (network/peer/statedb.py, SQLite, one block) and runs the calls a peer's endorser runs
for an evaluate (chaincode/runtime.py simulate, the stub, the simulator and its read set) over it:

- `get_all_assets` page of 100, the first page and one from a bookmark in the middle;
- `get_all_assets` page of 1000 (the most a page may hold);
- every asset by following the bookmarks in pages of 1000 (what `items()` of the SDK does, one
  evaluate per page);
- the unpaginated `get_all_assets` as it was before issue 11 (one range scan of every key, kept
  here only to measure it).

No gRPC, TLS or signatures: those cost the same per call whatever the page, and
benchmarks/scale.py measures them on a real network. Medians over --calls; table or --json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from careledger.chaincode import ClientIdentity, Context, evaluate
from careledger.chaincode.codec import canonical_json
from careledger.chaincode.contracts.basic import BasicContract
from careledger.chaincode.paging import encode_bookmark
from careledger.chaincode.runtime import ContractRegistry, Invocation, simulate
from careledger.network.peer.outcome import TxOutcome
from careledger.network.peer.statedb import StateDB
from careledger.protos import common_pb2

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALICE = ClientIdentity(org="hospital", name="alice", role="client")


class UnpagedBasic(BasicContract):
    """basic with its list function as it was before issue 11, for the comparison only."""

    @evaluate
    def get_all_assets_unpaged(self, ctx: Context) -> list[object]:
        return [json.loads(value) for _, value in ctx.stub.get_state_by_range("", "")]


def build(path: Path, size: int) -> StateDB:
    db = StateDB(path)
    writes = tuple(
        ("basic", common_pb2.KVWrite(key=f"scale-{i:07d}", value=canonical_json(
            {"id": f"scale-{i:07d}", "owner": "ward-3", "value": str(i), "created_by": "hospital/alice"})))
        for i in range(size)
    )
    db.apply_block(0, [TxOutcome("build", common_pb2.ValidationCode.VALID, "basic", writes, None, AT)])
    return db


def timed(calls: int, call: Callable[[], object]) -> float:
    """Median milliseconds of `calls` calls (after one warm-up)."""
    call()
    spent = []
    for _ in range(calls):
        began = time.perf_counter()
        call()
        spent.append(time.perf_counter() - began)
    return 1000 * statistics.median(spent)


def run_size(size: int, calls: int) -> dict[str, float | int]:
    registry = ContractRegistry([UnpagedBasic()])
    with tempfile.TemporaryDirectory(prefix="careledger-pages-") as tmp:
        db = build(Path(tmp) / "state.db", size)
        try:
            def answer(function: str, *args: str) -> object:
                invocation = Invocation("bench", "healthcare", "basic", function,
                                        [a.encode() for a in args], {}, AT, ALICE)
                result = simulate(registry, db, invocation)
                assert result.response.status == 200, result.response.message
                return json.loads(result.response.payload)

            def every_page() -> int:
                count, bookmark = 0, ""
                while True:
                    page = answer("get_all_assets", "1000", bookmark)
                    assert isinstance(page, dict)
                    count += len(page["items"])
                    bookmark = page["bookmark"]
                    if not bookmark:
                        return count

            assert every_page() == size
            middle = encode_bookmark(f"scale-{size // 2:07d}")
            return {
                "size": size,
                "page100_first_ms": timed(calls, lambda: answer("get_all_assets", "100")),
                "page100_middle_ms": timed(calls, lambda: answer("get_all_assets", "100", middle)),
                "page1000_ms": timed(calls, lambda: answer("get_all_assets", "1000")),
                "all_pages_of_1000_ms": timed(max(3, calls // 10), every_page),
                "unpaged_ms": timed(max(3, calls // 10), lambda: answer("get_all_assets_unpaged")),
            }
        finally:
            db.close()


def table(results: list[dict[str, float | int]]) -> str:
    columns = [("assets", "size", "{:,}"), ("page of 100, first ms", "page100_first_ms", "{:.2f}"),
               ("page of 100, mid-range ms", "page100_middle_ms", "{:.2f}"),
               ("page of 1000 ms", "page1000_ms", "{:.1f}"),
               ("every page of 1000 ms", "all_pages_of_1000_ms", "{:.0f}"),
               ("unpaginated (before) ms", "unpaged_ms", "{:.0f}")]
    lines = ["| " + " | ".join(c for c, _, _ in columns) + " |",
             "| " + " | ".join("---:" for _ in columns) + " |"]
    lines += ["| " + " | ".join(fmt.format(r[key]) for _, key, fmt in columns) + " |" for r in results]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated asset counts")
    parser.add_argument("--calls", type=int, default=50, help="timed calls per measurement")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = [run_size(int(s), args.calls) for s in args.sizes.split(",")]
    print(json.dumps(results, indent=2) if args.json else table(results))


if __name__ == "__main__":
    main()
