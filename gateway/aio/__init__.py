"""The gateway SDK for asyncio applications: the blocking SDK's API with each call awaited.

    async with connect_local(directory, "hospital:alice") as gateway:
        contract = gateway.get_network("healthcare").get_contract("basic")
        await contract.submit_transaction("create_asset", "a1", "alice", "10")
        async for event in await gateway.get_network("healthcare").get_chaincode_events("basic"):
            ...
        async for block in await gateway.get_network("healthcare").get_block_events():
            ...

Messages, signing, errors, checkpointers and ChaincodeEvent are those of careledger.gateway.
"""

from careledger.gateway.aio.blockevents import BlockEvents, FilteredBlockEvents
from careledger.gateway.aio.chaincodeevents import ChaincodeEvents
from careledger.gateway.aio.commit import Commit, SubmittedTransaction
from careledger.gateway.aio.contract import Contract
from careledger.gateway.aio.gateway import Gateway, connect, connect_local
from careledger.gateway.aio.network import Network
from careledger.gateway.aio.pages import items, pages
from careledger.gateway.aio.proposal import Proposal
from careledger.gateway.aio.transaction import Transaction

__all__ = [
    "BlockEvents",
    "ChaincodeEvents",
    "Commit",
    "Contract",
    "FilteredBlockEvents",
    "Gateway",
    "Network",
    "Proposal",
    "SubmittedTransaction",
    "Transaction",
    "connect",
    "connect_local",
    "items",
    "pages",
]
