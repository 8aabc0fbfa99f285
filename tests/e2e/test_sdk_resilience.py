"""The SDK against a real network when things go wrong: a listener's peer is killed and restarted,
a listener is restarted from its checkpoint file, transactions conflict, contracts refuse; and the
asyncio SDK doing the same work as the blocking one."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from pathlib import Path

import pytest

from careledger.gateway import (
    ChaincodeEvent,
    CommitError,
    Contract,
    EndorseError,
    FileCheckpointer,
    aio,
    signers,
)
from careledger.network.local.testing import LocalNetwork

LISTENER = "board:admin"  # peer0.board is not in the basic contract's policy: it can go down
LISTENER_PEER = "peer0.board"


def new_id() -> str:
    return f"asset-{uuid.uuid4().hex[:12]}"


class Listener:
    """A thread that processes the basic contract's events, checkpointing after each one."""

    def __init__(self, net: LocalNetwork, checkpoint_path: Path, start_block: int | None = None) -> None:
        self.processed: list[ChaincodeEvent] = []
        self.checkpointer = FileCheckpointer(checkpoint_path)
        self._gateway = net.connect(LISTENER)
        network = self._gateway.get_network(net.profile.channel)
        self._events = network.get_chaincode_events(
            "basic", start_block=start_block, checkpoint=self.checkpointer
        )
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self) -> None:
        for event in self._events:
            self.processed.append(event)
            self.checkpointer.checkpoint_chaincode_event(event)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[str]:
        """The tx ids processed, once there are count of them (or the timeout passed)."""
        for _ in range(int(timeout / 0.05)):
            if len(self.processed) >= count:
                break
            threading.Event().wait(0.05)
        return [event.tx_id for event in self.processed]

    def stop(self) -> None:
        self._events.close()
        self._thread.join(timeout=10)
        self._gateway.close()


def submit(contract: Contract, count: int) -> list[str]:
    """Create count assets one after another; the tx ids in commit order."""
    tx_ids = []
    for _ in range(count):
        submitted = contract.submit_async("create_asset", new_id(), "listener", "1")
        assert submitted.get_status().successful
        tx_ids.append(submitted.tx_id)
    return tx_ids


def test_listener_gets_every_event_once_across_a_kill_and_restart_of_its_peer(
    net: LocalNetwork, hospital: Contract, tmp_path: Path
) -> None:
    listener = Listener(net, tmp_path / "checkpoint.json")
    try:
        before = submit(hospital, 3)
        assert listener.wait_for(3) == before
        net.kill(LISTENER_PEER)
        try:
            during = submit(hospital, 3)
        finally:
            net.start(LISTENER_PEER)
        after = submit(hospital, 3)
        assert listener.wait_for(9) == before + during + after
        threading.Event().wait(0.5)  # nothing more may arrive: no duplicates
        assert len(listener.processed) == 9
    finally:
        listener.stop()


def test_listener_restarted_from_its_checkpoint_file_resumes_after_its_last_event(
    net: LocalNetwork, hospital: Contract, tmp_path: Path
) -> None:
    path = tmp_path / "checkpoint.json"
    first = Listener(net, path)
    try:
        seen = submit(hospital, 2)
        assert first.wait_for(2) == seen
    finally:
        first.stop()
    missed = submit(hospital, 2)  # while no listener runs
    again = Listener(net, path, start_block=0)  # the checkpoint wins over start_block
    try:
        live = submit(hospital, 1)
        assert again.wait_for(3) == missed + live
    finally:
        again.stop()


def test_concurrent_updates_conflict_and_retry_mvcc_lets_each_of_them_commit(
    net: LocalNetwork, hospital: Contract
) -> None:
    asset = new_id()
    hospital.submit_transaction("create_asset", asset, "mvcc", "0")

    def race(retry_mvcc: int, writers: int = 4) -> list[Exception]:
        """Update the asset from several threads at once: they read the same version."""
        errors: list[Exception] = []
        barrier = threading.Barrier(writers)

        def write(value: str) -> None:
            barrier.wait()
            try:
                hospital.submit_transaction("update_asset", asset, value, retry_mvcc=retry_mvcc)
            except (CommitError, EndorseError) as err:
                errors.append(err)

        threads = [threading.Thread(target=write, args=(str(i),)) for i in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return errors

    assert {getattr(err, "code_name", err) for err in race(retry_mvcc=0)} == {"MVCC_READ_CONFLICT"}
    assert race(retry_mvcc=6) == []
    history = json.loads(hospital.evaluate_transaction("asset_history", asset))
    assert len(history) >= 1 + 1 + 4  # the create, the race's one winner, all four retried writers


def test_endorsement_error_starts_with_the_contracts_message(hospital: Contract) -> None:
    asset = new_id()
    hospital.submit_transaction("create_asset", asset, "dup", "1")
    proposal = hospital.new_proposal("create_asset", [asset, "dup", "1"])
    with pytest.raises(EndorseError) as caught:
        proposal.endorse()
    assert str(caught.value).startswith(f"asset {asset} already exists")
    assert proposal.tx_id in str(caught.value)


def test_asyncio_sdk_submits_evaluates_signs_offline_and_streams_events(net: LocalNetwork) -> None:
    channel = net.profile.channel
    key = (net.directory / "crypto" / "hospital" / "admin" / "key.pem").read_bytes()
    sign = signers.new_private_key_signer(key)

    async def main() -> None:
        async with aio.connect_local(net.directory, "hospital:admin") as gateway:
            network = gateway.get_network(channel)
            contract = network.get_contract("basic")
            events = await network.get_chaincode_events("basic")
            first, second = new_id(), new_id()
            await contract.submit_transaction("create_asset", first, "async", "1")
            read = json.loads(await contract.evaluate_transaction("read_asset", first))
            assert read["owner"] == "async"

            proposal = contract.new_proposal("create_asset", [second, "offline", "2"])
            signed = gateway.new_signed_proposal(proposal.bytes(), sign(proposal.digest()))
            transaction = await signed.endorse()
            signed_tx = gateway.new_signed_transaction(transaction.bytes(), sign(transaction.digest()))
            commit = await signed_tx.submit()
            status = await gateway.new_signed_commit(commit.bytes(), sign(commit.digest())).get_status()
            assert status.successful

            created = []
            async with events:
                async for event in events:
                    created.append(json.loads(event.payload)["id"])
                    if len(created) == 2:
                        break
            assert created == [first, second]

    asyncio.run(main())
