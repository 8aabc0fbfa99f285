"""Leadership of a channel's ordering: a lease per orderer, and one leader key held under a lease.

Every orderer keeps a lease alive. The one whose txn creates the `leader` key, attached to its
lease, leads until the key goes: when the leader dies its lease expires after `lease_ttl` seconds
and another orderer takes the key. The key's create revision is the leader's fencing token: the
block writer's compare-and-set requires it, so a deposed leader writes nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from aetcd import rpc

from careledger.network.orderer.consensus.etcdchain import ChainKeys, LocalChain, compare, put
from careledger.network.orderer.consensus.etcdclient import EtcdClient, EtcdError

log = logging.getLogger(__name__)


class Leadership:
    """Keeps this orderer's lease, campaigns for the leader key and tells who leads.

    Its thread runs a round every `lease_ttl / 4` seconds: renew the lease, read the leader key
    (campaigning when it is free), then the `duties` given (called with whether this orderer leads).
    An etcd error in a round is reported by `problem`; if the lease could not be renewed in time,
    this orderer steps down rather than wait to learn that it was deposed.
    """

    def __init__(self, etcd: EtcdClient, keys: ChainKeys, chain: LocalChain, *, me: str, lease_ttl: int,
                 stopping: threading.Event, duties: Callable[[bool], None]) -> None:
        self.me = me
        self.lease_ttl = lease_ttl
        self._etcd = etcd
        self._keys = keys
        self._chain = chain
        self._stopping = stopping
        self._duties = duties
        self._lease: int | None = None
        self._leader_rev: int | None = None  # create revision of the leader key while we hold it
        self._leader_id: str | None = None  # who leads, as last read
        self._problem = ""
        self._thread = threading.Thread(target=self._run, name="etcd-leadership", daemon=True)

    @property
    def is_leader(self) -> bool:
        """Whether this orderer holds the leader key, as of its last round."""
        return self._leader_rev is not None

    @property
    def leader_revision(self) -> int | None:
        """The fencing token for block writes: the leader key's create revision while we hold it."""
        return self._leader_rev

    @property
    def leader_id(self) -> str | None:
        """The id of the orderer that leads, as last read; None while no one does."""
        return self._leader_id

    def problem(self) -> str:
        """What went wrong in the last round; "" when it went through."""
        return self._problem

    def start(self) -> None:
        """Start the rounds on their own thread."""
        self._thread.start()

    def stop(self) -> None:
        """Give up the lease at once, so that another orderer leads now; then wait for the thread.

        The consenter sets `stopping` first.
        """
        if self._lease is not None:
            try:
                self._etcd.revoke(self._lease)
            except EtcdError as exc:
                log.warning("could not revoke lease on stopping (it expires by itself): %s", exc)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        period = self.lease_ttl / 4
        renewed = time.monotonic()
        while not self._stopping.is_set():
            try:
                self._renew_lease()
                renewed = time.monotonic()
                self._observe_leader()
                self._duties(self.is_leader)
                self._problem = ""
            except EtcdError as exc:
                self._problem = f"leadership: {exc}"
                log.warning(self._problem)
                if time.monotonic() - renewed > self.lease_ttl - period:
                    self._step_down("its lease could not be renewed in time")
            self._stopping.wait(period)

    def _renew_lease(self) -> None:
        if self._lease is not None and self._etcd.keepalive(self._lease) > 0:
            return
        if self._lease is not None:
            self._step_down("its lease expired")
        self._lease = self._etcd.grant(self.lease_ttl)

    def _observe_leader(self) -> None:
        current = self._etcd.get(self._keys.leader)
        if current is None:
            self._campaign()
            return
        holder: str | None = current.value.decode()
        if current.create_revision == self._leader_rev:
            return
        self._step_down(f"{holder} holds the leader key")
        if holder == self.me:  # left by our previous run: free it rather than wait for its lease
            self._etcd.txn([compare(self._keys.leader, create_revision=current.create_revision)],
                           [rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=self._keys.leader))])
            holder = None
        if holder != self._leader_id:
            log.info("orderer %s leads channel ordering", holder)
        self._leader_id = holder

    def _campaign(self) -> None:
        if self._chain.tip_revision is None or self._lease is None:
            return  # not caught up with etcd: leading now could only fail
        reply = self._etcd.txn([compare(self._keys.leader, create_revision=0)],
                               [put(self._keys.leader, self.me.encode(), self._lease)])
        if reply.succeeded:
            self._leader_rev = reply.header.revision
            self._leader_id = self.me
            log.info("this orderer now leads: cutting blocks from number %d", self._chain.height)

    def _step_down(self, reason: str) -> None:
        if self._leader_rev is not None:
            self._leader_rev = None
            log.warning("this orderer no longer leads: %s", reason)
