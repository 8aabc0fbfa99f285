"""How a peer behaves as its ledger grows: start-up, evaluate latency, committed tx/s, file sizes.

    python benchmarks/scale.py [--sizes 10000,100000] [--runs 3] [--seconds 10] [--clients 16]
                               [--no-interleave] [--join] [--json]

For each size N it builds a ledger as a real network has it: `network up` (launcher.up) of
benchmarks/scale-network.toml writes the genesis block (block 0, the channel configuration) and
deploys `basic` through the lifecycle (install, approvals, commit of its definition in
`_lifecycle`), then the network is stopped. N committed `basic.create_asset` transactions follow
without running the network (that would take hours at 1 M), through the code paths a network
uses: worker processes make proposals signed by hospital:alice and endorsed (signed) by
peer0.hospital and peer0.insurer, the orderer's block maker cuts them into signed, hash-chained
blocks of --block-tx transactions naming the configuration block in force (the orderer's
LiveConfig), the orderer's block store stores them, and peer0.hospital's Ledger validates them as
the peer does (the member orgs of the configuration in force, every signature, the policy of
`basic`'s committed definition, MVCC, duplicate tx ids) and commits them. peer0.insurer gets
copies of its block file and state (the same bytes a commit would give them) and signs its own
checkpoint. Then the real network starts again (orderer, peer0.hospital, peer0.insurer as
processes, TLS on loopback) and:

- start-up: peer0.hospital is stopped (SIGTERM) and started again, --runs times; the time is from
  the spawn to a SERVING health check, with the start-up check's own time from its log. One more
  start after `kill -9` shows the crash path (blocks after the checkpoint and a state scan);
- evaluate latency: 500 sequential `read_asset` calls of random built assets through one Gateway;
- committed tx/s: the throughput benchmark's closed-loop load generator (benchmarks/
  throughput.py's Workers, 2 processes, 3 s of warm-up), --clients clients for --seconds,
  --runs times. Interleaved (the default): every size's ledger is built and measured first,
  each in its own directory, then each run starts the network on each size's ledger in turn
  and stops it again, so a change of the shared machine's load hits every size alike; the
  ratio of each size's median to the smallest size's is printed, and the issue's target (the
  largest size >= 90 % of the smallest). --no-interleave does all of a size's runs in one
  start, the sizes one after the other (fewer start-ups, but the sizes' runs minutes apart);
- sizes: peer0.hospital's block file and state database;
- with --join: a new peer, peer1.hospital, joins by replaying every block from the orderer, and
  (if `careledger ledger snapshot` exists) from a snapshot of peer0.hospital; the time is from
  its spawn until it serves at peer0.hospital's height.

Progress goes to stderr; the table (or --json) to stdout. Medians over --runs.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "unit"))  # txfactory: proposals and endorsements

from throughput import Workers  # noqa: E402
from txfactory import endorse, make_proposal, rwset, sign_transaction  # noqa: E402

from careledger.chaincode.codec import canonical_json  # noqa: E402
from careledger.network.config import Layout, Profile  # noqa: E402
from careledger.network.identity.signing import Signer  # noqa: E402
from careledger.network.ledger.blockstore import BlockStore  # noqa: E402
from careledger.network.local import launcher  # noqa: E402
from careledger.network.local.testing import LocalNetwork  # noqa: E402
from careledger.network.node.liveconfig import LiveConfig, genesis_config, read_genesis, stored_config  # noqa: E402
from careledger.network.orderer.blockmaker import make_block  # noqa: E402
from careledger.network.peer import checkpoint  # noqa: E402
from careledger.network.peer.definitions import ContractDefinitions  # noqa: E402
from careledger.network.peer.ledger import Ledger  # noqa: E402
from careledger.network.peer.validation import Validator  # noqa: E402
from careledger.protos import common_pb2  # noqa: E402

CONFIG = HERE / "scale-network.toml"
CONTRACT = "basic"
CLIENT = ("hospital", "alice")
ENDORSERS = (("hospital", "peer0"), ("insurer", "peer0"))


def say(message: str) -> None:
    print(f"[scale {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- building a ledger ---------------------------------------------------------------------------

_signers: dict[str, Signer] = {}


def _load_signers(crypto: str) -> None:
    for org, name in (CLIENT, *ENDORSERS):
        _signers[f"{org}/{name}"] = Signer.from_dir(Path(crypto) / org / name)


def _envelopes(span: tuple[int, int]) -> list[bytes]:
    """Signed, endorsed create_asset transactions for asset numbers [start, end) (in a worker)."""
    client = _signers["/".join(CLIENT)]
    endorsers = [_signers["/".join(e)] for e in ENDORSERS]
    out = []
    for i in range(*span):
        asset_id = f"scale-{i}"
        asset = {"id": asset_id, "owner": "ward-3", "value": str(i), "created_by": client.id}
        value = canonical_json(asset)
        args = [asset_id.encode(), b"ward-3", str(i).encode()]
        proposal = make_proposal(client, CONTRACT, "create_asset", args)
        event = common_pb2.ChaincodeEvent(contract=CONTRACT, tx_id=proposal.header.tx_id,
                                          event_name="AssetCreated", payload=value)
        tx = endorse(proposal, endorsers, rwset(CONTRACT, reads={asset_id: None}, writes={asset_id: value}),
                     event=event)
        out.append(sign_transaction(client, tx).SerializeToString())
    return out


def _peer_ledger(layout: Layout, profile: Profile, node_id: str) -> Ledger:
    """The peer's ledger as the peer opens it (peer/server.py): the member orgs of the genesis
    configuration, the configuration in force at each block and the contract policies of the
    `_lifecycle` definitions read from state; told that its (cleanly stopped or copied) blocks
    are checked."""
    node = profile.node(node_id)
    live = LiveConfig(genesis_config(read_genesis(layout.genesis)))
    return Ledger(layout.node_data(node),
                  lambda state: Validator(profile.channel, live.members,
                                          ContractDefinitions(state, profile.orgs), state,
                                          clock_skew=live.current.clock_skew),
                  Signer.from_dir(layout.identity_dir(node.org, node.name)),
                  checkpoint.StartCheck(blocks_checked=True, state_unchanged=True))


def _bounded(pool: Pool, spans: Sequence[tuple[int, int]], ahead: int = 6) -> Iterator[list[bytes]]:
    """The workers' envelopes in order, at most `ahead` blocks ahead of the committer: proposals
    made much earlier than their block would be EXPIRED_TIMESTAMP (the channel's clock skew)."""
    pending: deque[AsyncResult[list[bytes]]] = deque()
    for span in spans:
        pending.append(pool.apply_async(_envelopes, (span,)))
        if len(pending) > ahead:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


def deploy(root: Path) -> Profile:
    """`network up` of the scale network (genesis block, contracts defined through the lifecycle
    on every peer), then `network down`: the chain the built transactions follow."""
    began = time.monotonic()
    profile = launcher.up(root, CONFIG, progress=lambda m: say(f"  {m}"), timeout=300)
    launcher.down(root)
    with BlockStore(Layout(root).node_data(profile.orderers[0]) / "blocks") as store:
        say(f"  genesis and contract definitions: {store.height} blocks in {time.monotonic() - began:.1f} s")
    return profile


def build(layout: Layout, profile: Profile, size: int, block_tx: int) -> float:
    """Commit `size` transactions after the deployed chain into the orderer's and the peers'
    ledgers; seconds."""
    started = time.monotonic()
    orderer = profile.orderers[0]
    orderer_signer = Signer.from_dir(layout.identity_dir(orderer.org, orderer.name))
    spans = [(i, min(i + block_tx, size)) for i in range(0, size, block_tx)]
    ctx = multiprocessing.get_context("spawn")
    store = BlockStore(layout.node_data(orderer) / "blocks")
    live = LiveConfig(*stored_config(store.get, store.height))  # as the orderer starts
    first, previous = store.height, store.get(store.height - 1).header
    with (ctx.Pool(2, initializer=_load_signers, initargs=(str(layout.crypto),)) as pool,
          _peer_ledger(layout, profile, "peer0.hospital") as ledger):
        if ledger.height != first:
            raise RuntimeError(f"peer0.hospital is at height {ledger.height}, the orderer at {first}")
        step = max(1, len(spans) // 20)
        for number, envelopes in enumerate(_bounded(pool, spans), start=first):
            block = make_block(number, previous, envelopes, orderer_signer,
                               last_config=live.last_config(number, envelopes))
            store.append(block)
            outcomes = ledger.commit(common_pb2.Block.FromString(block.SerializeToString()))
            if any(not o.valid for o in outcomes):
                bad = next(o for o in outcomes if not o.valid)
                raise RuntimeError(f"built block {number} has an invalid transaction: {bad}")
            previous = block.header
            if (number + 1 - first) % step == 0 or number + 1 - first == len(spans):
                done = min((number + 1 - first) * block_tx, size)
                rate = done / (time.monotonic() - started)
                say(f"built {done:,}/{size:,} transactions ({rate:,.0f} tx/s, about "
                    f"{(size - done) / rate:,.0f} s left)")
    store.close()
    source = layout.node_data(profile.node("peer0.hospital"))
    for peer in ("peer0.insurer",):
        target = layout.node_data(profile.node(peer))
        (target / "blocks").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / "blocks" / "blocks.bin", target / "blocks" / "blocks.bin")
        shutil.copyfile(source / "state.db", target / "state.db")
        with _peer_ledger(layout, profile, peer):
            pass  # signs the copy's checkpoint with its own key
    return time.monotonic() - started


# -- measuring ---------------------------------------------------------------------------------------


def _start(layout: Layout, profile: Profile, node_id: str, timeout: float = 1800.0,
           extra: Sequence[str] = ()) -> float:
    node = profile.node(node_id)
    began = time.monotonic()
    if extra:
        module = "careledger.network.peer.server"
        argv = [sys.executable, "-m", module, "--dir", str(layout.root), "--name", node.id, *extra]
        launcher._spawn(layout, node.id, argv, layout.node_log(node))
    else:
        launcher.start_node(layout, profile, node)
    launcher.wait_healthy(layout, profile, [node], timeout, lambda _: None)
    return time.monotonic() - began


def _startup_check_seconds(layout: Layout, node_id: str) -> float | None:
    text = (layout.logs / f"{node_id}.log").read_text(errors="replace")
    found = re.findall(r"start-up check of \S+: .* in ([0-9.]+)s", text)
    return float(found[-1]) if found else None


def measure_startup(layout: Layout, profile: Profile, runs: int) -> dict[str, object]:
    clean, checks = [], []
    for _ in range(runs):
        launcher.stop_node(layout, "peer0.hospital", timeout=120)
        clean.append(_start(layout, profile, "peer0.hospital"))
        checks.append(_startup_check_seconds(layout, "peer0.hospital"))
    launcher.stop_node(layout, "peer0.hospital", signal.SIGKILL)
    crash = _start(layout, profile, "peer0.hospital")
    return {"startup_s": statistics.median(clean), "startup_runs": clean,
            "startup_check_s": statistics.median([c for c in checks if c is not None] or [0.0]),
            "crash_startup_s": crash,
            "crash_check_s": _startup_check_seconds(layout, "peer0.hospital")}


def measure_evaluate(root: Path, size: int, calls: int = 500) -> dict[str, float]:
    from careledger.gateway import connect_local

    rng = random.Random(11)
    latencies = []
    with connect_local(root, ":".join(CLIENT)) as gateway:
        contract = gateway.get_network("healthcare").get_contract(CONTRACT)
        for _ in range(20):
            contract.evaluate_transaction("read_asset", "scale-0")
        for _ in range(calls):
            i = rng.randrange(size)
            began = time.perf_counter()
            asset = json.loads(contract.evaluate_transaction("read_asset", f"scale-{i}"))
            latencies.append(time.perf_counter() - began)
            assert asset["value"] == str(i)
    latencies.sort()
    return {"evaluate_p50_ms": 1000 * latencies[len(latencies) // 2],
            "evaluate_p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1]}


def measure_commits(net: LocalNetwork, clients: int, seconds: float, runs: int, tag: str) -> list[float]:
    """Committed tx/s of each of `runs` runs, after a warm-up; `tag` (new for each call on a
    ledger) keeps the created assets' ids apart from those of earlier calls."""
    workers = Workers(net, 2, (":".join(CLIENT),))
    try:
        workers.run("submit", clients, 3.0, f"{tag}w")
        rates = []
        for run in range(runs):
            result = workers.run("submit", clients, seconds, f"{tag}s{run}")
            rates.append(result.ok / seconds)
            if result.failed:
                say(f"  {result.failed} submits failed: {dict(result.errors)}")
    finally:
        workers.close()
    return rates


def _height(root: Path, peer: str) -> int:
    from careledger.network.tools.queryclient import QueryClient

    profile = Profile.load(root)
    with QueryClient(root, "hospital", "admin", peer=profile.node(peer)) as client:
        return int(client.chain_info().height)


def measure_join(layout: Layout, profile: Profile, snapshot: bool) -> float:
    """Seconds until peer1.hospital, with an empty ledger, serves at peer0.hospital's height: from
    its spawn (replay), or from `ledger snapshot` of peer0.hospital (snapshot: includes taking it)."""
    node = profile.node("peer1.hospital")
    launcher.stop_node(layout, node.id, timeout=60)
    shutil.rmtree(layout.node_data(node), ignore_errors=True)
    extra: list[str] = []
    began = time.monotonic()
    if snapshot:
        out = layout.root / "bench.snapshot"
        subprocess.run([sys.executable, "-m", "careledger.cli", "ledger", "snapshot", "--dir",
                        str(layout.root), "--peer", "peer0.hospital", "--out", str(out)],
                       check=True, capture_output=True)
        extra = ["--from-snapshot", str(out)]
        say(f"  snapshot taken in {time.monotonic() - began:.1f} s ({out.stat().st_size / 1e6:,.1f} MB)")
    _start(layout, profile, node.id, extra=extra)
    target = _height(layout.root, "peer0.hospital")
    while _height(layout.root, node.id) < target:
        time.sleep(0.2)
    return time.monotonic() - began


def _snapshots_exist() -> bool:
    from careledger.cli.ledger import ledger as ledger_group

    return "snapshot" in getattr(ledger_group, "commands", {})


@contextmanager
def network_dir() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="careledger-scale-"))
    try:
        yield root
    finally:
        try:
            launcher.down(root)
        finally:
            shutil.rmtree(root, ignore_errors=True)


@contextmanager
def running(layout: Layout, profile: Profile) -> Iterator[dict[str, float]]:
    """The orderer, peer0.hospital and peer0.insurer started on the built ledgers (peer1.hospital
    only joins with --join), yielding the orderer's and peer0.hospital's start-up seconds; all
    stopped after (peers first, with time to write their checkpoints)."""
    try:
        startups = {"orderer_startup_s": _start(layout, profile, profile.orderers[0].id),
                    "first_startup_s": _start(layout, profile, "peer0.hospital")}
        _start(layout, profile, "peer0.insurer")
        yield startups
    finally:
        peers = [n.id for n in profile.peers]
        launcher.stop_nodes(layout, peers, timeout=120)
        launcher.down(layout.root)


def prepare_size(size: int, args: argparse.Namespace,
                 root: Path) -> tuple[Layout, Profile, dict[str, object]]:
    """Build a ledger of `size` transactions in `root` and measure what is measured once per size
    (start-up, evaluate latency, file sizes, join); the network is left stopped."""
    layout = Layout(root.resolve())
    say(f"{size:,} transactions: building in {root}")
    profile = deploy(layout.root)
    result: dict[str, object] = {"size": size, "build_s": build(layout, profile, size, args.block_tx)}
    hospital = layout.node_data(profile.node("peer0.hospital"))
    result["block_file_bytes"] = (hospital / "blocks" / "blocks.bin").stat().st_size
    result["state_db_bytes"] = (hospital / "state.db").stat().st_size
    with running(layout, profile) as startups:
        result.update(startups)
        say(f"{size:,}: start-up ×{args.runs}")
        result.update(measure_startup(layout, profile, args.runs))
        say(f"{size:,}: evaluate latency")
        result.update(measure_evaluate(layout.root, size))
        if args.join:
            say(f"{size:,}: a new peer joins by replaying every block")
            result["join_replay_s"] = measure_join(layout, profile, snapshot=False)
            if _snapshots_exist():
                say(f"{size:,}: a new peer joins from a snapshot")
                result["join_snapshot_s"] = measure_join(layout, profile, snapshot=True)
    say(f"{size:,}: {json.dumps(result)}")
    return layout, profile, result


def run_sizes(sizes: Sequence[int], args: argparse.Namespace) -> list[dict[str, object]]:
    """Every size prepared, then the committed tx/s runs: one per start, the sizes in turn
    (interleaved), or all of a size's runs in one start."""
    with ExitStack() as stack:
        built = [prepare_size(size, args, stack.enter_context(network_dir())) for size in sizes]
        rounds, per_start = (args.runs, 1) if args.interleave else (1, args.runs)
        rates: list[dict[int, list[float]]] = [{} for _ in sizes]  # per size: round -> its runs
        for round_ in range(rounds):
            for (layout, profile, _), size, runs in zip(built, sizes, rates, strict=True):
                say(f"{size:,}: committed tx/s, {args.clients} clients, "
                    f"run {round_ + 1}/{rounds} ×{per_start}")
                try:
                    with running(layout, profile):
                        got = measure_commits(LocalNetwork(layout.root, profile), args.clients,
                                              args.seconds, per_start, f"r{round_}")
                except (RuntimeError, launcher.LauncherError) as exc:  # a node or worker did not start
                    say(f"  run failed, left out: {exc}")
                    continue
                runs[round_] = got
                say(f"  {', '.join(f'{r:.1f}' for r in got)} tx/s")
    results, base = [], statistics.median(r for got in rates[0].values() for r in got)
    for (_, _, result), size, runs in zip(built, sizes, rates, strict=True):
        median = statistics.median(r for got in runs.values() for r in got)
        # the same round's smallest size: both ran within a minute, under the same load
        paired = [statistics.median(got) / statistics.median(rates[0][round_])
                  for round_, got in runs.items() if statistics.median(rates[0].get(round_) or [0])]
        result.update(committed_tx_s=median, committed_runs=[r for got in runs.values() for r in got],
                      ratio_to_smallest=median / base if base else None, paired_ratios=paired,
                      paired_ratio=statistics.median(paired) if paired else None)
        say(f"{size:,}: {json.dumps(result)}")
        results.append(result)
    return results


def _label(size: int) -> str:
    """10000 -> 10k, 1000000 -> 1M, as the issue names its sizes."""
    for unit, name in ((1_000_000, "M"), (1000, "k")):
        if size % unit == 0:
            return f"{size // unit}{name}"
    return str(size)


def _mb(n: object) -> str:
    return f"{int(n) / 1e6:,.1f}" if isinstance(n, int) else "–"


def table(results: Sequence[dict[str, object]]) -> str:
    def f(key: str, fmt: str = "{:.2f}") -> Callable[[dict[str, object]], str]:
        return lambda r: fmt.format(r[key]) if r.get(key) is not None else "–"

    columns: list[tuple[str, Callable[[dict[str, object]], str]]] = [
        ("transactions", lambda r: f"{int(r['size']):,}"),  # type: ignore[call-overload]
        ("build s", f("build_s", "{:.0f}")),
        ("peer start-up s (clean)", f("startup_s")),
        ("of which check s", f("startup_check_s")),
        ("start-up after kill -9 s", f("crash_startup_s")),
        ("evaluate p50 / p99 ms", lambda r: f"{r['evaluate_p50_ms']:.1f} / {r['evaluate_p99_ms']:.1f}"),
        ("committed tx/s: median (runs)", lambda r: f"{r['committed_tx_s']:.1f} ("
         + ", ".join(f"{x:.1f}" for x in r["committed_runs"]) + ")"),  # type: ignore[attr-defined]
        ("ratio to smallest", f("ratio_to_smallest")),
        ("state.db MB", lambda r: _mb(r["state_db_bytes"])),
        ("blocks.bin MB", lambda r: _mb(r["block_file_bytes"])),
        ("orderer start-up s", f("orderer_startup_s")),
        ("join: replay s", f("join_replay_s", "{:.1f}")),
        ("join: snapshot s", f("join_snapshot_s", "{:.1f}")),
    ]
    lines = ["| " + " | ".join(c for c, _ in columns) + " |",
             "| " + " | ".join("---:" for _ in columns) + " |"]
    lines += ["| " + " | ".join(fn(r) for _, fn in columns) + " |" for r in results]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated transaction counts")
    parser.add_argument("--block-tx", type=int, default=500, help="transactions per built block")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of one tx/s run")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--interleave", action=argparse.BooleanOptionalAction, default=True,
                        help="committed tx/s runs alternate between the sizes (default)")
    parser.add_argument("--join", action="store_true", help="also time a new peer joining")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sizes = sorted(int(s) for s in args.sizes.split(","))
    results = run_sizes(sizes, args)
    print(json.dumps(results, indent=2) if args.json else table(results))
    if len(results) > 1:
        ratio = results[-1]["ratio_to_smallest"]
        verdict = "MET" if isinstance(ratio, float) and ratio >= 0.9 else "MISSED"
        print(f"target: committed tx/s at {_label(sizes[-1])} >= 90% of {_label(sizes[0])}: "
              f"{verdict} ({ratio if ratio is None else f'{ratio:.3f}'})",
              file=sys.stderr if args.json else sys.stdout)
        paired = results[-1]["paired_ratios"]
        print(f"paired: {_label(sizes[-1])} / {_label(sizes[0])} in each round: "
              f"{', '.join(f'{r:.3f}' for r in paired)}; median "  # type: ignore[attr-defined]
              f"{results[-1]['paired_ratio'] or 0:.3f}", file=sys.stderr if args.json else sys.stdout)


if __name__ == "__main__":
    main()
