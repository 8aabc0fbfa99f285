"""CPU a peer spends to commit one transaction, without a network: µs per committed tx.

    python benchmarks/commit_path.py [--blocks 40] [--txs 16] [--runs 5] [--warm-creator]

Builds, once, a chain like benchmarks/network-board.toml's network: a genesis block with
the channel configuration of three member orgs signed by their admins, a block defining the contract
`basic` under AND(hospital, insurer), then --blocks blocks of --txs create_asset transactions, each
a real ECDSA-signed envelope with the endorsements of the hospital and insurer peers. Each run then
commits the chain through a Committer's per-block step (the block checks: number, hash chain, data
hash, orderer signature) into a fresh Ledger (validation, block file with fsync, state database)
in a temporary folder, as a commit-only peer (peer0.board) does, and the median of --runs runs is
printed. --warm-creator first verifies every envelope's creator signature, as the gateway peer's
Submit has before it commits the block. Blocks are parsed before the clock starts (gRPC does that
on a peer); the signatures the process remembers are forgotten before each run, so no run profits
from the one before.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry

from careledger.gateway import config as sdkconfig
from careledger.gateway.identity import Identity, new_private_key_signer
from careledger.network.identity import membership as membership_module
from careledger.network.identity.certs import IdentitySpec, generate_org
from careledger.network.identity.membership import Membership
from careledger.network.identity.signing import Signer
from careledger.network.ledger import protoutil
from careledger.network.ledger.channelconfig import MAJORITY
from careledger.network.node.operations import PeerMetrics
from careledger.network.orderer.blockmaker import make_block
from careledger.network.peer.committer import Committer
from careledger.network.peer.definitions import LIFECYCLE, ContractDefinitions, Definition, definition_key
from careledger.network.peer.ledger import Ledger
from careledger.network.peer.validation import Validator
from careledger.protos import common_pb2, config_pb2

CHANNEL = "healthcare"
MEMBERS = ("hospital", "insurer", "board")
ORDERER_ORG = "orderer"
CONTRACT = "basic"


class Chain:
    """The identities and the serialized blocks every run commits."""

    def __init__(self, root: Path, blocks: int, txs: int) -> None:
        self.crypto = root / "crypto"
        for org in MEMBERS:
            generate_org(self.crypto, org, [IdentitySpec("peer0", "peer"), IdentitySpec("alice", "client"),
                                            IdentitySpec("admin", "admin")])
        generate_org(self.crypto, ORDERER_ORG, [IdentitySpec("orderer0", "orderer")])
        self.orderer = self._signer(ORDERER_ORG, "orderer0")
        self.client = self._signer("hospital", "alice")
        self.endorsers = [self._signer("hospital", "peer0"), self._signer("insurer", "peer0")]
        self.board = self._signer("board", "peer0")
        start = datetime.now(UTC)  # not before the certificates just issued
        chain: list[common_pb2.Block] = [make_block(0, None, [self._genesis()], self.orderer, at=start)]
        definition = Definition(CONTRACT, "1", 1, "AND(hospital, insurer)", "basic:1")
        chain.append(self._block(chain, [self._envelope(
            LIFECYCLE, {definition_key(CONTRACT): json.dumps(definition.to_json()).encode()}, {},
            start)], start))
        for b in range(blocks):
            at = start + timedelta(milliseconds=50 * (b + 1))
            chain.append(self._block(chain, [
                self._envelope(CONTRACT, {f"asset-{b}-{t}": b'{"owner": "bench", "value": %d}' % t},
                               {f"asset-{b}-{t}": None}, at)
                for t in range(txs)], at))
        self.blocks = [block.SerializeToString() for block in chain]
        self.envelopes = [env for block in chain[2:] for env in block.data.envelopes]

    def _signer(self, org: str, name: str) -> Signer:
        return Signer.from_dir(self.crypto / org / name)

    def _genesis(self) -> bytes:
        def org(name: str, orderer_org: bool = False) -> config_pb2.OrgConfig:
            return config_pb2.OrgConfig(name=name, orderer_org=orderer_org,
                                        ca_cert=(self.crypto / name / "ca" / "cert.pem").read_bytes())

        config = config_pb2.ChannelConfig(
            channel=CHANNEL, sequence=0, orgs=[*(org(o) for o in MEMBERS), org(ORDERER_ORG, True)],
            orderers=[config_pb2.Endpoint(name="orderer0", org=ORDERER_ORG, host="127.0.0.1", port=7050)],
            policies=config_pb2.ChannelPolicies(admins=MAJORITY, lifecycle=MAJORITY),
            access=config_pb2.AccessConfig(query=["peer", "admin"], deliver=["peer", "orderer", "admin"]),
            batch=config_pb2.BatchConfig(max_tx=500, max_bytes=4_194_304, timeout_ms=50),
            clock_skew_s=300.0)
        update = config_pb2.ConfigUpdate(channel=CHANNEL, sequence=0, config=config)
        signed = config_pb2.SignedConfigUpdate(update=update.SerializeToString(deterministic=True))
        admins = []
        for name in MEMBERS:
            folder = self.crypto / name / "admin"
            admins.append((Identity(name, (folder / "cert.pem").read_bytes()),
                           new_private_key_signer((folder / "key.pem").read_bytes())))
            signed = sdkconfig.sign_update(signed, *admins[-1])
        return sdkconfig.config_envelope(signed, *admins[0]).SerializeToString(deterministic=True)

    def _envelope(self, contract: str, writes: dict[str, bytes], reads: dict[str, None],
                  at: datetime) -> bytes:
        """A transaction as the gateway assembles it: proposal, two endorsements, signed envelope."""
        nonce = os.urandom(24)
        proposal = common_pb2.Proposal(contract=contract, function="create_asset")
        header = proposal.header
        header.channel, header.creator, header.nonce = CHANNEL, self.client.cert_pem, nonce
        header.tx_id = protoutil.compute_tx_id(nonce, self.client.cert_pem)
        header.timestamp.FromDatetime(at)
        ns = common_pb2.NsReadWriteSet(namespace=contract)
        ns.reads.extend(common_pb2.KVRead(key=k) for k in reads)
        ns.writes.extend(common_pb2.KVWrite(key=k, value=v) for k, v in writes.items())
        stripped = protoutil.strip_transient(proposal)
        payload = common_pb2.ProposalResponsePayload(
            proposal_hash=protoutil.proposal_hash(stripped), response=common_pb2.Response(status=200),
            rwset=common_pb2.ReadWriteSet(ns_rwset=[ns])).SerializeToString(deterministic=True)
        tx = common_pb2.Transaction(proposal=stripped, response_payload=payload, endorsements=[
            common_pb2.Endorsement(endorser=e.cert_pem, signature=e.sign(payload)) for e in self.endorsers])
        raw = tx.SerializeToString(deterministic=True)
        return common_pb2.Envelope(payload=raw, signature=self.client.sign(raw)).SerializeToString()

    def _block(self, chain: list[common_pb2.Block], envelopes: list[bytes], at: datetime) -> common_pb2.Block:
        return make_block(len(chain), chain[-1].header, envelopes, self.orderer, at=at)


def switches() -> int:
    """Context switches of this process's threads so far, voluntary or not."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_nvcsw + usage.ru_nivcsw


def run_once(chain: Chain, folder: Path, warm_creator: bool) -> tuple[float, float, int]:
    """CPU seconds, wall seconds and context switches to commit the chain's blocks into a new
    ledger in `folder`."""
    forget_signatures = getattr(membership_module, "forget_signatures", None)  # older trees: none
    if forget_signatures is not None:
        forget_signatures()
    members = Membership.from_crypto_dir(chain.crypto, MEMBERS)
    orderers = Membership.from_crypto_dir(chain.crypto, [ORDERER_ORG])
    ledger = Ledger(folder, lambda state: Validator(CHANNEL, members, ContractDefinitions(state, MEMBERS),
                                                    state), chain.board)
    committer = Committer(ledger, CHANNEL, [], chain.board, orderers, lambda _: None,  # type: ignore[arg-type,return-value]
                          PeerMetrics.register(CollectorRegistry()))
    blocks = [common_pb2.Block.FromString(raw) for raw in chain.blocks]
    if warm_creator:
        for raw in chain.envelopes:
            env = common_pb2.Envelope.FromString(raw)
            members.verify(chain.client.cert_pem, env.payload, env.signature)
    try:
        for block in blocks[:2]:  # the genesis and the definition are not measured
            committer._commit(block, None)  # type: ignore[arg-type]
        cpu, wall, switched = time.process_time(), time.perf_counter(), switches()
        for block in blocks[2:]:
            committer._commit(block, None)  # type: ignore[arg-type]
        cpu, wall, switched = (time.process_time() - cpu, time.perf_counter() - wall,
                               switches() - switched)
    finally:
        ledger.close()
    codes = {code for block in blocks[2:] for code in block.metadata.validation_codes}
    if codes != {common_pb2.VALID}:
        raise SystemExit(f"not every transaction was valid: codes {sorted(codes)}")
    return cpu, wall, switched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=40)
    parser.add_argument("--txs", type=int, default=16, help="transactions per block")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warm-creator", action="store_true",
                        help="creator signatures already verified (the gateway peer)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="commit-path-") as tmp:
        root = Path(tmp)
        chain = Chain(root, args.blocks, args.txs)
        txs = args.blocks * args.txs
        runs = [run_once(chain, root / f"ledger-{run}", args.warm_creator) for run in range(args.runs)]
    cpu = [r[0] / txs * 1e6 for r in runs]
    print(f"commit path, {args.blocks} blocks x {args.txs} txs"
          f"{', creator signatures warm' if args.warm_creator else ''}, median of {args.runs} runs: "
          f"{statistics.median(cpu):.0f} us CPU per tx (least {min(cpu):.0f}; runs "
          f"{', '.join(f'{x:.0f}' for x in cpu)}), "
          f"{statistics.median(r[1] for r in runs) / txs * 1e6:.0f} us wall, "
          f"{statistics.median(r[2] for r in runs) / txs:.2f} context switches per tx")


if __name__ == "__main__":
    main()
