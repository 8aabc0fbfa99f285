"""TEST FIXTURE, never deploy: a contract that misbehaves on purpose, to show that a peer cuts off
a looping call at its time limit and answers a crashing one with an error, and keeps serving.

It lives in the installed package only so that a test network's peer processes can import it.
"""

from __future__ import annotations

from careledger.chaincode import Context, Contract, evaluate, submit


class RunawayContract(Contract):
    """Functions that loop forever, recurse without end or raise what a contract should not."""

    name = "runaway"

    @submit
    def spin(self, ctx: Context, key: str) -> str:
        """Write `key`, then loop forever reading it (a pure-Python loop, as a buggy contract)."""
        ctx.stub.put_state(key, "spinning")
        while True:
            ctx.stub.get_state(key)

    @evaluate
    def spin_catching(self, ctx: Context) -> str:
        """Loop forever, swallowing every Exception: the cut-off is not one."""
        while True:
            try:
                ctx.stub.get_state("x")
            except Exception:  # noqa: BLE001 - the point of the fixture
                continue

    @evaluate
    def recurse(self, ctx: Context) -> str:
        """Recurse without end (RecursionError)."""
        return self.recurse(ctx)

    @evaluate
    def exit(self, ctx: Context, code: str) -> str:
        """Raise SystemExit, as a contract calling sys.exit would."""
        raise SystemExit(int(code))

    @evaluate
    def interrupt(self, ctx: Context) -> str:
        """Raise KeyboardInterrupt."""
        raise KeyboardInterrupt

    @evaluate
    def allocate(self, ctx: Context) -> str:
        """Ask for far more memory than exists (MemoryError at once, not a slow exhaustion)."""
        return str(len(bytearray(1 << 62)))

    @submit
    def put(self, ctx: Context, key: str, value: str) -> str:
        """A well-behaved write, to show the contract's other calls still run."""
        ctx.stub.put_state(key, value)
        return value

    @submit
    def bad_policy(self, ctx: Context, key: str) -> str:
        """Put a policy that does not parse on `key` (the endorser refuses the result)."""
        ctx.stub.put_state(key, "x")
        ctx.stub.set_state_validation_parameter(key, "AND(hospital,")
        return "x"

    @evaluate
    def get(self, ctx: Context, key: str) -> str:
        """A well-behaved read."""
        found = ctx.stub.get_state(key)
        return "" if found is None else found.decode()
