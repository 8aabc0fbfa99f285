"""The peer's side of the contract API: deployed contracts and the simulation of one proposal.

simulate() never raises for contract-level problems; it answers with a Response status like Fabric:
200 ok, 400 bad arguments, 404 unknown contract or function, 500 contract error or contract bug
(any exception a contract raises, SystemExit and KeyboardInterrupt included), 504 a call cut off
at its time limit (sandbox.py).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime

from careledger.chaincode.codec import to_bytes
from careledger.chaincode.context import Context
from careledger.chaincode.contract import KIND_ATTRIBUTE, Contract, FunctionKind
from careledger.chaincode.errors import (
    ContractDefinitionError,
    ContractError,
    ContractNotFoundError,
    InvalidArgumentError,
    PermissionDeniedError,
)
from careledger.chaincode.identity import ClientIdentity
from careledger.chaincode.sandbox import CallCutOff, CallTimedOut, Sandbox
from careledger.chaincode.state import HistoryEntry, StateView, Version
from careledger.chaincode.stub import Stub, control_character, shown
from careledger.chaincode.txsimulator import TxSimulator
from careledger.protos import common_pb2

__all__ = [
    "ContractRegistry",
    "HistoryEntry",
    "Invocation",
    "SimulationResult",
    "StateView",
    "Version",
    "load_contract",
    "simulate",
]

logger = logging.getLogger(__name__)

# Fabric's chaincode name rule: the name is also the state namespace.
CONTRACT_NAME = re.compile(r"^[A-Za-z0-9]+([-_][A-Za-z0-9]+)*$")
SYSTEM_CONTRACT_NAME = re.compile(r"^_[a-z]+$")
MAX_CALL_DEPTH = 8
TIMED_OUT = 504  # the Response status of a call cut off at the sandbox's time limit
# Contract and function names travel in every message about the call: a bound keeps a refusal
# readable (and inside gRPC's 16 KiB metadata limit) instead of echoing 10 kB back.
MAX_NAME_LENGTH = 128

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


@dataclass(frozen=True)
class _Function:
    """A contract function and the string arguments it accepts."""

    name: str
    kind: FunctionKind
    method: Callable[..., object]
    params: tuple[str, ...]
    required: int
    variadic: bool

    def arity_problem(self, contract: str, given: int) -> str | None:
        """Why `given` arguments do not fit this function, or None when they do."""
        if self.required <= given and (self.variadic or given <= len(self.params)):
            return None
        names = ", ".join(self.params + (("*args",) if self.variadic else ()))
        if self.variadic:
            count = f"at least {self.required}"
        elif self.required == len(self.params):
            count = str(self.required)
        else:
            count = f"{self.required} to {len(self.params)}"
        return (
            f"contract {contract!r} function {self.name!r} takes {count} argument(s) "
            f"({names or 'none'}), got {given}"
        )


def name_problem(what: str, name: str) -> str | None:
    """Why a contract or function name in a request is refused, or None: empty, longer than
    MAX_NAME_LENGTH, or holding a control character (the name is shown escaped and cut)."""
    if not name:
        return f"the request names no {what}"
    if len(name) > MAX_NAME_LENGTH:
        return (f"{what} name {shown(name)} is {len(name)} characters long; the limit is "
                f"{MAX_NAME_LENGTH}")
    found = control_character(name)
    if found is not None:
        return (f"{what} name {shown(name)} contains the control character {found[1]} at "
                f"position {found[0]}")
    return None


def _inspect_function(contract: Contract, name: str, kind: FunctionKind) -> _Function:
    where = f"contract {contract.name!r} function {name!r}"
    if name.startswith("_"):
        raise ContractDefinitionError(f"{where}: a private method cannot be @{kind}")
    method = getattr(contract, name)
    params = list(inspect.signature(method).parameters.values())  # bound: self is gone
    if not params or params[0].kind not in _POSITIONAL:
        raise ContractDefinitionError(f"{where}: its first parameter must be the Context")
    names: list[str] = []
    required = 0
    variadic = False
    for param in params[1:]:
        if param.kind in _POSITIONAL:
            names.append(param.name)
            required += param.default is inspect.Parameter.empty
        elif param.kind is inspect.Parameter.VAR_POSITIONAL:
            variadic = True
        elif param.default is inspect.Parameter.empty and param.kind is not param.VAR_KEYWORD:
            raise ContractDefinitionError(
                f"{where}: keyword-only parameter {param.name!r} needs a default"
            )
    return _Function(name, kind, method, tuple(names), required, variadic)


@dataclass(frozen=True)
class _Deployed:
    contract: Contract
    functions: Mapping[str, _Function]


class ContractRegistry:
    """The contracts deployed on a peer, by name, with their callable functions."""

    def __init__(self, contracts: Iterable[Contract] = ()) -> None:
        self._deployed: dict[str, _Deployed] = {}
        for contract in contracts:
            self.register(contract)

    def register(self, contract: Contract, *, system: bool = False) -> None:
        """Deploy `contract` under its `name`; raise ContractDefinitionError if it is unusable.

        A system contract of the peer (`_lifecycle`) has a name starting with '_', which no
        deployable contract may have, so a user contract can never take its namespace."""
        name = getattr(contract, "name", None)
        rule = SYSTEM_CONTRACT_NAME if system else CONTRACT_NAME
        if not isinstance(name, str) or not rule.match(name):
            raise ContractDefinitionError(
                f"{type(contract).__name__}.name = {name!r} is not a valid contract name; "
                "use letters and digits separated by '-' or '_'"
            )
        if name in self._deployed:
            raise ContractDefinitionError(f"a contract named {name!r} is already registered")
        functions: dict[str, _Function] = {}
        for attr in dir(type(contract)):
            kind = getattr(getattr(type(contract), attr, None), KIND_ATTRIBUTE, None)
            if kind is not None:
                functions[attr] = _inspect_function(contract, attr, kind)
        if not functions:
            raise ContractDefinitionError(
                f"contract {name!r} has no function marked @submit or @evaluate"
            )
        self._deployed[name] = _Deployed(contract, functions)

    def get(self, name: str) -> Contract | None:
        """The contract deployed as `name`, or None."""
        deployed = self._deployed.get(name)
        return None if deployed is None else deployed.contract

    def names(self) -> list[str]:
        """Names of the deployed contracts, sorted."""
        return sorted(self._deployed)

    def functions(self, name: str) -> dict[str, str]:
        """Function name -> "submit" | "evaluate" for contract `name`."""
        deployed = self._deployed.get(name)
        if deployed is None:
            raise ContractNotFoundError(
                f"contract {name!r} is not registered; registered: {', '.join(self.names())}"
            )
        return {fn.name: fn.kind for fn in deployed.functions.values()}

    def _lookup(self, name: str) -> _Deployed | None:
        return self._deployed.get(name)


def load_contract(spec: str) -> Contract:
    """Instantiate a contract from "package.module:ClassName", as named in network config."""
    module_name, sep, class_name = spec.partition(":")
    if not sep or not module_name or not class_name:
        raise ContractDefinitionError(
            f"contract spec {spec!r} must look like 'package.module:ClassName'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ContractDefinitionError(f"contract spec {spec!r}: cannot import: {exc}") from exc
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Contract)):
        raise ContractDefinitionError(
            f"contract spec {spec!r}: {class_name!r} is not a Contract subclass in {module_name}"
        )
    return cls()


@dataclass(frozen=True)
class Invocation:
    """One proposal, as the peer hands it to the runtime: what to run, with what, for whom."""

    tx_id: str
    channel: str
    contract: str
    function: str
    args: Sequence[bytes]
    transient: Mapping[str, bytes]
    timestamp: datetime
    creator: ClientIdentity


@dataclass(frozen=True)
class SimulationResult:
    """The response, the read-write set (empty unless status 200 and asked for) and the event, if
    any."""

    response: common_pb2.Response
    rwset: common_pb2.ReadWriteSet
    event: common_pb2.ChaincodeEvent | None


class _Rejected(Exception):
    """The request cannot run: unknown contract or function, or bad arguments."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Simulation:
    """One invocation's calls, top-level and nested, sharing one TxSimulator."""

    def __init__(self, registry: ContractRegistry, invocation: Invocation, sim: TxSimulator):
        self._registry = registry
        self._inv = invocation
        self._sim = sim

    def call(self, contract: str, function: str, args: Sequence[str], depth: int) -> bytes:
        problem = name_problem("contract", contract) or name_problem("function", function)
        if problem is not None:
            raise _Rejected(400, problem)
        deployed = self._registry._lookup(contract)
        if deployed is None:
            raise _Rejected(
                404,
                f"contract {contract!r} is not deployed on channel {self._inv.channel!r}; "
                f"deployed: {', '.join(self._registry.names()) or '(none)'}",
            )
        fn = deployed.functions.get(function)
        if fn is None:
            raise _Rejected(
                404,
                f"contract {contract!r} has no function {function!r}; "
                f"functions: {', '.join(sorted(deployed.functions))}",
            )
        problem = fn.arity_problem(contract, len(args))
        if problem is not None:
            raise _Rejected(400, problem)
        stub = Stub(
            self._sim,
            contract,
            tx_id=self._inv.tx_id,
            channel=self._inv.channel,
            function=function,
            args=args,
            timestamp=self._inv.timestamp,
            transient=self._inv.transient,
            invoke=lambda c, f, a: self._nested(contract, c, f, a, depth + 1),
        )
        return to_bytes(fn.method(Context(stub, self._inv.creator), *args))

    def _nested(
        self, caller: str, contract: str, function: str, args: Sequence[str], depth: int
    ) -> bytes:
        if depth > MAX_CALL_DEPTH:
            raise ContractError(
                f"contract {caller!r} calling {contract!r} function {function!r} exceeds the "
                f"call depth limit of {MAX_CALL_DEPTH}"
            )
        if not all(isinstance(arg, str) for arg in args):
            raise ContractError(
                f"contract {caller!r} calling {contract!r} function {function!r}: args must be str"
            )
        if SYSTEM_CONTRACT_NAME.match(contract):  # else a contract could approve in an admin's name
            raise ContractError(
                f"contract {caller!r} may not call system contract {contract!r}; its functions are "
                "called directly by the client"
            )
        try:
            return self.call(contract, function, list(args), depth)
        except _Rejected as exc:
            raise ContractError(f"call from contract {caller!r} failed: {exc.message}") from None


def _decode_args(invocation: Invocation) -> list[str]:
    decoded = []
    for i, arg in enumerate(invocation.args):
        try:
            decoded.append(bytes(arg).decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise _Rejected(
                400,
                f"argument {i} of contract {invocation.contract!r} function "
                f"{invocation.function!r} is not valid UTF-8 ({exc.reason} at byte {exc.start}); "
                "send binary data base64-encoded or as transient data",
            ) from None
    return decoded


def _failed(status: int, message: str) -> SimulationResult:
    return SimulationResult(
        common_pb2.Response(status=status, message=message), common_pb2.ReadWriteSet(), None
    )


def simulate(
    registry: ContractRegistry,
    state: StateView,
    invocation: Invocation,
    sandbox: Sandbox | None = None,
    pin: Callable[[], AbstractContextManager[object]] = nullcontext,
    *,
    rwset: bool = True,
) -> SimulationResult:
    """Run the invocation against committed state, inside pin() (which holds one view of it);
    return its response, rwset and event. With a sandbox, a call past its time limit is cut off
    and answered with status 504 naming contract, function, tx, peer and limit. rwset=False
    leaves the rwset empty: an evaluation, which nobody signs or orders, need not build it."""
    if sandbox is None:
        with pin():
            return _simulate(registry, state, invocation, rwset)
    try:
        return sandbox.run(lambda: _simulate(registry, state, invocation, rwset),
                           lambda: f"contract {invocation.contract!r} function "
                                   f"{invocation.function!r} (tx {invocation.tx_id})", pin)
    except CallTimedOut as exc:
        logger.warning("%s", exc)
        return _failed(TIMED_OUT, f"{exc}; the contract must finish sooner, or the peer's "
                                  "[peer] contract_time_limit_ms be raised")


def _simulate(registry: ContractRegistry, state: StateView, invocation: Invocation,
              rwset: bool) -> SimulationResult:
    sim = TxSimulator(state)
    try:
        args = _decode_args(invocation)
        payload = _Simulation(registry, invocation, sim).call(
            invocation.contract, invocation.function, args, depth=0
        )
    except _Rejected as exc:
        return _failed(exc.status, exc.message)
    except InvalidArgumentError as exc:  # the request's data made a key or page the stub refuses
        return _failed(400, str(exc))
    except PermissionDeniedError as exc:
        return _failed(403, str(exc))
    except ContractError as exc:
        return _failed(500, str(exc))
    except CallCutOff:
        raise  # the sandbox's own: the call ran past its time limit
    except BaseException as exc:  # a contract bug, incl. SystemExit or KeyboardInterrupt it raised
        message = (
            f"contract {invocation.contract!r} function {invocation.function!r} failed: "
            f"{type(exc).__name__}: {exc}"
        )
        logger.error("tx %s: %s", invocation.tx_id, message,
                     exc_info=not isinstance(exc, RecursionError | MemoryError))
        return _failed(500, message)
    return SimulationResult(common_pb2.Response(status=200, payload=payload),
                            sim.rwset() if rwset else common_pb2.ReadWriteSet(), sim.event)
