"""What an orderer's start-up costs as its chain grows: the replay memory it rebuilds.

    python benchmarks/orderer_startup.py [--sizes 100000,1000000] [--rate 150] [--before REV]

For each size N it writes an orderer block store of N transactions in blocks of 500 (one real
endorsed, signed envelope as the template, each copy with its own tx id, so every block parses
as a real one does), timed as if ordered at --rate tx/s up to now. Then it times, in this process,
constructing `OrdererService` over that chain: the code of this work tree (which reads the chain
back only as far as the replay window, 2 x the clock skew + a margin) and the code of --before
(a git revision whose service read every block). The process's own start (interpreter, imports,
TLS, ports) is the same for both and not included. Medians of --runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "unit"))  # txfactory: a real endorsed envelope

from prometheus_client import CollectorRegistry  # noqa: E402
from txfactory import CHANNEL, TestNetwork, endorsed_envelope, rwset  # noqa: E402

from careledger.network.ledger.blockstore import BlockStore  # noqa: E402
from careledger.network.node.operations import OrdererMetrics  # noqa: E402
from careledger.network.orderer import service as current_service  # noqa: E402
from careledger.network.orderer.blockmaker import make_block  # noqa: E402
from careledger.protos import common_pb2  # noqa: E402

BLOCK_TX = 500


def say(message: str) -> None:
    print(f"[orderer-startup {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class StoredChain:
    """The consenter methods OrdererService reads at start-up, over a block store."""

    def __init__(self, store: BlockStore) -> None:
        self._store = store
        self.read = 0

    @property
    def height(self) -> int:
        return self._store.height

    def get_block(self, number: int) -> common_pb2.Block:
        self.read += 1
        return self._store.get(number)


def write_chain(directory: Path, net: TestNetwork, size: int, rate: float) -> None:
    """A store of `size` transactions, block times spaced as ordered at `rate` tx/s until now."""
    template = endorsed_envelope(net.client("hospital"), [net.peer("hospital"), net.peer("insurer")],
                                 "basic", rwset("basic", writes={"scale-0": b'{"id":"scale-0"}'}))
    tx = common_pb2.Transaction.FromString(template.payload)
    proposal = common_pb2.Proposal.FromString(tx.proposal)
    blocks = (size + BLOCK_TX - 1) // BLOCK_TX
    end = datetime.now(UTC)
    previous = None
    with BlockStore(directory) as store:
        for number in range(blocks):
            envelopes = []
            for i in range(number * BLOCK_TX, min((number + 1) * BLOCK_TX, size)):
                proposal.header.tx_id = f"{i:064x}"
                tx.proposal = proposal.SerializeToString()
                envelopes.append(common_pb2.Envelope(payload=tx.SerializeToString(),
                                                     signature=template.signature).SerializeToString())
            at = end - timedelta(seconds=(blocks - 1 - number) * BLOCK_TX / rate)
            block = make_block(number, previous, envelopes, net.orderer, at=at)
            store.append(block)
            previous = block.header


def _service_at(revision: str, folder: Path) -> ModuleType:
    """network/orderer/service.py as it was at `revision`, imported under another name (from a
    copy in `folder`)."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{revision}:network/orderer/service.py"],
                            check=True, capture_output=True, text=True).stdout
    path = folder / f"service_{revision}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"service_{revision}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def time_start(module: ModuleType, net: TestNetwork, store: BlockStore) -> tuple[float, int]:
    """Seconds to construct the module's OrdererService over the store, and blocks it read."""
    chain = StoredChain(store)
    began = time.perf_counter()
    module.OrdererService(CHANNEL, net.membership(), chain, OrdererMetrics.register(CollectorRegistry()))
    return time.perf_counter() - began, chain.read


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--rate", type=float, default=150.0, help="tx/s the chain was ordered at")
    parser.add_argument("--before", default="272a05d", help="git revision of the previous service")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="careledger-orderer-startup-"))
    results = []
    try:
        versions = {"before": _service_at(args.before, root), "after": current_service}
        net = TestNetwork.create(root / "crypto", ["hospital", "insurer"])
        for size in (int(s) for s in args.sizes.split(",")):
            began = time.monotonic()
            write_chain(root / f"blocks-{size}", net, size, args.rate)
            say(f"{size:,} transactions written in {time.monotonic() - began:.0f} s")
            row: dict[str, object] = {"size": size, "rate": args.rate}
            with BlockStore(root / f"blocks-{size}") as store:
                row["file_bytes"] = (root / f"blocks-{size}" / "blocks.bin").stat().st_size
                for name, module in versions.items():
                    runs = [time_start(module, net, store) for _ in range(args.runs)]
                    row[f"{name}_s"] = statistics.median(r[0] for r in runs)
                    row[f"{name}_runs"] = [round(r[0], 3) for r in runs]
                    row[f"{name}_blocks_read"] = runs[0][1]
            say(json.dumps(row))
            results.append(row)
            shutil.rmtree(root / f"blocks-{size}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("| transactions | blocks.bin MB | before: s (blocks read) | after: s (blocks read) |")
    print("| ---: | ---: | ---: | ---: |")
    for r in results:
        print(f"| {r['size']:,} | {int(r['file_bytes']) / 1e6:,.0f} | {r['before_s']:.2f} "
              f"({r['before_blocks_read']:,}) | {r['after_s']:.3f} ({r['after_blocks_read']:,}) |")


if __name__ == "__main__":
    main()
