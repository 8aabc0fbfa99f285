"""Block events against the real network: a listener gets every committed block once across a
kill -9 and restart of its peer; `careledger blocks` and `careledger events` resume from their
checkpoint files; only a channel the peer serves streams blocks."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from pathlib import Path

import grpc
import pytest
from click.testing import CliRunner

from careledger.cli.events import blocks, events
from careledger.gateway import BlockEventsError, Contract, FileCheckpointer, aio
from careledger.network.ledger.protoutil import find_transaction
from careledger.network.local.testing import LocalNetwork
from careledger.protos import common_pb2

LISTENER = "board:admin"  # peer0.board is not in the basic contract's policy: it can go down
LISTENER_PEER = "peer0.board"


class BlockListener:
    """A thread that processes committed blocks from peer0.board, checkpointing after each one."""

    def __init__(self, net: LocalNetwork, checkpoint_path: Path) -> None:
        self.processed: list[common_pb2.Block] = []
        self.checkpointer = FileCheckpointer(checkpoint_path)
        self._gateway = net.connect(LISTENER)
        self._blocks = self._gateway.get_network(net.profile.channel).get_block_events(
            checkpoint=self.checkpointer
        )
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self) -> None:
        for block in self._blocks:
            self.processed.append(block)
            self.checkpointer.checkpoint_block(block.header.number)

    def wait_for_block(self, number: int, timeout: float = 60.0) -> list[int]:
        """The numbers of the blocks processed, once block number is among them (or the timeout passed)."""
        for _ in range(int(timeout / 0.05)):
            if self.processed and self.processed[-1].header.number >= number:
                break
            threading.Event().wait(0.05)
        return [block.header.number for block in self.processed]

    def stop(self) -> None:
        self._blocks.close()
        self._thread.join(timeout=10)
        self._gateway.close()


def submit(contract: Contract, count: int) -> list[tuple[str, int]]:
    """Create count assets one after another: (tx id, block number) of each, in commit order."""
    committed = []
    for _ in range(count):
        submitted = contract.submit_async("create_asset", f"block-{uuid.uuid4().hex[:12]}", "blocks", "1")
        status = submitted.get_status()
        assert status.successful
        committed.append((submitted.tx_id, status.block_number))
    return committed


def test_block_listener_gets_every_block_once_across_a_kill_and_restart_of_its_peer(
    net: LocalNetwork, hospital: Contract, tmp_path: Path
) -> None:
    listener = BlockListener(net, tmp_path / "blocks.json")
    first = listener.checkpointer.block_number  # None: pinned to the height when it opened
    try:
        committed = submit(hospital, 3)
        net.kill(LISTENER_PEER)
        try:
            committed += submit(hospital, 3)
        finally:
            net.start(LISTENER_PEER)
        committed += submit(hospital, 3)
        last = committed[-1][1]
        numbers = listener.wait_for_block(last)
        threading.Event().wait(0.5)  # nothing more may arrive: no duplicates
        assert first is None and numbers == list(range(numbers[0], last + 1))
        assert numbers[0] <= committed[0][1]
        by_number = {block.header.number: block for block in listener.processed}
        for tx_id, number in committed:
            assert find_transaction(by_number[number], tx_id, common_pb2.VALID) is not None
        assert listener.checkpointer.block_number == last + 1
    finally:
        listener.stop()


def test_blocks_command_resumes_from_its_checkpoint_file(net: LocalNetwork, tmp_path: Path) -> None:
    checkpoint = str(tmp_path / "blocks.json")
    args = ["--dir", str(net.directory), "--checkpoint", checkpoint, "--json"]
    runner = CliRunner()
    replay = runner.invoke(blocks, [*args, "--from-block", "0", "--count", "2"])
    assert replay.exit_code == 0, replay.output
    lines = [json.loads(line) for line in replay.output.splitlines()]
    assert [line["block"] for line in lines] == [0, 1]
    assert all(len(line["validation_codes"]) == line["tx_count"] for line in lines)
    again = runner.invoke(blocks, [*args, "--from-block", "0", "--count", "1"])  # the checkpoint wins
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["block"] == 2
    assert json.loads(Path(checkpoint).read_text())["block_number"] == 3


def test_events_command_resumes_after_the_last_event_it_printed(
    net: LocalNetwork, hospital: Contract, tmp_path: Path
) -> None:
    committed = submit(hospital, 3)
    start = committed[0][1]
    checkpoint = str(tmp_path / "events.json")
    args = ["--dir", str(net.directory), "basic", "--checkpoint", checkpoint, "--json"]
    runner = CliRunner()
    printed = []
    for count in ("2", "1"):
        result = runner.invoke(events, [*args, "--from-block", str(start), "--count", count])
        assert result.exit_code == 0, result.output
        printed += [json.loads(line)["tx_id"] for line in result.output.splitlines()]
    assert printed == [tx_id for tx_id, _ in committed]


def test_block_events_of_a_channel_the_peer_does_not_serve_are_refused(net: LocalNetwork) -> None:
    with net.connect(LISTENER) as gateway:
        with pytest.raises(BlockEventsError) as caught:
            next(gateway.get_network("no-such-channel").get_block_events(0))
    assert caught.value.code == grpc.StatusCode.NOT_FOUND


def test_asyncio_sdk_replays_blocks(net: LocalNetwork) -> None:
    async def first_blocks() -> list[int]:
        async with aio.connect_local(net.directory, LISTENER) as gateway:
            numbers = []
            async with await gateway.get_network(net.profile.channel).get_block_events(0) as stream:
                async for block in stream:
                    numbers.append(block.header.number)
                    if len(numbers) == 3:
                        break
            return numbers

    assert asyncio.run(first_blocks()) == [0, 1, 2]
