"""The block cutter: where one block ends and the next begins."""

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
