"""A peer joining from a snapshot (`careledger node peer --from-snapshot FILE`), before it serves.

The snapshot is checked on its own (snapshot.verify), then against every other peer of the
channel it can reach (Query.GetCommitInfo at the snapshot's block, signed as this peer), and only
then installed; the committer then fetches the blocks after it from the orderers. A refusal
stops the peer with a message naming what differs. A peer whose ledger already holds the
snapshot's block (a restart with the same flag) keeps its ledger.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import grpc

from careledger.network.config import NodeInfo, Profile
from careledger.network.identity.membership import Membership
from careledger.network.identity.signing import Signer
from careledger.network.ledger.blockstore import BLOCKS_FILE, first_number
from careledger.network.peer import snapshot
from careledger.network.peer.ledger import BLOCKS_DIR, STATE_FILE
from careledger.protos import common_pb2, query_pb2, query_pb2_grpc

log = logging.getLogger(__name__)

ASK_TIMEOUT = 10.0


def _has_ledger(data_dir: Path) -> bool:
    blocks = data_dir / BLOCKS_DIR / BLOCKS_FILE
    return (data_dir / STATE_FILE).exists() or (blocks.exists() and blocks.stat().st_size > 0)


def asker(channel_name: str, nodes: Mapping[str, NodeInfo], signer: Signer,
          open_channel: Callable[[str], grpc.Channel],
          block: int) -> Callable[[Iterable[str]], dict[str, snapshot.PeerAnswer]]:
    """Ask peers (by id, found in `nodes`) for their commit info at `block`, signed as this peer."""

    def ask(peers: Iterable[str]) -> dict[str, snapshot.PeerAnswer]:
        answers = {}
        for peer_id in peers:
            node = nodes[peer_id]
            req = query_pb2.QueryRequest(channel=channel_name, creator=signer.cert_pem, block_number=block)
            payload = req.SerializeToString()
            channel = open_channel(node.address)
            try:
                info = query_pb2_grpc.QueryStub(channel).GetCommitInfo(
                    common_pb2.Signed(payload=payload, signature=signer.sign(payload)), timeout=ASK_TIMEOUT)
                answers[peer_id] = snapshot.PeerAnswer(info.commit_hash, info.state_digest, info.header_hash)
            except grpc.RpcError as exc:
                answers[peer_id] = snapshot.PeerAnswer(error=f"{exc.code().name} {exc.details()}")
            finally:
                channel.close()
        return answers

    return ask


def join(path: Path, data_dir: Path, me: str, profile: Profile, signer: Signer, members: Membership,
         orderers: Membership, open_channel: Callable[[str], grpc.Channel],
         channel_peers: Mapping[str, Sequence[NodeInfo]] | None = None) -> None:
    """Install the snapshot at `path` as the ledger in `data_dir`, or raise SnapshotError. The
    peers asked to confirm it are the profile's and those the channel configuration lists (all
    a new org's host knows of the others)."""
    manifest = snapshot.verify(path, profile.channel, members, orderers)
    if _has_ledger(data_dir):
        first = first_number(data_dir / BLOCKS_DIR)
        if first == manifest.block_number + 1:
            log.info("ledger in %s already joined from the snapshot at block %d; keeping it",
                     data_dir, manifest.block_number)
            return
        raise snapshot.SnapshotError(f"{data_dir} already holds a ledger; a peer joins from a snapshot "
                                     "only when its ledger folder is empty")
    listed = [p for peers in (channel_peers or {}).values() for p in peers]
    nodes = {p.id: p for p in (*listed, *profile.peers) if p.id != me}  # network.json's address wins
    agreeing = snapshot.install(path, data_dir, manifest,
                                asker(profile.channel, nodes, signer, open_channel, manifest.block_number),
                                list(nodes))
    log.info("joined from the snapshot of block %d (commit hash %s…); %s agree; fetching the blocks "
             "after it from the orderers", manifest.block_number, manifest.commit_hash[:16],
             ", ".join(agreeing))
