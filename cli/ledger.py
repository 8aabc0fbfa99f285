"""`careledger ledger info|block|verify|repair|snapshot`."""

from __future__ import annotations

import time
from pathlib import Path

import click
import grpc
from google.protobuf.json_format import MessageToDict

from careledger.cli.common import CliError, dir_option, emit, json_option, split_who
from careledger.cli.errors import cli_error
from careledger.gateway import LocalNetworkError
from careledger.gateway.local import local_peer
from careledger.network.config import ConfigError, Layout, NodeInfo, Profile
from careledger.network.identity.errors import IdentityError
from careledger.network.identity.membership import Membership
from careledger.network.identity.signing import Signer
from careledger.network.ledger.blockcheck import verify_directory
from careledger.network.local import launcher
from careledger.network.peer import snapshot as snapshots
from careledger.network.tools import repair as peer_repair
from careledger.network.tools import stateverify
from careledger.network.tools.queryclient import QueryClient
from careledger.protos import common_pb2


@click.group()
def ledger() -> None:
    """Inspect and check the chain of blocks."""


def _client(directory: Path, who: str) -> QueryClient:
    org, user = split_who(who)
    try:
        local_peer(directory, who, None, {})  # says which network, org or identity is missing
        return QueryClient(directory, org, user)
    except (ConfigError, IndexError, LocalNetworkError, IdentityError) as exc:
        raise CliError(f"cannot query as {who}: {exc}", "NO_NETWORK") from exc


def _rpc_failed(exc: grpc.RpcError) -> click.ClickException:
    return CliError(f"{exc.code().name}: {exc.details()}", exc.code().name)


@ledger.command()
@dir_option
@click.option("--as", "who", default="hospital:admin", show_default=True, metavar="ORG[:USER]")
@json_option
def info(directory: Path, who: str, as_json: bool) -> None:
    """Height and the hash of the last block, as seen by a peer of ORG."""
    with _client(directory, who) as client:
        try:
            ci = client.chain_info()
        except grpc.RpcError as exc:
            raise _rpc_failed(exc) from exc
        data = {"peer": client.peer.id, "height": ci.height,
                "current_block_hash": ci.current_block_hash.hex(),
                "previous_block_hash": ci.previous_block_hash.hex()}
    emit(as_json, data, f"{data['peer']}: height {ci.height}, last block hash "
                        f"{data['current_block_hash'] or '-'}")


def block_summary(block: common_pb2.Block) -> dict[str, object]:
    txs = []
    for env_bytes, code in zip(block.data.envelopes, block.metadata.validation_codes, strict=False):
        tx = common_pb2.Transaction.FromString(common_pb2.Envelope.FromString(env_bytes).payload)
        proposal = common_pb2.Proposal.FromString(tx.proposal)
        txs.append({"tx_id": proposal.header.tx_id, "contract": proposal.contract,
                    "function": proposal.function, "validation_code": common_pb2.ValidationCode.Name(code),
                    "timestamp": proposal.header.timestamp.ToJsonString()})
    return {"number": block.header.number, "previous_hash": block.header.previous_hash.hex(),
            "data_hash": block.header.data_hash.hex(), "transactions": txs}


@ledger.command()
@dir_option
@click.argument("number", type=int)
@click.option("--as", "who", default="hospital:admin", show_default=True, metavar="ORG[:USER]")
@click.option("--raw", is_flag=True, help="With --json: the whole block as protobuf JSON.")
@json_option
def block(directory: Path, number: int, who: str, raw: bool, as_json: bool) -> None:
    """Show block NUMBER: its hashes and each transaction with its validation code."""
    with _client(directory, who) as client:
        try:
            b = client.block(number)
        except grpc.RpcError as exc:
            raise _rpc_failed(exc) from exc
    summary = block_summary(b)

    def text() -> str:
        lines = [f"block {number}  previous {summary['previous_hash']}  data {summary['data_hash']}"]
        lines += [f"  {t['tx_id']}  {t['contract']}.{t['function']}  {t['validation_code']}"
                  for t in summary["transactions"]]  # type: ignore[attr-defined]
        return "\n".join(lines)

    emit(as_json, MessageToDict(b) if raw else summary, text)


@ledger.command()
@dir_option
@click.option("--state", "check_state", is_flag=True,
              help="Also re-validate every peer's blocks and compare codes and world state with its "
                   "state database (slower: checks every signature again).")
@json_option
def verify(directory: Path, check_state: bool, as_json: bool) -> None:
    """Check every node's block files (hash chain, data hashes, block times, orderer signatures),
    each peer's block file against the commit records of its state database, and the peers'
    commit hashes against each other.

    Exits non-zero and names the first bad block of each node that fails (with --state: each
    block and key whose state or validation code is not what re-validating the blocks gives).
    """
    layout = Layout(directory.resolve())
    try:
        profile = Profile.load(layout.root)
    except ConfigError as exc:
        raise cli_error(exc) from exc
    orderers = Membership.from_crypto_dir(layout.crypto, [profile.orderer_org])
    # a folder of one host of a network across hosts holds only that host's nodes' ledgers
    elsewhere = [n.id for n in (*profile.orderers, *profile.peers) if not layout.node_data(n).is_dir()]
    here = [n for n in (*profile.orderers, *profile.peers) if n.id not in elsewhere]
    if not here:
        raise CliError(f"no node's ledger in {layout.data}; run ledger verify on a host that runs nodes",
                       "NOT_FOUND")
    reports = {node.id: verify_directory(layout.node_data(node) / "blocks", orderers) for node in here}
    data: dict[str, dict[str, object]] = {
        nid: {"ok": r.ok, "height": r.height, "first_bad_block": r.first_bad_block, "problem": r.problem}
        for nid, r in reports.items()}
    peers = [node for node in profile.peers if node.id in reports]
    records = {node.id: stateverify.commit_records(layout, node) for node in peers}
    disagreeing = stateverify.compare_peers(records)
    for node in peers:
        entry = data[node.id]
        entry["committed"] = len(records[node.id])
        damage = peer_repair.inspect(layout.node_data(node), orderers) if entry["ok"] else None
        problem = damage.describe() if damage else disagreeing.get(node.id, "")
        if damage:
            entry["first_bad_block"] = damage.first_bad_block
        if check_state:
            state = stateverify.verify_state(layout, profile, node)
            entry["state_problems"] = list(state.problems)
            problem = problem or "; ".join(state.problems[:3]) + (
                f" (and {len(state.problems) - 3} more)" if len(state.problems) > 3 else "")
        if problem:
            entry["ok"], entry["problem"] = False, problem

    def text() -> str:
        return "\n".join([*(
            f"{nid}: {'OK' if d['ok'] else 'FAILED'} height {d['height']}"
            + ("" if d["ok"] else f" — {d['problem']}")
            for nid, d in data.items()), *(f"{nid}: not on this host (no ledger folder here)"
                                           for nid in elsewhere)])

    emit(as_json, data, text)
    if not all(d["ok"] for d in data.values()):
        raise SystemExit(1)


def _repair_peer(layout: Layout, profile: Profile, node: NodeInfo, fetch: bool,
                 timeout: float) -> dict[str, object]:
    """Inspect one stopped peer; cut a damaged chain and fetch the cut blocks from the orderers."""
    orderers = Membership.from_crypto_dir(layout.crypto, [profile.orderer_org])
    damage = peer_repair.inspect(layout.node_data(node), orderers)
    if damage is None:
        return {"status": "intact", "problem": "", "first_bad_block": None}
    kept = peer_repair.cut(layout.node_data(node), damage)
    result: dict[str, object] = {"status": "cut", "problem": damage.describe(),
                                 "first_bad_block": damage.first_bad_block, "kept": str(kept or ""),
                                 "fetched": 0}
    with peer_repair.open_peer_ledger(layout, profile, node) as ledger:
        if fetch:
            committer = peer_repair.peer_committer(layout, profile, node, ledger)
            done = committer.catch_up(damage.stored, time.monotonic() + timeout)
            committer.stop()
            result["status"] = "repaired" if done else "cut"
        result["fetched"] = ledger.height - damage.first_bad_block
        result["height"] = ledger.height
    return result


@ledger.command()
@dir_option
@click.argument("nodes", nargs=-1, metavar="[PEER]...")
@click.option("--fetch/--no-fetch", default=True, show_default=True,
              help="Fetch the cut blocks from the orderers now (else the peer fetches them on start).")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for the orderers.")
@json_option
def repair(directory: Path, nodes: tuple[str, ...], fetch: bool, timeout: float, as_json: bool) -> None:
    """Repair stopped peers whose block file is damaged (all peers if none is named).

    The chain is cut at the first damaged block (the cut bytes are kept beside the block file),
    the state is rebuilt from the intact blocks, and the cut blocks are fetched again from the
    orderers and validated. A peer also does this by itself when it starts on a damaged file.
    """
    layout = Layout(directory.resolve())
    try:
        profile = Profile.load(layout.root)
        peers = [profile.node(n) for n in nodes] if nodes else list(profile.peers)
    except (ConfigError, KeyError, ValueError) as exc:
        raise cli_error(exc) from exc
    not_peers = [n.id for n in peers if n not in profile.peers]
    if not_peers:
        raise CliError(f"{', '.join(not_peers)}: not peers; orderers are not repaired here", "USAGE")
    running = {s.id for s in launcher.status(layout.root) if s.running}
    busy = [n.id for n in peers if n.id in running]
    if busy:
        raise CliError(f"{', '.join(busy)} running; stop it first (`careledger network down` "
                       "or kill it), or restart it: a peer repairs its ledger when it starts", "BUSY")
    results = {n.id: _repair_peer(layout, profile, n, fetch, timeout) for n in peers}

    def text() -> str:
        lines = []
        for nid, r in results.items():
            if r["status"] == "intact":
                lines.append(f"{nid}: intact")
                continue
            lines.append(f"{nid}: {str(r['status']).upper()} — {r['problem']}")
            lines.append(f"  cut bytes kept in {r['kept'] or '-'}; blocks fetched again from the "
                         f"orderers: {r['fetched']}; height now {r['height']}")
        return "\n".join(lines)

    emit(as_json, results, text)
    if any(r["status"] == "cut" and fetch for r in results.values()):
        raise SystemExit(1)


@ledger.command()
@dir_option
@click.option("--peer", "peer_id", required=True, help="The peer whose state is taken, e.g. peer0.hospital.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The snapshot file to write.")
@json_option
def snapshot(directory: Path, peer_id: str, out: Path, as_json: bool) -> None:
    """Write PEER's world state at its last committed block to a snapshot file, with the block's
    header hash, its commit hash and state digest, signed by the peer (it may be running).

    A new peer joins from it instead of replaying every block: `careledger node peer --name ID
    --from-snapshot FILE` (its ledger folder empty). It checks the snapshot and asks the other
    peers for their commit hash at that block before it serves.
    """
    layout = Layout(directory.resolve())
    try:
        profile = Profile.load(layout.root)
        node = profile.node(peer_id)
    except (ConfigError, KeyError, ValueError) as exc:
        raise cli_error(exc) from exc
    if node not in profile.peers:
        raise CliError(f"{peer_id} is not a peer; peers: {', '.join(p.id for p in profile.peers)}", "USAGE")
    started = time.monotonic()
    try:
        signer = Signer.from_dir(layout.identity_dir(node.org, node.name))
        manifest = snapshots.create(layout.node_data(node), signer, profile.channel, out)
    except (snapshots.SnapshotError, IdentityError) as exc:
        raise CliError(f"cannot take a snapshot of {peer_id}: {exc}", "FAILED") from exc
    data = {"peer": peer_id, "file": str(out), "bytes": out.stat().st_size,
            "seconds": round(time.monotonic() - started, 3), **manifest.describe()}
    emit(as_json, data, f"{peer_id}: snapshot of block {manifest.block_number} in {out} "
                        f"({data['bytes']:,} bytes), commit hash {manifest.commit_hash[:16]}…, "
                        f"header hash {manifest.header_hash[:16]}…")
