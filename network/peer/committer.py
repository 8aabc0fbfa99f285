"""Pull blocks from the orderers and commit them, resuming from the ledger's height after any stop.

The peer never trusts a block for being delivered: each must carry the next number, chain to the
previous block's hash, match its data hash and bear a valid orderer signature before validation.
A block the ledger cannot store (a full disk) is not skipped: the committer keeps the error for
/healthz, finishes any half-applied block with `Ledger.resume()` and asks for the block again.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence

import grpc

from careledger.network.config import NodeInfo
from careledger.network.identity.membership import Membership
from careledger.network.identity.signing import Signer
from careledger.network.ledger.blockcheck import check_block
from careledger.network.node.operations import PeerMetrics
from careledger.network.peer.ledger import Ledger, LedgerError
from careledger.protos import common_pb2, orderer_pb2, orderer_pb2_grpc

log = logging.getLogger(__name__)

LEDGER_RETRY_SECONDS = 1.0  # how soon a block the disk refused is tried again


def _unreachable(node: NodeInfo, probe_timeout: float = 1.0) -> str:
    """Why no channel to an orderer became ready: nothing listens there, or the orderer takes the
    connection but not this peer's TLS certificate, which is how the orderers refuse a peer whose
    org the channel configuration in force does not hold (not added yet, or removed)."""
    try:
        socket.create_connection((node.host, node.port), timeout=probe_timeout).close()
    except OSError:
        return f"orderer {node.id} at {node.address} unreachable"
    return (f"orderer {node.id} at {node.address} takes connections but refuses this peer's TLS "
            "certificate: its organisation is not in the channel configuration in force (not added yet, "
            "or removed); waiting for a configuration update that adds it (`careledger channel update "
            f"--add-org`, signed by the channel's admins). If it is a member, check that the orderer's "
            f"certificate names {node.host}")


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
        self._call: grpc.Call | None = None  # the Deliver stream being read, cancelled by stop()
        self._ready: grpc.Future[None] | None = None
        self._thread = threading.Thread(target=self._run, name="committer", daemon=True)
        self.last_error = "not connected to an orderer yet"
        self._dropped = ""  # why drop_stream() ended the current stream
        self.ledger_error = ""  # why the last block could not be committed; "" once one is

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        for pending in (self._call, self._ready):
            if pending is not None:
                pending.cancel()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def drop_stream(self, reason: str) -> None:
        """Stop reading the current Deliver stream (e.g. this peer's org left the channel: the
        orderers would refuse it a new one, but keep serving a stream opened before); the
        committer connects again, so it resumes if an orderer accepts it once more."""
        self._dropped = reason
        if self._call is not None:
            self._call.cancel()

    def _seek(self, stop: int | None = None) -> common_pb2.Signed:
        seek = orderer_pb2.SeekRequest(
            channel=self._channel, creator=self._signer.cert_pem, start=self._ledger.height,
            follow=stop is None, stop=stop or 0,
        )
        payload = seek.SerializeToString()
        return common_pb2.Signed(payload=payload, signature=self._signer.sign(payload))

    def _ledger_ready(self) -> bool:
        """Finish a block whose state write failed earlier; False while that still fails."""
        if not self._ledger.problem:
            return True
        try:
            self._ledger.resume()
        except LedgerError as exc:
            self.ledger_error = str(exc)
            return False
        self.ledger_error = ""
        return True

    def _connect(self, node: NodeInfo) -> grpc.Channel:
        channel = self._open(node.address)
        self._ready = grpc.channel_ready_future(channel)
        if self._stopping.is_set():
            self._ready.cancel()
        try:
            self._ready.result(timeout=self._max_backoff)
        except grpc.FutureCancelledError as exc:
            channel.close()
            raise grpc.FutureTimeoutError() from exc
        except BaseException:
            channel.close()
            raise
        return channel

    def _run(self) -> None:
        backoff, attempt = 0.2, 0
        while not self._stopping.is_set():
            if not self._ledger_ready():
                log.error("%s", self.ledger_error)
                self._stopping.wait(LEDGER_RETRY_SECONDS)
                continue
            node = self._orderers[attempt % len(self._orderers)]
            attempt += 1
            try:
                channel = self._connect(node)
            except grpc.FutureTimeoutError:
                if not self._stopping.is_set():
                    self.last_error = _unreachable(node)
                    log.warning("%s; trying again in %.1fs", self.last_error, backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            try:
                self.last_error = ""
                self._call = call = orderer_pb2_grpc.OrdererStub(channel).Deliver(self._seek())
                for block in call:
                    self._commit(block, node)
                    backoff = 0.2
            except grpc.RpcError as exc:
                if self._stopping.is_set():
                    break
                self.last_error = (self._dropped or
                                   f"deliver from orderer {node.id}: {exc.code().name} {exc.details()}")
                self._dropped = ""
                log.warning("%s; reconnecting in %.1fs", self.last_error, backoff)
            except BlockRejected as exc:
                self.last_error = str(exc)
                log.error("%s; reconnecting in %.1fs", exc, backoff)
            except LedgerError as exc:  # e.g. a full disk: retry often, to resume soon after
                self.ledger_error = str(exc)
                backoff = min(backoff, LEDGER_RETRY_SECONDS)
                log.error("%s; trying again in %.1fs", exc, backoff)
            except Exception as exc:  # the committer must outlive any one bad block or call
                self.ledger_error = f"committing from orderer {node.id} failed: {type(exc).__name__}: {exc}"
                log.exception("%s; trying again in %.1fs", self.ledger_error, backoff)
            finally:
                channel.close()
            self._stopping.wait(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    def _commit(self, block: common_pb2.Block, node: NodeInfo) -> None:
        height = self._ledger.height
        if block.header.number < height:
            return  # already have it (a re-delivered block after reconnecting)
        previous = self._ledger.header(height - 1) if height else None
        problem = check_block(block, previous, height, self._orderer_membership)
        if problem:
            raise BlockRejected(f"block {block.header.number} from orderer {node.id} rejected: {problem}")
        with self._metrics.commit_seconds.time():
            outcomes = self._ledger.commit(block)
        self.ledger_error = ""
        valid = sum(o.code == common_pb2.VALID for o in outcomes)
        log.info("committed block %d: %d transactions, %d valid", block.header.number, len(outcomes), valid)

    def catch_up(self, height: int, deadline: float | None = None) -> bool:
        """Fetch and commit blocks up to `height` on this thread (repair); False if not reached.

        Asks each orderer in turn for the missing range, without following new blocks, so it
        ends once the ledger holds `height` blocks, at `deadline` (monotonic) or on stop().
        """
        attempt = 0
        while self._ledger.height < height and not self._stopping.is_set():
            if deadline is not None and time.monotonic() > deadline:
                return False
            node = self._orderers[attempt % len(self._orderers)]
            attempt += 1
            try:
                channel = self._connect(node)
            except grpc.FutureTimeoutError:
                self.last_error = f"orderer {node.id} at {node.address} unreachable"
                log.warning("catching up to block %d: %s", height - 1, self.last_error)
                self._stopping.wait(0.5)
                continue
            timeout = None if deadline is None else max(deadline - time.monotonic(), 0.1)
            try:
                self._call = call = orderer_pb2_grpc.OrdererStub(channel).Deliver(
                    self._seek(stop=height - 1), timeout=timeout)
                for block in call:
                    self._commit(block, node)
                    if self._ledger.height >= height:
                        call.cancel()
                        break
            except (grpc.RpcError, BlockRejected, LedgerError) as exc:
                if self._stopping.is_set():
                    break
                self.last_error = f"catching up from orderer {node.id}: {exc}"
                log.warning("%s", self.last_error)
                self._stopping.wait(0.5)
            finally:
                channel.close()
        return self._ledger.height >= height
