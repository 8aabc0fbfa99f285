"""Pull blocks from the orderers and commit them, resuming from the ledger's height after any stop.

The peer never trusts a block for being delivered: each must carry the next number, chain to the
previous block's hash, match its data hash and bear a valid orderer signature before validation.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import grpc

from careledger.network.config import NodeInfo
from careledger.network.identity.membership import Membership
from careledger.network.identity.signing import Signer
from careledger.network.ledgerverify import check_block
from careledger.network.operations import PeerMetrics
from careledger.network.peer.ledger import Ledger
from careledger.protos import common_pb2, orderer_pb2, orderer_pb2_grpc

log = logging.getLogger(__name__)


class BlockRejected(Exception):
    """A delivered block failed its checks; the committer drops the stream and reconnects."""


class Committer:
    def __init__(
        self,
        ledger: Ledger,
        channel: str,
        orderers: Sequence[NodeInfo],
        signer: Signer,
        orderer_membership: Membership,
        open_channel: Callable[[str], grpc.Channel],
        metrics: PeerMetrics,
        max_backoff: float = 5.0,
    ) -> None:
        self._ledger = ledger
        self._channel = channel
        self._orderers = list(orderers)
        self._signer = signer
        self._orderer_membership = orderer_membership
        self._open = open_channel
        self._max_backoff = max_backoff
        self._metrics = metrics
        self._stopping = threading.Event()
        self._call: grpc.Future | None = None
        self._thread = threading.Thread(target=self._run, name="committer", daemon=True)
        self.last_error = "not connected to an orderer yet"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._call is not None:
            self._call.cancel()
        self._thread.join(timeout=5)

    def _seek(self) -> common_pb2.Signed:
        seek = orderer_pb2.SeekRequest(
            channel=self._channel, creator=self._signer.cert_pem, start=self._ledger.height, follow=True
        )
        payload = seek.SerializeToString()
        return common_pb2.Signed(payload=payload, signature=self._signer.sign(payload))

    def _run(self) -> None:
        backoff, attempt = 0.2, 0
        while not self._stopping.is_set():
            node = self._orderers[attempt % len(self._orderers)]
            attempt += 1
            channel = self._open(node.address)
            try:
                grpc.channel_ready_future(channel).result(timeout=self._max_backoff)
                self.last_error = ""
                self._call = orderer_pb2_grpc.OrdererStub(channel).Deliver(self._seek())
                for block in self._call:
                    self._commit(block, node)
                    backoff = 0.2
            except grpc.RpcError as exc:
                if self._stopping.is_set():
                    break
                self.last_error = f"deliver from orderer {node.id}: {exc.code().name} {exc.details()}"
                log.warning("%s; reconnecting in %.1fs", self.last_error, backoff)
            except grpc.FutureTimeoutError:
                self.last_error = f"orderer {node.id} at {node.address} unreachable"
                log.warning("%s; trying again in %.1fs", self.last_error, backoff)
            except BlockRejected as exc:
                self.last_error = str(exc)
                log.error("%s; reconnecting in %.1fs", exc, backoff)
            finally:
                channel.close()
            self._stopping.wait(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    def _commit(self, block: common_pb2.Block, node: NodeInfo) -> None:
        height = self._ledger.height
        if block.header.number < height:
            return  # already have it (a re-delivered block after reconnecting)
        previous = self._ledger.get_block(height - 1).header if height else None
        problem = check_block(block, previous, height, self._orderer_membership)
        if problem:
            raise BlockRejected(f"block {block.header.number} from orderer {node.id} rejected: {problem}")
        with self._metrics.commit_seconds.time():
            outcomes = self._ledger.commit(block)
        valid = sum(o.code == common_pb2.VALID for o in outcomes)
        log.info("committed block %d: %d transactions, %d valid", block.header.number, len(outcomes), valid)
