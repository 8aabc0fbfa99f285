"""What the explorer's one identity may read of the ledger, read the way an integrator reads it.

Every read is signed by the identity the explorer runs as: chain info, blocks and transactions over
the peer's Query service, new blocks over the Gateway's BlockEvents stream (the asyncio SDK), and a
patient's accounting of disclosures as an evaluate of the consent contract. The peers' access rules
therefore decide what the page shows: a refusal (PERMISSION_DENIED) becomes `Refused`, shown on
the page as "access restricted" with the peer's own message, and never an error page.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from careledger.gateway import GatewayError
from careledger.gateway import aio as sdk
from careledger.network.config import Layout, Profile
from careledger.network.identity.membership import Identity, Membership
from careledger.network.ledger import protoutil
from careledger.network.tools.queryclient import QueryClient
from careledger.protos import common_pb2, gateway_pb2

log = logging.getLogger(__name__)

Json = dict[str, Any]


class Refused(Exception):
    """A peer refused the explorer's identity a read; `code` is the gRPC status name, and
    `restricted` says it was the access rules (PERMISSION_DENIED) rather than a failure."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    @property
    def restricted(self) -> bool:
        return self.code == "PERMISSION_DENIED"

    def as_json(self) -> Json:
        return {"error": {"code": self.code, "message": self.message, "restricted": self.restricted}}


def _refused(exc: grpc.RpcError | GatewayError) -> Refused:
    if isinstance(exc, GatewayError):
        return Refused(exc.message or str(exc), exc.code.name)
    code = exc.code()  # grpc.Call's, present on every RpcError a stub raises
    return Refused(str(exc.details()), code.name if code else "UNKNOWN")


class LedgerView:
    """The ledger of a local network's channel as one identity (ORG:NAME) may see it."""

    def __init__(self, directory: Path, who: str) -> None:
        self.directory = directory.resolve()
        self.who = who
        org, _, name = who.partition(":")
        self.org, self.name = org, name or "admin"
        layout = Layout(self.directory)
        self.profile = Profile.load(layout.root)
        self.membership = Membership.from_crypto_dir(layout.crypto, self.profile.orgs)
        self.identity: Identity = self.membership.identity(
            (layout.identity_dir(self.org, self.name) / "cert.pem").read_bytes())
        self._query = QueryClient(self.directory, self.org, self.name)
        self._gateway: sdk.Gateway | None = None

    @property
    def peer_id(self) -> str:
        """The peer the explorer asks: the first of the identity's org."""
        return str(self._query.peer.id)

    def whoami(self) -> Json:
        """Who the page is signed in as: id, role and certificate attributes."""
        return {"user": f"{self.org}:{self.name}", "id": self.identity.id, "role": self.identity.role,
                "attributes": dict(self.identity.attributes), "peer": self.peer_id,
                "channel": self.profile.channel}

    async def contracts(self) -> list[Json]:
        """The contract definitions on the ledger (`_lifecycle`): version, sequence, endorsement
        policy and package id of each, as every peer runs them."""
        lifecycle = self.gateway().get_network(self.profile.channel).get_contract("_lifecycle")
        try:
            defined = json.loads(await lifecycle.evaluate_transaction("definitions"))
        except GatewayError as exc:
            raise _refused(exc) from exc
        return [{k: d[k] for k in ("name", "version", "sequence", "policy", "package_id")} for d in defined]

    def gateway(self) -> sdk.Gateway:
        """The asyncio SDK's gateway for this identity (opened on first use, in the running loop)."""
        if self._gateway is None:
            self._gateway = sdk.connect_local(self.directory, self.who)
        return self._gateway

    async def close(self) -> None:
        if self._gateway is not None:
            await self._gateway.close()
        self._query.close()

    async def _ask(self, call: Callable[[], Any]) -> Any:
        try:
            return await asyncio.to_thread(call)
        except grpc.RpcError as exc:
            raise _refused(exc) from exc

    async def chain_info(self) -> Json:
        """Height and last block hash, as `careledger ledger info` shows them."""
        info = await self._ask(self._query.chain_info)
        return {"peer": self.peer_id, "height": info.height,
                "current_block_hash": info.current_block_hash.hex()}

    async def block(self, number: int) -> Json:
        """Block number with each transaction and its validation code; Refused if not allowed."""
        return self.summary(await self._ask(lambda: self._query.block(number)))

    async def transaction(self, tx_id: str) -> Json:
        """One transaction by id: its block, validation code, call and arguments' sizes."""
        processed = await self._ask(lambda: self._query.transaction(tx_id))
        tx = common_pb2.Transaction.FromString(processed.envelope.payload)
        entry = self._tx_entry(tx, processed.validation_code)
        return entry | {"block": processed.block_number,
                        "arg_bytes": [len(a) for a in common_pb2.Proposal.FromString(tx.proposal).args]}

    async def disclosures(self, start: str, end: str) -> list[Json]:
        """The signed-in patient's accounting of disclosures in [start, end) (consent contract),
        every page of it, by date (each page is sorted, the pages follow the audit keys)."""
        contract = self.gateway().get_network(self.profile.channel).get_contract("consent")
        try:
            found = [entry async for entry in sdk.items(contract, "disclosures", start, end)]
        except GatewayError as exc:
            raise _refused(exc) from exc
        return sorted(found, key=lambda entry: str(entry["date"]))

    async def follow(self, start: int, on_block: Callable[[Json], Awaitable[None]]) -> None:
        """Hand each committed block from start on to on_block, as the BlockEvents stream of the
        identity's peer delivers it; returns when the stream ends, raises Refused if refused."""
        network = self.gateway().get_network(self.profile.channel)
        try:
            async with await network.get_block_events(start) as blocks:
                async for block in blocks:
                    await on_block(self.summary(block))
        except GatewayError as exc:
            raise _refused(exc) from exc

    async def follow_filtered(self, start: int, on_block: Callable[[Json], Awaitable[None]]) -> None:
        """Like follow, over the filtered block events every member may read: each block's number
        and its transactions' ids and validation codes (summaries with "filtered": True)."""
        network = self.gateway().get_network(self.profile.channel)
        try:
            async with await network.get_filtered_block_events(start) as blocks:
                async for block in blocks:
                    await on_block(filtered_summary(block))
        except GatewayError as exc:
            raise _refused(exc) from exc

    def summary(self, block: common_pb2.Block) -> Json:
        """A block as the page shows it: hashes, the orderer's time, transactions with codes."""
        codes = list(block.metadata.validation_codes)
        txs = []
        for i, env_bytes in enumerate(block.data.envelopes):
            code = codes[i] if i < len(codes) else None
            try:
                tx = common_pb2.Transaction.FromString(common_pb2.Envelope.FromString(env_bytes).payload)
            except DecodeError:
                txs.append({"tx_id": "", "contract": "", "function": "(unreadable)", "creator": "",
                            "validation_code": "" if code is None else common_pb2.ValidationCode.Name(code),
                            "timestamp": ""})
                continue
            txs.append(self._tx_entry(tx, code))
        return {"number": block.header.number, "filtered": False,
                "hash": protoutil.header_hash(block.header).hex(),
                "previous_hash": block.header.previous_hash.hex(),
                "data_hash": block.header.data_hash.hex(),
                "time": block.header.timestamp.ToJsonString() if block.header.HasField("timestamp") else "",
                "transactions": txs}

    def _tx_entry(self, tx: common_pb2.Transaction, code: int | None) -> Json:
        proposal = common_pb2.Proposal.FromString(tx.proposal)
        try:
            creator = self.membership.identity(proposal.header.creator).id
        except Exception:  # noqa: BLE001 - an unreadable or foreign creator is shown, not fatal
            creator = "?"
        return {"tx_id": proposal.header.tx_id, "contract": proposal.contract,
                "function": proposal.function, "creator": creator,
                "validation_code": "" if code is None else common_pb2.ValidationCode.Name(code),
                "timestamp": proposal.header.timestamp.ToJsonString()}



def filtered_summary(block: gateway_pb2.FilteredBlock) -> Json:
    """A filtered block as the page shows it: number, tx ids and codes; no call, creator or hash."""
    return {"number": block.number, "filtered": True,
            "transactions": [{"tx_id": t.tx_id, "validation_code": common_pb2.ValidationCode.Name(
                t.validation_code)} for t in block.transactions]}
