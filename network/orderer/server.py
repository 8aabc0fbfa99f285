"""The orderer process: `python -m careledger.network.orderer.server --dir DIR --name orderer0.orderer`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from prometheus_client import CollectorRegistry

from careledger.network.identity.membership import Membership
from careledger.network.identity.signing import Signer
from careledger.network.ledger.blockcheck import check_block
from careledger.network.ledger.blockstore import BlockStore
from careledger.network.node.connections import Connections
from careledger.network.node.grpcutil import STOP_GRACE, new_server, node_channel, set_serving
from careledger.network.node.nodeproc import NodeContext, node_context, run_until_signal
from careledger.network.node.operations import OperationsServer, OrdererMetrics
from careledger.network.orderer.consensus.base import Consenter
from careledger.network.orderer.consensus.etcd import EtcdConsenter, EtcdConsenterSettings
from careledger.network.orderer.consensus.etcdchain import ChainKeys
from careledger.network.orderer.consensus.etcdclient import EtcdClient
from careledger.network.orderer.consensus.solo import SoloConsenter
from careledger.network.orderer.cutter import BatchLimits, BlockCutter
from careledger.network.orderer.links import OrdererLinks
from careledger.network.orderer.service import OrdererService
from careledger.protos import common_pb2, orderer_pb2_grpc

log = logging.getLogger(__name__)


def make_consenter(ctx: NodeContext, store: BlockStore, signer: Signer, connections: Connections,
                   on_block: Callable[[common_pb2.Block], None]) -> Consenter:
    """Solo or etcd, as the profile says."""
    settings = ctx.profile.orderer
    cutter = BlockCutter(BatchLimits(settings.batch_max_tx, settings.batch_max_bytes))
    timeout = settings.batch_timeout_ms / 1000
    if settings.consensus == "solo":
        return SoloConsenter(store, signer, cutter, timeout, on_block=on_block)
    orderer_membership = Membership.from_crypto_dir(ctx.layout.crypto, [ctx.profile.orderer_org])
    etcd = EtcdConsenterSettings(
        ChainKeys.of(settings.etcd.prefix, ctx.profile.channel), me=ctx.node.id,
        orderers=tuple(n.id for n in ctx.profile.orderers), batch_timeout=timeout,
        lease_ttl=settings.etcd.lease_ttl_s, retain_blocks=settings.etcd.retain_blocks)
    return EtcdConsenter(
        EtcdClient.for_orderers(settings), store, signer, cutter, etcd,
        others=OrdererLinks(ctx.profile, ctx.node, signer, connections),
        check=partial(check_block, orderer_membership=orderer_membership), on_block=on_block,
    )


def _count_if_cut_here(metrics: OrdererMetrics, signer: Signer, block: common_pb2.Block) -> None:
    if block.metadata.orderer == signer.cert_pem:
        metrics.blocks.inc()


def main(argv: list[str] | None = None) -> None:
    ctx = node_context(argv, "orderer")
    profile, settings, me = ctx.profile, ctx.profile.orderer, ctx.node
    membership = Membership.from_crypto_dir(ctx.layout.crypto, [*profile.orgs, profile.orderer_org])
    registry = CollectorRegistry()
    metrics = OrdererMetrics.register(registry)
    store = BlockStore(ctx.data_dir / "blocks")
    signer = Signer.from_dir(ctx.identity_dir)
    connections = Connections(partial(node_channel, root_pems=membership.ca_pems(),
                                      identity_dir=ctx.identity_dir,
                                      max_message_bytes=settings.max_message_bytes))
    listeners: list[Callable[[common_pb2.Block], None]] = []  # told of every block stored here

    def stored(block: common_pb2.Block) -> None:
        for listen in listeners:
            listen(block)

    consenter = make_consenter(ctx, store, signer, connections, stored)
    metrics.queue_depth.set_function(lambda: consenter.queue_depth)
    server, health = new_server(ctx.identity_dir, membership.ca_pems(), me.address,
                                settings.max_message_bytes)
    service = OrdererService(profile.channel, membership, consenter, metrics, profile.access.deliver)
    listeners += [service.remember, partial(_count_if_cut_here, metrics, signer)]
    orderer_pb2_grpc.add_OrdererServicer_to_server(service, server)
    ops = OperationsServer(me.id, me.host, me.ops_port, registry) if me.ops_port else None
    if ops:
        if isinstance(consenter, EtcdConsenter):
            ops.add_check("consensus", consenter.problem)
        ops.start()
    consenter.start()
    server.start()
    set_serving(health, True)
    log.info("orderer %s serving channel %s on %s (operations on %d, %s consensus) at height %d",
             me.id, profile.channel, me.address, me.ops_port, settings.consensus, store.height)

    def stop() -> None:
        set_serving(health, False)
        if ops:
            ops.stop()
        server.stop(grace=STOP_GRACE).wait()
        consenter.stop()
        connections.close()
        store.close()

    run_until_signal(stop)


if __name__ == "__main__":
    main()
