"""Fuzzing the contract runtime with arbitrary argument bytes (careledger.chaincode.runtime.simulate).

Every deployed contract function gets arbitrary bytes as arguments, from any kind of caller. The
runtime must always answer with a response (never raise), refuse non-UTF-8 arguments naming the
argument, and write nothing unless the call succeeded. A contract that fails on bad input with
anything but a ContractError shows up as a 500 "failed: <ExceptionType>" response: those are
counted here and must not occur.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable

from contractharness import START, MemoryState, admin, client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careledger.chaincode.runtime import (
    ContractRegistry,
    Invocation,
    SimulationResult,
    load_contract,
    simulate,
)

CONTRACTS = {
    "basic": "careledger.chaincode.contracts.basic:BasicContract",
    "consent": "careledger.chaincode.contracts.consent:ConsentContract",
    "claims": "careledger.chaincode.contracts.claims:ClaimsContract",
    "credentials": "careledger.chaincode.contracts.credentials:CredentialsContract",
}
REGISTRY = ContractRegistry(load_contract(spec) for spec in CONTRACTS.values())
CALLS = [(c, f) for c in REGISTRY.names() for f in REGISTRY.functions(c)]
CALLERS = [admin("hospital"), admin("board"), client("hospital", "alice", "patient"),
           client("hospital", "drsmith", "practitioner", license="MD-1001"),
           client("insurer", "ivan", "claims-adjuster"), client("board", "rita", "registrar"),
           client("pharmacy", "eve")]



def _arity(contract: str, function: str) -> tuple[int, int]:
    """(fewest, most) arguments the function takes after its Context."""
    params = list(inspect.signature(getattr(REGISTRY.get(contract), function)).parameters.values())[1:]
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = sum(p.default is p.empty for p in positional)
    variadic = any(p.kind == p.VAR_POSITIONAL for p in params)
    return required, len(positional) + (2 if variadic else 0)


ARITY = {call: _arity(*call) for call in CALLS}
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# What a fuzzed argument may look like: random bytes, or text close to what contracts parse.
TEXT_ARG = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "0", "-1", "1e999", "NaN", "null", "[]", "{}", '{"a": 1}', "true",
                     "2026-13-45", "\x00", "hospital/alice", "x" * 2000]),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
                 lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                             max_size=3),
                 max_leaves=8).map(json.dumps),
).map(lambda s: s.encode("utf-8", "surrogatepass"))
ARG = st.one_of(st.binary(max_size=64), TEXT_ARG)


def _run(contract: str, function: str, args: list[bytes], caller_index: int,
         state: MemoryState | None = None) -> SimulationResult:
    invocation = Invocation(tx_id="fuzz", channel="healthcare", contract=contract, function=function,
                            args=args, transient={}, timestamp=START, creator=CALLERS[caller_index])
    return simulate(REGISTRY, state or MemoryState(), invocation)


def _is_utf8(arg: bytes) -> bool:
    try:
        arg.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _check(result: SimulationResult, args: list[bytes]) -> None:
    status, message = result.response.status, result.response.message
    assert status in (200, 400, 404, 500), status
    if status != 200:
        assert not result.rwset.ns_rwset and result.event is None
        assert message and "Traceback" not in message
        assert " failed: " not in message or "call from contract" in message, (
            f"contract crashed on bad input instead of refusing it: {message}")
    bad = [i for i, a in enumerate(args) if not _is_utf8(a)]
    if bad:
        assert status == 400 and f"argument {bad[0]} " in message and "UTF-8" in message, message


@FUZZ
@given(call=st.sampled_from(CALLS), args=st.lists(ARG, max_size=6), who=st.integers(0, len(CALLERS) - 1))
def test_any_arguments_to_any_function_get_an_answer_never_an_exception(
    call: tuple[str, str], args: list[bytes], who: int
) -> None:
    _check(_run(*call, args, who), args)


@st.composite
def fitting_call(draw: st.DrawFn, arg: st.SearchStrategy[bytes]) -> tuple[str, str, list[bytes]]:
    """A known function with as many arguments as it takes, so the fuzz reaches contract code."""
    contract, function = draw(st.sampled_from(CALLS))
    fewest, most = ARITY[(contract, function)]
    return contract, function, draw(st.lists(arg, min_size=fewest, max_size=most))


@FUZZ
@given(call=fitting_call(TEXT_ARG), who=st.integers(0, len(CALLERS) - 1))
def test_well_sized_arbitrary_text_arguments_reach_contracts_and_are_refused_cleanly(
    call: tuple[str, str, list[bytes]], who: int
) -> None:
    contract, function, args = call
    _check(_run(contract, function, args, who), args)


@FUZZ
@given(contract=st.one_of(st.sampled_from(sorted(CONTRACTS)), st.text(max_size=20)),
       function=st.text(max_size=20), args=st.lists(st.binary(max_size=16), max_size=3))
def test_unknown_contracts_and_functions_are_404_or_400(contract: str, function: str,
                                                        args: list[bytes]) -> None:
    result = _run(contract, function, args, 0)
    if (contract, function) not in CALLS:
        assert result.response.status in (400, 404)
    _check(result, args)


def _seeded() -> Callable[[], MemoryState]:
    """State after a few successful calls, so fuzzed calls also meet existing records."""
    state = MemoryState()
    for contract, function, args, who in [("basic", "create_asset", ["a1", "alice", "5"], 0)]:
        result = _run(contract, function, [a.encode() for a in args], who, state)
        assert result.response.status == 200, result.response.message
        state.apply(result, "seed", START, (1, 0))
    return lambda: state


SEEDED = _seeded()


@FUZZ
@given(call=fitting_call(ARG), who=st.integers(0, len(CALLERS) - 1))
def test_fuzzed_calls_against_existing_state_never_raise(call: tuple[str, str, list[bytes]],
                                                         who: int) -> None:
    contract, function, args = call
    _check(_run(contract, function, args, who, SEEDED()), args)
