"""The orderer process: `python -m careledger.network.orderer.server --dir DIR --name orderer0.orderer`."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry

from careledger.network.grpcutil import new_server, set_serving
from careledger.network.identity.membership import Membership
from careledger.network.identity.signing import Signer
from careledger.network.nodeproc import node_context, run_until_signal
from careledger.network.operations import OperationsServer, OrdererMetrics
from careledger.network.orderer.consensus.solo import SoloConsenter
from careledger.network.orderer.cutter import BatchLimits, BlockCutter
from careledger.network.orderer.service import OrdererService
from careledger.network.peer.blockstore import BlockStore
from careledger.protos import orderer_pb2_grpc

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    ctx = node_context(argv, "orderer")
    profile, settings, me = ctx.profile, ctx.profile.orderer, ctx.node
    membership = Membership.from_crypto_dir(ctx.layout.crypto, [*profile.orgs, profile.orderer_org])
    registry = CollectorRegistry()
    metrics = OrdererMetrics.register(registry)
    store = BlockStore(ctx.data_dir / "blocks")
    consenter = SoloConsenter(
        store, Signer.from_dir(ctx.identity_dir),
        BlockCutter(BatchLimits(settings.batch_max_tx, settings.batch_max_bytes)),
        settings.batch_timeout_ms / 1000,
        on_block=lambda _: metrics.blocks.inc(),
    )
    metrics.queue_depth.set_function(lambda: consenter.queue_depth)
    server, health = new_server(ctx.identity_dir, membership.ca_pems(), me.address,
                                settings.max_message_bytes)
    orderer_pb2_grpc.add_OrdererServicer_to_server(
        OrdererService(profile.channel, membership, consenter, metrics), server)
    ops = OperationsServer(me.id, me.host, me.ops_port, registry) if me.ops_port else None
    if ops:
        ops.start()
    consenter.start()
    server.start()
    set_serving(health, True)
    log.info("orderer %s serving channel %s on %s (operations on %d) at height %d",
             me.id, profile.channel, me.address, me.ops_port, store.height)

    def stop() -> None:
        set_serving(health, False)
        if ops:
            ops.stop()
        server.stop(grace=2).wait()
        consenter.stop()
        store.close()

    run_until_signal(stop)


if __name__ == "__main__":
    main()
