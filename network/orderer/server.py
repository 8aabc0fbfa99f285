"""The orderer process: `python -m careledger.network.orderer.server --dir DIR --name orderer0.orderer`."""

from __future__ import annotations

import logging

from careledger.network.grpcutil import new_server, set_serving
from careledger.network.identity.membership import Membership
from careledger.network.identity.signing import Signer
from careledger.network.nodeproc import node_context, run_until_signal
from careledger.network.orderer.consensus.solo import SoloConsenter
from careledger.network.orderer.cutter import BatchLimits, BlockCutter
from careledger.network.orderer.service import OrdererService
from careledger.network.peer.blockstore import BlockStore
from careledger.protos import orderer_pb2_grpc

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    ctx = node_context(argv, "orderer")
    profile, settings = ctx.profile, ctx.profile.orderer
    membership = Membership.from_crypto_dir(ctx.layout.crypto, [*profile.orgs, profile.orderer_org])
    store = BlockStore(ctx.data_dir / "blocks")
    consenter = SoloConsenter(
        store, Signer.from_dir(ctx.identity_dir),
        BlockCutter(BatchLimits(settings.batch_max_tx, settings.batch_max_bytes)),
        settings.batch_timeout_ms / 1000,
    )
    server, health = new_server(ctx.identity_dir, membership.ca_pems(), ctx.node.address,
                                settings.max_message_bytes)
    orderer_pb2_grpc.add_OrdererServicer_to_server(
        OrdererService(profile.channel, membership, consenter), server)
    consenter.start()
    server.start()
    set_serving(health, True)
    log.info("orderer %s serving channel %s on %s at height %d",
             ctx.node.id, profile.channel, ctx.node.address, store.height)

    def stop() -> None:
        set_serving(health, False)
        server.stop(grace=2).wait()
        consenter.stop()
        store.close()

    run_until_signal(stop)


if __name__ == "__main__":
    main()
