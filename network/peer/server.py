"""The peer process: `python -m careledger.network.peer.server --dir DIR --name peer0.hospital`.

One process hosts the endorser, the gateway service, the query service and the health service on
one TLS port, and runs the committer that pulls blocks from the orderers. Orgs, CA certificates,
revocations, access rules and the clock skew come from the channel configuration on the ledger:
the genesis block file until the ledger holds one, then each configuration the peer commits. A
damaged block file keeps the port closed until the damaged blocks are fetched again from the
orderers (repair.py); /healthz on the operations port says why meanwhile, and whenever a block
cannot be committed.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from functools import partial

import grpc
from prometheus_client import CollectorRegistry

from careledger.chaincode.sandbox import Sandbox
from careledger.network.identity.membership import Identity
from careledger.network.identity.signing import Signer
from careledger.network.ledger import channelconfig
from careledger.network.node.connections import Connections
from careledger.network.node.grpcutil import STOP_GRACE, new_server, node_channel, set_serving
from careledger.network.node.liveconfig import LiveConfig, genesis_config, read_genesis
from careledger.network.node.nodeproc import node_context, run_until_signal
from careledger.network.node.operations import OperationsServer, PeerMetrics
from careledger.network.peer import checkpoint, join, repair, snapshot
from careledger.network.peer.committer import Committer
from careledger.network.peer.definitions import ContractDefinitions, LiveContracts, wrote_lifecycle
from careledger.network.peer.endorser import Endorser, EndorserService
from careledger.network.peer.gatewayservice import GatewayService
from careledger.network.peer.installed import InstalledPackages, LifecycleService
from careledger.network.peer.ledger import Ledger
from careledger.network.peer.lifecycle import LifecycleContract
from careledger.network.peer.queryservice import QueryService
from careledger.network.peer.recordservice import RecordStoreService, record_size_limit
from careledger.network.peer.validation import Validator
from careledger.protos import (
    gateway_pb2_grpc,
    lifecycle_pb2_grpc,
    peer_pb2_grpc,
    query_pb2_grpc,
    recordstore_pb2_grpc,
)

log = logging.getLogger(__name__)


def consent_now(endorser: Endorser, caller: Identity, patient: str, record_id: str,
                purpose: str, action: str = "access") -> tuple[bool, str, str]:
    """Ask the consent contract, on this peer's committed state, whether the read (or edit) is
    still allowed: (granted, reason, the ledger's content hash of the record)."""
    response = endorser.evaluate_as(caller, "consent", "check_access",
                                    [patient, record_id, purpose, action])
    if response.status != 200:
        return False, response.message, ""
    answer = json.loads(response.payload)
    return bool(answer.get("granted")), str(answer.get("reason", "")), str(answer.get("content_hash", ""))


class LedgerHealth:
    """The /healthz check of the ledger: a repair under way, or why the last block did not commit."""

    def __init__(self) -> None:
        self.repairing = ""
        self.committer: Committer | None = None

    def __call__(self) -> str:
        return self.repairing or (self.committer.ledger_error if self.committer else "")


def main(argv: list[str] | None = None) -> None:
    ctx = node_context(argv, "peer")
    profile, me = ctx.profile, ctx.node
    live = LiveConfig(genesis_config(read_genesis(ctx.layout.genesis)))
    members, everyone, orderer_members = live.members, live.everyone, live.orderers
    signer = Signer.from_dir(ctx.identity_dir)
    metrics_registry = CollectorRegistry()
    metrics = PeerMetrics.register(metrics_registry)
    ops = OperationsServer(me.id, me.host, me.ops_port, metrics_registry) if me.ops_port else None
    ledger_health = LedgerHealth()
    if ops:
        ops.add_check("ledger", ledger_health)
        ops.start()
    max_bytes = profile.orderer.max_message_bytes

    def open_channel(address: str, aio: bool = False) -> grpc.Channel:
        """To another node, trusting the CAs of the configuration in force when it opens (with
        aio a grpc.aio channel, for the gateway's coroutines)."""
        return node_channel(address, everyone.ca_pems(), ctx.identity_dir, max_bytes, aio=aio)

    if ctx.from_snapshot is not None:
        open_for_join = open_channel
        try:
            join.join(ctx.from_snapshot, ctx.data_dir, me.id, profile, signer, members, orderer_members,
                      open_for_join, live.member_peers())
        except snapshot.SnapshotError as exc:
            log.error("snapshot %s refused: %s", ctx.from_snapshot, exc)
            raise SystemExit(f"{me.id}: snapshot {ctx.from_snapshot} refused: {exc}") from exc
    checked_at = time.monotonic()
    start = checkpoint.at_start(ctx.data_dir, signer)  # before anything opens the ledger's files
    damage = repair.inspect_at_start(ctx.data_dir, orderer_members, start)
    height = start.checkpoint.height if start.checkpoint else 0
    log.info("start-up check of %s: %s in %.2fs", me.id,
             start.reason or f"clean checkpoint at height {height}", time.monotonic() - checked_at)
    # Whatever the check passed (all, or the blocks before the damage) is verified; the state
    # scan is skipped only if the checkpoint vouches for the state file and nothing was cut.
    start = replace(start, blocks_checked=True,
                    state_unchanged=start.state_unchanged and damage is None)
    if damage:
        ledger_health.repairing = (f"{damage.describe()}; not serving until blocks {damage.first_bad_block}"
                                   f"..{damage.stored - 1} are fetched again from the orderers")
        log.error("ledger of %s damaged: %s", me.id, ledger_health.repairing)
        kept = repair.cut(ctx.data_dir, damage)
        log.warning("cut the chain before block %d (bytes kept in %s); rebuilding state",
                    damage.first_bad_block, kept)
    # the validator reads the configuration in force at each block from state
    # contract definitions (policies) come from the _lifecycle state, as committed before each block
    ledger = Ledger(ctx.data_dir, lambda state: Validator(profile.channel, members,
                                                          ContractDefinitions(state, profile.orgs), state,
                                                          clock_skew=live.current.clock_skew), signer, start)

    def follow_config() -> None:
        """Switch to the configuration the ledger holds (after a commit that changed it)."""
        found = ledger.state.get_state(channelconfig.CONFIG_NAMESPACE, channelconfig.CONFIG_KEY)
        if found is not None:
            live.switch(channelconfig.ChannelConfig.from_bytes(found[0]), found[1][0])

    follow_config()
    ledger.add_listener(lambda _, outcomes: follow_config() if any(
        o.valid and o.contract == channelconfig.CONFIG_CONTRACT for o in outcomes) else None)
    skew = live.current.clock_skew
    metrics.height.set_function(lambda: ledger.height)
    committer = Committer(ledger, profile.channel, profile.orderers, signer, orderer_members,
                          open_channel, metrics)
    ledger_health.committer = committer

    def check_membership(config: channelconfig.ChannelConfig) -> None:
        """Stop reading blocks once this peer's org left the channel: an orderer refuses it any
        new stream, but would go on serving one opened before the update."""
        if me.org not in config.member_orgs:
            reason = (f"organisation {me.org} is no longer a member of channel {config.channel} "
                      f"(configuration {config.sequence}, block {live.block}): orderers and peers "
                      f"refuse {me.id}; it receives no more blocks")
            log.error("%s", reason)
            committer.drop_stream(reason)

    live.on_change(check_membership)
    if damage:
        started = time.monotonic()
        committer.catch_up(damage.stored)
        log.warning("ledger of %s repaired: blocks %d..%d fetched again from the orderers in %.1fs",
                    me.id, damage.first_bad_block, damage.stored - 1, time.monotonic() - started)
        ledger_health.repairing = ""
    connections = Connections(open_channel, partial(open_channel, aio=True))  # the committer opens its own
    ledger.add_listener(metrics.observe_block)
    definitions = ContractDefinitions(ledger.state, profile.orgs)
    packages = InstalledPackages(ctx.data_dir / "packages")
    contracts = LiveContracts(me.id, definitions, packages, [LifecycleContract(definitions.lifecycle_rule)])
    ledger.add_listener(lambda _, outcomes: contracts.refresh() if wrote_lifecycle(outcomes) else None)
    endorser = Endorser(profile.channel, members, contracts, ledger.state, signer, ledger, max_bytes,
                        clock_skew=skew,
                        sandbox=Sandbox(profile.peer.contract_time_limit_ms, me.id))
    live.on_change(lambda config: endorser.set_clock_skew(config.clock_skew))
    # mutual TLS, as on the orderer: applications too present a certificate of a channel CA
    # on an event loop: the gateway's calls wait for other nodes and commits without a thread each
    server, health = new_server(ctx.identity_dir, everyone.ca_pems, me.address, max_bytes, on_loop=True)
    peer_pb2_grpc.add_EndorserServicer_to_server(EndorserService(endorser, ledger), server)
    gateway_pb2_grpc.add_GatewayServicer_to_server(
        GatewayService(profile, me, members, endorser, ledger, connections, metrics,
                       block_event_readers=live.roles("block_events"), contract_policies=definitions,
                       channel_peers=live.member_peers),
        server)
    lifecycle_pb2_grpc.add_LifecycleServicer_to_server(
        LifecycleService(me.id, me.org, members, packages, lambda: live.current.clock_skew), server)
    query_pb2_grpc.add_QueryServicer_to_server(
        QueryService(profile.channel, members, ledger, live.roles("query")), server)
    records = None
    if me.org == profile.records_org:  # the off-ledger record store lives on this org's peers
        records = RecordStoreService(profile.channel, members, ledger, ctx.data_dir / "records",
                                     partial(consent_now, endorser),
                                     max_record_bytes=record_size_limit(max_bytes))
        recordstore_pb2_grpc.add_RecordStoreServicer_to_server(records, server)
    if ops:
        ops.add_check("orderer", lambda: committer.last_error)
        if records is not None:
            ops.add_check("records", records.integrity_problems)
    running = contracts.names()  # loads the defined contracts' packages before the port opens
    server.start()
    committer.start()
    set_serving(health, True)
    log.info("peer %s serving channel %s on %s (operations on %d) at height %d; contracts: %s",
             me.id, profile.channel, me.address, ops.port if ops else 0, ledger.height,
             ", ".join(running))

    def stop() -> None:
        set_serving(health, False)
        if ops:
            ops.stop()
        committer.stop()
        server.stop(grace=STOP_GRACE).wait()
        connections.close()
        if records is not None:
            records.close()
        ledger.close()

    run_until_signal(stop)


if __name__ == "__main__":
    main()
