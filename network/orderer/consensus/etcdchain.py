"""Where a channel's chain lives in etcd, and the copy of it that each orderer stores.

`ChainKeys` names the etcd keys of the chain. `LocalChain` is this orderer's own copy, the one it
serves Deliver from: blocks go in only in sequence and after their checks, and it remembers the etcd
revision that wrote its newest block, which the writer's next compare-and-set is fenced on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aetcd import rpc

from careledger.network.ledger.blockstore import BlockStore
from careledger.network.orderer.consensus.base import StoredChain
from careledger.network.orderer.consensus.etcdclient import EtcdClient, prefix_end
from careledger.protos import common_pb2

# (block, previous header, expected number) -> "" or what is wrong with it
BlockCheck = Callable[[common_pb2.Block, common_pb2.BlockHeader | None, int], str]


class ChainError(Exception):
    """A block cannot be appended here (out of sequence or failing its checks); read etcd again."""


@dataclass(frozen=True)
class ChainKeys:
    """The etcd keys of one channel's chain, all under PREFIX/CHANNEL/."""

    root: bytes

    @classmethod
    def of(cls, prefix: str, channel: str) -> ChainKeys:
        """The keys of `channel`'s chain under `prefix`."""
        return cls(f"{prefix.rstrip('/')}/{channel}/".encode())

    @property
    def leader(self) -> bytes:
        """Holds the leading orderer's id, attached to its lease."""
        return self.root + b"leader"

    @property
    def tip(self) -> bytes:
        """Holds the number of the newest block; its mod revision fences the next write."""
        return self.root + b"tip"

    def block(self, number: int) -> bytes:
        """The key of block `number`; keys sort in block order."""
        return self.root + b"blocks/%020d" % number

    @property
    def blocks_end(self) -> bytes:
        """The range end past every block key."""
        return prefix_end(self.root + b"blocks/")

    def block_number(self, key: bytes) -> int:
        """The block number a block key names."""
        return int(key[len(self.root) + len(b"blocks/"):])

    def persisted(self, orderer_id: str = "") -> bytes:
        """Where `orderer_id` reports its store's height; with no id, the prefix of all reports."""
        return self.root + b"persisted/" + orderer_id.encode()


def compare(key: bytes, **target: int) -> rpc.Compare:
    """A txn condition: `key`'s create_revision or mod_revision (the one keyword given) equals the value."""
    (field, value), = target.items()
    kind = {"create_revision": rpc.Compare.CREATE, "mod_revision": rpc.Compare.MOD}[field]
    return rpc.Compare(key=key, target=kind, result=rpc.Compare.EQUAL, **{field: value})


def put(key: bytes, value: bytes, lease: int = 0) -> rpc.RequestOp:
    """A txn operation that puts `value` at `key`, attached to `lease` if not 0."""
    return rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=value, lease=lease))


def seed_genesis(etcd: EtcdClient, keys: ChainKeys, genesis: bytes) -> bool:
    """Put the genesis block as block 0 of a chain etcd does not hold yet; False if it holds one.

    Every orderer of a new channel does this with the same genesis block, so whichever is first
    wins and the others' compare fails harmlessly; then all follow block 0 like any other."""
    reply = etcd.txn([compare(keys.tip, create_revision=0), compare(keys.block(0), create_revision=0)],
                     [put(keys.block(0), genesis), put(keys.tip, b"0")])
    return bool(reply.succeeded)


class LocalChain(StoredChain):
    """This orderer's stored copy of the chain, with the etcd revision that wrote its newest block."""

    def __init__(self, store: BlockStore, check: BlockCheck,
                 on_block: Callable[[common_pb2.Block], None]) -> None:
        super().__init__(store)  # _grown also guards _last_header and _tip_rev
        self._check = check
        self._on_block = on_block
        self._last_header = store.get(store.height - 1).header if store.height else None
        self._tip_rev: int | None = None  # etcd revision that wrote our newest block; None: not known

    @property
    def tip_revision(self) -> int | None:
        """The etcd revision that wrote the newest block stored here; None until it is known."""
        return self._tip_rev

    def next_block(self) -> tuple[int, common_pb2.BlockHeader | None, int | None]:
        """Number, previous header and fencing tip revision of the next block, read together."""
        with self._grown:
            return self._store.height, self._last_header, self._tip_rev

    def get_bytes(self, number: int) -> bytes:
        """Block `number` as stored."""
        return self._store.get_bytes(number)

    def learn_tip_revision(self, height: int, revision: int) -> None:
        """Record that `revision` wrote the newest block, unless the chain grew past `height` since."""
        with self._grown:
            if self._store.height == height:
                self._tip_rev = revision

    def append(self, block: common_pb2.Block, revision: int | None) -> None:
        """Store the block if it is the next one; `revision` is the etcd revision that wrote it.

        A block already stored is ignored; ChainError if it is out of sequence or fails its checks.
        """
        with self._grown:
            number, height = block.header.number, self._store.height
            if number < height:
                return
            if number > height:
                raise ChainError(f"block {number} arrived while the store's height is {height}")
            problem = self._check(block, self._last_header, height)
            if problem:
                raise ChainError(f"block {number} rejected: {problem}")
            self._store.append(block)
            self._last_header = block.header
            self._tip_rev = revision
            self._appended(block)
        self._on_block(block)
