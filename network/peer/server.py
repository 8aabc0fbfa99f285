"""The peer process: `python -m careledger.network.peer.server --dir DIR --name peer0.hospital`.

One process hosts the endorser, the gateway service, the query service and the health service on
one TLS port, and runs the committer that pulls blocks from the orderers.
"""

from __future__ import annotations

import logging
from functools import partial

from careledger.chaincode.runtime import ContractRegistry, load_contract
from careledger.network.grpcutil import new_server, node_channel, set_serving
from careledger.network.identity.membership import Membership
from careledger.network.identity.signing import Signer
from careledger.network.nodeproc import node_context, run_until_signal
from careledger.network.peer import policy
from careledger.network.peer.committer import Committer
from careledger.network.peer.endorser import Endorser, EndorserService
from careledger.network.peer.gatewayservice import Connections, GatewayService
from careledger.network.peer.ledger import Ledger
from careledger.network.peer.queryservice import QueryService
from careledger.network.peer.validation import Validator
from careledger.protos import gateway_pb2_grpc, peer_pb2_grpc, query_pb2_grpc

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    ctx = node_context(argv, "peer")
    profile, me = ctx.profile, ctx.node
    members = Membership.from_crypto_dir(ctx.layout.crypto, profile.orgs)
    everyone = Membership.from_crypto_dir(ctx.layout.crypto, [*profile.orgs, profile.orderer_org])
    orderer_members = Membership.from_crypto_dir(ctx.layout.crypto, [profile.orderer_org])
    signer = Signer.from_dir(ctx.identity_dir)
    registry = ContractRegistry(load_contract(c.cls) for c in profile.contracts)
    policies = {c.name: policy.parse(c.policy) for c in profile.contracts}
    ledger = Ledger(ctx.data_dir, lambda state: Validator(profile.channel, members, policies, state))
    max_bytes = profile.orderer.max_message_bytes
    connections = Connections(
        partial(
            node_channel,
            root_pems=everyone.ca_pems(),
            identity_dir=ctx.identity_dir,
            max_message_bytes=max_bytes,
        )
    )
    endorser = Endorser(profile.channel, members, registry, ledger.state, signer, ledger)
    server, health = new_server(
        ctx.identity_dir, everyone.ca_pems(), me.address, max_bytes, require_client_auth=False
    )
    peer_pb2_grpc.add_EndorserServicer_to_server(EndorserService(endorser), server)
    gateway_pb2_grpc.add_GatewayServicer_to_server(
        GatewayService(profile, me, members, endorser, ledger, connections), server
    )
    query_pb2_grpc.add_QueryServicer_to_server(QueryService(profile.channel, members, ledger), server)
    committer = Committer(ledger, profile.channel, profile.orderers, signer, orderer_members, connections.get)
    server.start()
    committer.start()
    set_serving(health, True)
    log.info(
        "peer %s serving channel %s on %s at height %d; contracts: %s",
        me.id,
        profile.channel,
        me.address,
        ledger.height,
        ", ".join(registry.names()),
    )

    def stop() -> None:
        set_serving(health, False)
        committer.stop()
        server.stop(grace=2).wait()
        connections.close()
        ledger.close()

    run_until_signal(stop)


if __name__ == "__main__":
    main()
