"""The block cutter: where one block ends and the next begins."""

from pathlib import Path

from txfactory import TestNetwork

from careledger.network.ledger import protoutil
from careledger.network.orderer.blockmaker import make_block
from careledger.network.orderer.cutter import BatchLimits, BlockCutter


def test_batch_is_cut_at_max_transactions() -> None:
    cutter = BlockCutter(BatchLimits(max_tx=3, max_bytes=1_000))
    assert cutter.ordered(b"a") == []
    assert cutter.ordered(b"b") == []
    assert cutter.ordered(b"c") == [[b"a", b"b", b"c"]]
    assert cutter.pending == 0


def test_envelope_that_would_overflow_bytes_starts_a_new_batch() -> None:
    cutter = BlockCutter(BatchLimits(max_tx=10, max_bytes=10))
    assert cutter.ordered(b"x" * 6) == []
    assert cutter.ordered(b"y" * 6) == [[b"x" * 6]]
    assert cutter.pending == 1


def test_oversized_envelope_is_a_batch_of_its_own() -> None:
    cutter = BlockCutter(BatchLimits(max_tx=10, max_bytes=10))
    cutter.ordered(b"a")
    assert cutter.ordered(b"z" * 50) == [[b"a"], [b"z" * 50]]
    assert cutter.cut() == []


def test_cut_returns_pending_on_timeout() -> None:
    cutter = BlockCutter(BatchLimits(max_tx=10, max_bytes=100))
    cutter.ordered(b"a")
    assert cutter.cut() == [b"a"]
    assert cutter.pending == 0


def test_a_full_block_of_deliverable_limits_fits_in_one_message(tmp_path: Path) -> None:
    """A channel may allow blocks bigger than the network's messages (batch_max_bytes 1 MB,
    max_message_bytes 256 KB, as tests/e2e's network): a block that big could never reach a peer,
    and every commit would wait behind it. The orderer cuts by the deliverable limits."""
    max_message = 262_144
    limits = BatchLimits(max_tx=100, max_bytes=1_048_576).deliverable(max_message)
    assert limits.max_tx == 100 and limits.max_bytes < max_message
    cutter = BlockCutter(limits)
    envelope = b"e" * 3_860  # a create_asset envelope's size; 100 of them are 386 KB
    batches = [b for _ in range(100) for b in cutter.ordered(envelope)] + [cutter.cut()]
    orderer = TestNetwork.create(tmp_path, ["hospital"]).orderer
    previous = None
    for number, batch in enumerate(batches):
        block = make_block(number, previous, batch, orderer)
        assert len(block.SerializeToString()) <= max_message
        previous = block.header
    assert sum(map(len, batches)) == 100
    single = protoutil.largest_envelope(max_message)
    assert len(make_block(0, None, [b"x" * single], orderer).SerializeToString()) <= max_message
