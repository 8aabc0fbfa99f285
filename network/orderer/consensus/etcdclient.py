"""A small blocking client for etcd's v3 API: the calls the orderer makes, moving between members.

It speaks etcd's gRPC protocol through the bindings that the `aetcd` package ships (`aetcd.rpc`),
on an ordinary blocking gRPC channel: that fits the orderer's threads, can use TLS, and lets the
client move on to the next member when one stops answering. (aetcd's own asyncio Client talks to a
single endpoint without TLS.)
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import grpc
from aetcd import rpc

from careledger.network.config import OrdererSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

# etcd refuses watches on a member cut off from its cluster's leader only when asked to
_REQUIRE_LEADER = (("hasleader", "true"),)
_FAILOVER_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                   grpc.StatusCode.CANCELLED)


class EtcdError(Exception):
    """etcd refused a request for a reason other than being unreachable."""


class EtcdUnavailable(EtcdError):
    """No etcd member answered in time; a write's outcome is unknown and must be read back."""


class EtcdCompacted(EtcdError):
    """A watch asked for history that etcd has compacted away; read the current state instead."""


@dataclass(frozen=True)
class EtcdTLS:
    """Files for TLS towards etcd: the CA of its server certificates, and a client pair if required."""

    ca_file: str
    cert_file: str = ""
    key_file: str = ""

    def credentials(self) -> grpc.ChannelCredentials:
        def read(path: str) -> bytes | None:
            return Path(path).read_bytes() if path else None

        return grpc.ssl_channel_credentials(read(self.ca_file), read(self.key_file), read(self.cert_file))


@dataclass(frozen=True)
class KeyValue:
    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int


@dataclass(frozen=True)
class MemberStatus:
    """What one etcd member says about itself, or why it said nothing."""

    endpoint: str
    healthy: bool
    is_raft_leader: bool = False
    raft_term: int = 0
    db_size: int = 0
    error: str = ""


def largest_block(settings: OrdererSettings) -> int:
    """Bytes one block can take: batch_max_bytes, one envelope that overflowed it, and headers."""
    return settings.batch_max_bytes + settings.max_message_bytes + 65_536


def prefix_end(prefix: bytes) -> bytes:
    """The range end that covers every key starting with `prefix`."""
    return prefix[:-1] + bytes([prefix[-1] + 1])


def _kv(raw: object) -> KeyValue:
    return KeyValue(raw.key, raw.value, raw.create_revision, raw.mod_revision)  # type: ignore[attr-defined]


class Watch:
    """A stream of key changes from a revision on; iterate for lists of (is_put, KeyValue)."""

    def __init__(self, channel: grpc.Channel, create: rpc.WatchCreateRequest,
                 on_failure: Callable[[], None]) -> None:
        self._requests: queue.SimpleQueue[rpc.WatchRequest | None] = queue.SimpleQueue()
        self._requests.put(rpc.WatchRequest(create_request=create))
        self._call = rpc.WatchStub(channel).Watch(iter(self._requests.get, None), metadata=_REQUIRE_LEADER)
        self._on_failure = on_failure
        self._cancelled = False

    def __iter__(self) -> Iterator[list[tuple[bool, KeyValue]]]:
        try:
            for response in self._call:
                if response.compact_revision:
                    raise EtcdCompacted(f"history before revision {response.compact_revision} is compacted")
                if response.canceled:
                    raise EtcdUnavailable(f"etcd cancelled the watch: {response.cancel_reason}")
                if response.events:
                    yield [(e.type == e.PUT, _kv(e.kv)) for e in response.events]
        except grpc.RpcError as exc:
            if self._cancelled:
                return
            self._on_failure()
            raise EtcdUnavailable(f"watch ended: {exc.code().name} {exc.details()}") from exc

    def cancel(self) -> None:
        self._cancelled = True
        self._requests.put(None)
        self._call.cancel()

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()


class EtcdClient:
    """One connection at a time to one of `endpoints`; the next one is tried when it fails."""

    def __init__(self, endpoints: Sequence[str], tls: EtcdTLS | None = None, timeout: float = 3.0,
                 max_message_bytes: int = 64 * 1024 * 1024) -> None:
        if not endpoints:
            raise ValueError("an etcd client needs at least one endpoint (host:port)")
        self.endpoints = [e.split("://", 1)[-1] for e in endpoints]
        self._tls = tls
        self._timeout = timeout
        self._options = [("grpc.max_receive_message_length", max_message_bytes),
                         ("grpc.max_send_message_length", max_message_bytes)]
        self._lock = threading.Lock()
        self._current = 0
        self._channel = self._open(self.endpoints[0])
        self._answered: grpc.Channel | None = None  # the channel that last answered a call

    @classmethod
    def for_orderers(cls, settings: OrdererSettings) -> EtcdClient:
        """A client for the orderers' cluster, sized for their largest block."""
        etcd = settings.etcd
        tls = EtcdTLS(etcd.ca_file, etcd.cert_file, etcd.key_file) if etcd.ca_file else None
        return cls(etcd.endpoints, tls, max_message_bytes=max(largest_block(settings), 64 * 1024 * 1024))

    def _open(self, endpoint: str) -> grpc.Channel:
        if self._tls:
            return grpc.secure_channel(endpoint, self._tls.credentials(), options=self._options)
        return grpc.insecure_channel(endpoint, options=self._options)

    def _failover(self, failed: grpc.Channel) -> None:
        """Move to the next endpoint, unless another thread already moved away from `failed`."""
        with self._lock:
            if self._channel is not failed:
                return
            self._current = (self._current + 1) % len(self.endpoints)
            self._channel = self._open(self.endpoints[self._current])
        failed.close()

    def _call(self, what: str, fn: Callable[[grpc.Channel], T], *, retry: bool) -> T:
        """Run fn on the current member; on failure move on, retrying reads (not writes) there.

        A write is sent once: if it fails, its outcome is unknown and the caller must read back.
        So that a write is not lost to a member that is merely down, it goes only to a member that
        has answered since the last move; if none has, a read finds one first.
        """
        if not retry and self._answered is not self._channel:
            self._call("status", lambda ch: rpc.MaintenanceStub(ch).Status(rpc.StatusRequest(),
                                                                           timeout=self._timeout),
                       retry=True)
        attempts = len(self.endpoints) if retry else 1
        for attempt in range(attempts):
            channel = self._channel
            try:
                result = fn(channel)
            except grpc.RpcError as exc:
                code = exc.code()
                if code not in _FAILOVER_CODES:
                    raise EtcdError(f"etcd {what}: {code.name} {exc.details()}") from exc
                endpoint = self.endpoints[self._current]
                self._failover(channel)
                if attempt == attempts - 1:
                    raise EtcdUnavailable(f"etcd {what} at {endpoint}: {code.name} {exc.details()}") from exc
            else:
                self._answered = channel
                return result
        raise AssertionError("unreachable")

    def get(self, key: bytes) -> KeyValue | None:
        """The key's current value (a linearizable read), or None."""
        kvs, _, _ = self.range(key)
        return kvs[0] if kvs else None

    def range(self, key: bytes, range_end: bytes = b"", limit: int = 0) -> tuple[list[KeyValue], int, bool]:
        """Keys in [key, range_end) in key order: (values, revision read at, whether more remain)."""
        request = rpc.RangeRequest(key=key, range_end=range_end, limit=limit)
        reply = self._call("range", lambda ch: rpc.KVStub(ch).Range(request, timeout=self._timeout),
                           retry=True)
        return [_kv(kv) for kv in reply.kvs], reply.header.revision, reply.more

    def put(self, key: bytes, value: bytes, lease: int = 0) -> int:
        """Write a key; returns the revision of the write."""
        request = rpc.PutRequest(key=key, value=value, lease=lease)
        return self._call("put", lambda ch: rpc.KVStub(ch).Put(request, timeout=self._timeout),
                          retry=False).header.revision

    def txn(self, compare: Sequence[rpc.Compare], success: Sequence[rpc.RequestOp],
            failure: Sequence[rpc.RequestOp] = ()) -> rpc.TxnResponse:
        """Apply `success` if every comparison holds, else `failure`, as one atomic step."""
        request = rpc.TxnRequest(compare=compare, success=success, failure=failure)
        return self._call("txn", lambda ch: rpc.KVStub(ch).Txn(request, timeout=self._timeout), retry=False)

    def delete_range(self, key: bytes, range_end: bytes) -> int:
        """Delete the keys in [key, range_end); returns how many there were."""
        request = rpc.DeleteRangeRequest(key=key, range_end=range_end)
        return self._call("delete", lambda ch: rpc.KVStub(ch).DeleteRange(request, timeout=self._timeout),
                          retry=True).deleted

    def compact(self, revision: int) -> None:
        """Drop the history older than `revision`, so that etcd's space stays bounded."""
        request = rpc.CompactionRequest(revision=revision)
        try:
            self._call("compact", lambda ch: rpc.KVStub(ch).Compact(request, timeout=self._timeout),
                       retry=True)
        except EtcdError as exc:
            if "compacted" not in str(exc):  # already compacted that far: nothing to do
                raise

    def grant(self, ttl: int) -> int:
        """A new lease of `ttl` seconds; returns its id."""
        request = rpc.LeaseGrantRequest(TTL=ttl)
        return self._call("lease grant",
                          lambda ch: rpc.LeaseStub(ch).LeaseGrant(request, timeout=self._timeout),
                          retry=True).ID

    def keepalive(self, lease: int) -> int:
        """Renew a lease; returns its remaining seconds, 0 when it has expired."""
        def renew(channel: grpc.Channel) -> int:
            replies = rpc.LeaseStub(channel).LeaseKeepAlive(iter([rpc.LeaseKeepAliveRequest(ID=lease)]),
                                                            timeout=self._timeout)
            return next(iter(replies)).TTL

        return self._call("lease keepalive", renew, retry=True)

    def revoke(self, lease: int) -> None:
        """End a lease now, deleting the keys attached to it."""
        request = rpc.LeaseRevokeRequest(ID=lease)
        self._call("lease revoke", lambda ch: rpc.LeaseStub(ch).LeaseRevoke(request, timeout=self._timeout),
                   retry=False)

    def watch(self, key: bytes, range_end: bytes, start_revision: int) -> Watch:
        """Follow changes to [key, range_end) from `start_revision` on."""
        create = rpc.WatchCreateRequest(key=key, range_end=range_end, start_revision=start_revision)
        channel = self._channel
        return Watch(channel, create, lambda: self._failover(channel))

    def member_status(self, endpoint: str, timeout: float = 1.0) -> MemberStatus:
        """Ask one member directly (not through failover) how it is."""
        channel = self._open(endpoint.split("://", 1)[-1])
        try:
            reply = rpc.MaintenanceStub(channel).Status(rpc.StatusRequest(), timeout=timeout)
        except grpc.RpcError as exc:
            return MemberStatus(endpoint, False, error=f"{exc.code().name} {exc.details()}")
        finally:
            channel.close()
        problem = "; ".join(reply.errors) or ("" if reply.leader else "no raft leader")
        return MemberStatus(endpoint, not problem, reply.leader == reply.header.member_id,
                            reply.raftTerm, reply.dbSize, problem)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> EtcdClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
