"""The orderer process: `python -m careledger.network.orderer.server --dir DIR --name orderer0.orderer`.

The orderer takes orgs, CA certificates, access rules and batch settings from the channel
configuration on its chain (block 0 is the genesis block `network up` wrote; later ones follow as
their blocks are stored), never from network.json, which gives only its own address and the
other orderers'."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from prometheus_client import CollectorRegistry

from careledger.network.identity.signing import Signer
from careledger.network.ledger import protoutil
from careledger.network.ledger.blockcheck import check_block
from careledger.network.ledger.blockstore import BlockStore
from careledger.network.ledger.channelconfig import ChannelConfig
from careledger.network.node.connections import Connections
from careledger.network.node.grpcutil import STOP_GRACE, new_server, node_channel, set_serving
from careledger.network.node.liveconfig import LiveConfig, genesis_config, read_genesis, stored_config
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
                   on_block: Callable[[common_pb2.Block], None], live: LiveConfig,
                   genesis: common_pb2.Block) -> Consenter:
    """Solo or etcd, as the profile says; batches as the configuration in force says."""
    settings, config = ctx.profile.orderer, live.current
    cutter = BlockCutter(batch_limits(config, settings.max_message_bytes))
    timeout = config.batch_timeout_ms / 1000
    if settings.consensus == "solo":
        if store.height == 0:
            store.append(genesis)  # the chain starts from the genesis block
        return SoloConsenter(store, signer, cutter, timeout, on_block=on_block, last_config=live.last_config)
    etcd = EtcdConsenterSettings(
        ChainKeys.of(settings.etcd.prefix, ctx.profile.channel), me=ctx.node.id,
        orderers=tuple(n.id for n in ctx.profile.orderers), batch_timeout=timeout,
        lease_ttl=settings.etcd.lease_ttl_s, retain_blocks=settings.etcd.retain_blocks)
    return EtcdConsenter(
        EtcdClient.for_orderers(settings), store, signer, cutter, etcd,
        others=OrdererLinks(ctx.profile, ctx.node, signer, connections),
        check=partial(check_block, orderer_membership=live.orderers), on_block=on_block,
        last_config=live.last_config, genesis=genesis.SerializeToString(),
    )


def batch_limits(config: ChannelConfig, max_message_bytes: int) -> BatchLimits:
    return BatchLimits(config.batch_max_tx, config.batch_max_bytes).deliverable(max_message_bytes)


def _count_if_cut_here(metrics: OrdererMetrics, signer: Signer, block: common_pb2.Block) -> None:
    if block.metadata.orderer == signer.cert_pem:
        metrics.blocks.inc()


def main(argv: list[str] | None = None) -> None:
    ctx = node_context(argv, "orderer")
    profile, settings, me = ctx.profile, ctx.profile.orderer, ctx.node
    genesis = read_genesis(ctx.layout.genesis)
    registry = CollectorRegistry()
    metrics = OrdererMetrics.register(registry)
    store = BlockStore(ctx.data_dir / "blocks")
    live = (LiveConfig(*stored_config(store.get, store.height)) if store.height
            else LiveConfig(genesis_config(genesis)))
    membership = live.everyone
    signer = Signer.from_dir(ctx.identity_dir)
    connections = Connections(partial(node_channel, root_pems=membership.ca_pems(),
                                      identity_dir=ctx.identity_dir,
                                      max_message_bytes=settings.max_message_bytes))
    # told of every block stored here; a configuration switches first
    listeners: list[Callable[[common_pb2.Block], None]] = [live.follow_block]

    def stored(block: common_pb2.Block) -> None:
        for listen in listeners:
            listen(block)

    consenter = make_consenter(ctx, store, signer, connections, stored, live, genesis)
    live.on_change(lambda c: consenter.set_batch(batch_limits(c, settings.max_message_bytes),
                                                 c.batch_timeout_ms / 1000))
    metrics.queue_depth.set_function(lambda: consenter.queue_depth)
    # on an event loop: Broadcast and Deliver streams hold no thread (etcd's waits for blocks do)
    server, health = new_server(ctx.identity_dir, membership.ca_pems, me.address,
                                settings.max_message_bytes, on_loop=True)
    service = OrdererService(profile.channel, membership, consenter, metrics, live.roles("deliver"),
                             config=lambda: live.current,
                             max_envelope_bytes=protoutil.largest_envelope(settings.max_message_bytes))
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
