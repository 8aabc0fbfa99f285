"""The channel configuration a running node follows, and where a node first learns it.

A node starts from the genesis block (the file `network up` writes, or block 0 of its own chain)
and then from each configuration the ledger commits. `LiveConfig` holds the configuration in force
and three Memberships (every org, member orgs, ordering orgs) that it updates in place on every
switch, so the services built on them (signature checks, TLS client roots, block checks) follow
without being rebuilt; `LiveRoles` gives the access rules in force to the read services.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import overload

from google.protobuf.message import DecodeError

from careledger.network.config import NodeInfo
from careledger.network.identity.membership import Membership
from careledger.network.ledger import txtime
from careledger.network.ledger.channelconfig import (
    ChannelConfig,
    ConfigUpdateError,
    block_config_tx,
    config_tx_of,
    next_config,
)
from careledger.protos import common_pb2

log = logging.getLogger(__name__)


class GenesisError(Exception):
    """The genesis block is missing or does not hold a valid first configuration."""


def read_genesis(path: Path) -> common_pb2.Block:
    """The genesis block in `path` (written by `network up`, handed to nodes of new orgs)."""
    try:
        return common_pb2.Block.FromString(Path(path).read_bytes())
    except FileNotFoundError:
        raise GenesisError(f"no genesis block at {path}; `careledger network up` writes it, or copy "
                           "it from an existing member of the channel") from None
    except (OSError, DecodeError) as exc:
        raise GenesisError(f"cannot read the genesis block {path}: {exc}") from exc


def genesis_config(block: common_pb2.Block) -> ChannelConfig:
    """The first configuration, checked: block 0 holding one config transaction signed by admins."""
    tx = block_config_tx(block)
    if block.header.number != 0 or tx is None:
        raise GenesisError(f"block {block.header.number} is no genesis block: block 0 holds exactly one "
                           "_config transaction")
    try:
        return next_config(None, tx, txtime.block_time(block.header))
    except ConfigUpdateError as exc:
        raise GenesisError(f"the genesis block's configuration is refused: {exc}") from exc


def stored_config(get_block: Callable[[int], common_pb2.Block], height: int) -> tuple[ChannelConfig, int]:
    """The configuration in force after `height` stored blocks, and its block number: the block
    the newest block's metadata names as last_config (no scan of the chain)."""
    number = get_block(height - 1).metadata.last_config
    tx = block_config_tx(get_block(number))
    if tx is None:
        raise GenesisError(f"block {number}, which block {height - 1} names as the last configuration, "
                           "holds no config transaction; was this chain made before configurations "
                           "were on the ledger?")
    return ChannelConfig.of(tx.update.config), number


class LiveConfig:
    """The configuration in force on a running node; thread-safe."""

    def __init__(self, config: ChannelConfig, block: int = 0) -> None:
        self.everyone = Membership({})  # every org, the ordering org too (orderer, TLS roots)
        self.members = Membership({})  # member orgs: who may call a peer's services
        self.orderers = Membership({})  # ordering orgs: who signs blocks
        self._lock = threading.Lock()
        self._listeners: list[Callable[[ChannelConfig], None]] = []
        self._config = config
        self.block = block  # number of the block that holds the configuration in force
        self._peers = _member_peers(config)
        config.apply_to((self.everyone, self.members, self.orderers))

    @property
    def current(self) -> ChannelConfig:
        return self._config

    def on_change(self, listener: Callable[[ChannelConfig], None]) -> None:
        """Call `listener(config)` after every switch."""
        self._listeners.append(listener)

    def switch(self, config: ChannelConfig, block: int) -> None:
        """Follow `config` from now on (it took effect at `block`); older sequences are ignored."""
        with self._lock:
            if config.sequence <= self._config.sequence:
                return
            self._config, self.block, self._peers = config, block, _member_peers(config)
            config.apply_to((self.everyone, self.members, self.orderers))
        log.info("channel %s: configuration %d (block %d) in force: orgs %s", config.channel,
                 config.sequence, block, ", ".join(o.name for o in config.orgs))
        for listener in self._listeners:
            listener(config)

    def follow_block(self, block: common_pb2.Block) -> None:
        """An orderer's view of a stored block: switch when it holds a valid configuration update."""
        tx = block_config_tx(block)
        if tx is None or tx.update.sequence <= self._config.sequence:
            return
        try:
            config = next_config(self._config, tx, txtime.block_time(block.header))
        except ConfigUpdateError as exc:
            log.warning("block %d holds a config update that is not applied: %s", block.header.number, exc)
            return
        self.switch(config, block.header.number)

    def last_config(self, number: int, batch: Sequence[bytes]) -> int:
        """What block `number` holding `batch` records as last_config: itself if it holds a
        configuration update valid now, else the block of the configuration in force."""
        tx = config_tx_of(batch[0]) if len(batch) == 1 else None
        if tx is not None:
            try:
                next_config(self._config, tx, None)
                return number
            except ConfigUpdateError:
                pass
        return self.block

    def member_peers(self) -> Mapping[str, tuple[NodeInfo, ...]]:
        """Every member org (in configuration order) with the peers the configuration lists."""
        return self._peers

    def roles(self, service: str) -> LiveRoles:
        """The roles that read full blocks through `service` (query, block_events, deliver)."""
        return LiveRoles(lambda: getattr(self._config, f"access_{service}"))


def _member_peers(config: ChannelConfig) -> dict[str, tuple[NodeInfo, ...]]:
    return {o.name: tuple(NodeInfo(p.name, p.org, p.host, p.port) for p in o.peers)
            for o in config.orgs if not o.orderer_org}


class LiveRoles(Sequence[str]):
    """A role list that always reads the configuration in force (for readers.py's checks)."""

    def __init__(self, read: Callable[[], tuple[str, ...]]) -> None:
        self._read = read

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._read()[index]

    def __len__(self) -> int:
        return len(self._read())

    def __iter__(self) -> Iterator[str]:
        return iter(self._read())

    def __contains__(self, role: object) -> bool:
        return role in self._read()
