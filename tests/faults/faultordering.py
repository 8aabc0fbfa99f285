"""Faults of the replicated ordering service: who leads, where the chain ends, and killing it all at once.

The networks of scenarios 1-3 run three orderers on a local three-member etcd cluster
(`consensus = "etcd"`). The chain's end is read from etcd's `tip` key, so that a recovery can be
told by the first acknowledgement of a transaction in a block cut after the fault.
"""

from __future__ import annotations

import signal
import time

from careledger.network.local import launcher
from careledger.network.local.testing import LocalNetwork
from careledger.network.orderer.consensus.etcdchain import ChainKeys
from careledger.network.orderer.consensus.etcdclient import EtcdClient, EtcdError

ORDERERS = 3


def chain_tip(net: LocalNetwork, timeout: float = 10.0) -> int | None:
    """The number of the newest block in etcd, or None if etcd did not answer within `timeout`."""
    settings = net.profile.orderer
    key = ChainKeys.of(settings.etcd.prefix, net.profile.channel).tip
    deadline = time.monotonic() + timeout
    with EtcdClient(settings.etcd.endpoints, timeout=1.0) as client:
        while True:
            try:
                kv = client.get(key)
                return int(kv.value) if kv is not None else -1
            except EtcdError:
                if time.monotonic() > deadline:
                    return None
                time.sleep(0.2)


def etcd_members(net: LocalNetwork) -> list[str]:
    return [m.name for m in net.profile.etcd_members]


def kill_ordering_service(net: LocalNetwork) -> list[str]:
    """SIGKILL every orderer and etcd member in one sweep (all signalled before any is waited for)."""
    names = [o.id for o in net.profile.orderers] + etcd_members(net)
    return launcher.stop_nodes(net.layout, names, signal.SIGKILL)
