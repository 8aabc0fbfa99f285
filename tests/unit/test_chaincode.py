"""The contract API and the runtime: rwsets, keys, events, nested calls, statuses, basic contract."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta, timezone

import contractharness
import pytest

from careledger.chaincode import (
    ClientIdentity,
    Context,
    Contract,
    ContractError,
    evaluate,
    submit,
)
from careledger.chaincode.contracts.basic import BasicContract
from careledger.chaincode.errors import ContractDefinitionError, ContractNotFoundError
from careledger.chaincode.runtime import (
    ContractRegistry,
    Invocation,
    SimulationResult,
    Version,
    load_contract,
    simulate,
)
from careledger.protos import common_pb2

TX_TIME = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALICE = ClientIdentity(
    org="hospital", name="alice", role="doctor", attributes={"dept": "cardiology"}, cert_pem=b"PEM"
)


class MemoryState(contractharness.MemoryState):
    """The harness's state with short-hand writes: tx id and time follow from the version."""

    def commit(self, ns: str, key: str, value: bytes | None, version: Version,  # type: ignore[override]
               tx_id: str = "", at: datetime | None = None) -> None:
        super().commit(ns, key, value, version, tx_id or f"tx{version[0]}.{version[1]}",
                       at or TX_TIME + timedelta(minutes=version[0]))

    def apply_at(self, result: SimulationResult, version: Version) -> None:
        """Apply a simulation's writes as the transaction at `version`."""
        self.apply(result, f"tx{version[0]}.{version[1]}", TX_TIME + timedelta(minutes=version[0]),
                   version)


class ProbeContract(Contract):
    """Drives each Stub operation from string arguments."""

    name = "probe"

    @submit
    def put(self, ctx: Context, *pairs: str) -> None:
        for key, value in zip(pairs[::2], pairs[1::2], strict=True):
            ctx.stub.put_state(key, value)

    @submit
    def delete(self, ctx: Context, key: str) -> None:
        ctx.stub.del_state(key)

    @evaluate
    def get(self, ctx: Context, *keys: str) -> list[str | None]:
        return [None if (v := ctx.stub.get_state(k)) is None else v.decode() for k in keys]

    @submit
    def put_then_get(self, ctx: Context, key: str, value: str) -> str | None:
        ctx.stub.put_state(key, value)
        ctx.stub.put_state(key, value + "!")
        found = ctx.stub.get_state(key)
        return None if found is None else found.decode()

    @submit
    def delete_then_get(self, ctx: Context, key: str) -> bool:
        ctx.stub.del_state(key)
        return ctx.stub.get_state(key) is None

    @evaluate
    def range(self, ctx: Context, start: str, end: str) -> dict[str, str]:
        return {k: v.decode() for k, v in ctx.stub.get_state_by_range(start, end)}

    @submit
    def put_range(self, ctx: Context, key: str, value: str, drop: str) -> list[str]:
        ctx.stub.put_state(key, value)
        ctx.stub.del_state(drop)
        return [k for k, _ in ctx.stub.get_state_by_range("", "")]

    @submit
    def index(self, ctx: Context, object_type: str, *attrs: str) -> str:
        key = ctx.stub.create_composite_key(object_type, attrs)
        ctx.stub.put_state(key, "indexed")
        return key

    @evaluate
    def by_partial(self, ctx: Context, object_type: str, *attrs: str) -> list[list[str]]:
        found = ctx.stub.get_state_by_partial_composite_key(object_type, attrs)
        return [ctx.stub.split_composite_key(key)[1] for key, _ in found]

    @submit
    def emit(self, ctx: Context, *names: str) -> None:
        for name in names:
            ctx.stub.set_event(name, {"name": name, "n": 1})

    @submit
    def call(self, ctx: Context, contract: str, function: str, *args: str) -> str:
        ctx.stub.put_state("caller", "probe")
        return ctx.stub.invoke_contract(contract, function, args).decode()

    @submit
    def call_catching(self, ctx: Context, contract: str, function: str, *args: str) -> str:
        try:
            ctx.stub.invoke_contract(contract, function, args)
        except ContractError as exc:
            return f"caught: {exc}"
        return "no error"

    @submit
    def recurse(self, ctx: Context) -> bytes:
        return ctx.stub.invoke_contract("probe", "recurse", [])

    @submit
    def fail(self, ctx: Context, message: str) -> None:
        ctx.stub.put_state("written", "before failing")
        raise ContractError(message)

    @submit
    def crash(self, ctx: Context) -> None:
        ctx.stub.put_state("written", "before crashing")
        raise ValueError("boom")

    @evaluate
    def whoami(self, ctx: Context) -> dict[str, object]:
        stub = ctx.stub
        return {
            "id": ctx.client_identity.id,
            "tx_id": stub.tx_id,
            "channel": stub.channel,
            "function": stub.function,
            "args": stub.args,
            "time": stub.get_tx_timestamp().isoformat(),
            "transient": {k: v.decode() for k, v in stub.get_transient().items()},
        }

    @evaluate
    def returns(self, ctx: Context, kind: str) -> object:
        return {
            "bytes": b"\x00raw",
            "str": "héllo",
            "none": None,
            "dict": {"b": 1, "a": [True, None]},
            "list": [3, "x"],
            "int": 42,
            "bool": False,
            "float": 1.5,
        }[kind]

    @evaluate
    def optional(self, ctx: Context, first: str, second: str = "") -> str:
        return first + second

    @evaluate
    def history(self, ctx: Context, key: str) -> list[list[object]]:
        return [[e.tx_id, e.value.decode(), e.is_delete, e.block_num, e.tx_num]
                for e in ctx.stub.get_history_for_key(key)]

    def helper(self) -> str:
        return "not callable by clients"


def invocation(
    contract: str,
    function: str,
    *args: str | bytes,
    transient: dict[str, bytes] | None = None,
    timestamp: datetime = TX_TIME,
    tx_id: str = "tx-1",
) -> Invocation:
    return Invocation(
        tx_id=tx_id,
        channel="healthcare",
        contract=contract,
        function=function,
        args=[a.encode() if isinstance(a, str) else a for a in args],
        transient=transient or {},
        timestamp=timestamp,
        creator=ALICE,
    )


@pytest.fixture
def registry() -> ContractRegistry:
    return ContractRegistry([ProbeContract(), BasicContract()])


@pytest.fixture
def state() -> MemoryState:
    return MemoryState()


def run(registry: ContractRegistry, state: MemoryState, contract: str, function: str,
        *args: str | bytes, **kwargs: object) -> SimulationResult:
    return simulate(registry, state, invocation(contract, function, *args, **kwargs))


def ok_json(result: SimulationResult) -> object:
    assert result.response.status == 200, result.response.message
    return json.loads(result.response.payload)


def ns_rwset(result: SimulationResult, ns: str) -> common_pb2.NsReadWriteSet:
    (found,) = [n for n in result.rwset.ns_rwset if n.namespace == ns]
    return found


def reads(ns: common_pb2.NsReadWriteSet) -> list[tuple[str, Version | None]]:
    return [
        (r.key, (r.version.block_num, r.version.tx_num) if r.HasField("version") else None)
        for r in ns.reads
    ]


def writes(ns: common_pb2.NsReadWriteSet) -> list[tuple[str, bytes, bool]]:
    return [(w.key, w.value, w.is_delete) for w in ns.writes]


# --- read-write sets -----------------------------------------------------------------------


def test_read_of_committed_key_records_its_version_and_absent_key_has_none(registry, state):
    state.commit("probe", "k1", b"v1", (3, 2))
    result = run(registry, state, "probe", "get", "k1", "missing")
    assert ok_json(result) == ["v1", None]
    ns = ns_rwset(result, "probe")
    assert reads(ns) == [("k1", (3, 2)), ("missing", None)]
    assert not ns.writes


def test_version_zero_zero_is_recorded_as_present(registry, state):
    state.commit("probe", "genesis", b"v", (0, 0))
    result = run(registry, state, "probe", "get", "genesis")
    assert reads(ns_rwset(result, "probe")) == [("genesis", (0, 0))]


def test_reads_and_writes_are_sorted_with_one_entry_per_key_last_write_wins(registry, state):
    result = run(registry, state, "probe", "put", "b", "1", "a", "2", "b", "3")
    assert writes(ns_rwset(result, "probe")) == [("a", b"2", False), ("b", b"3", False)]
    result = run(registry, state, "probe", "get", "z", "a", "z")
    assert reads(ns_rwset(result, "probe")) == [("a", None), ("z", None)]


def test_read_your_writes_returns_pending_value_without_recording_a_read(registry, state):
    state.commit("probe", "k", b"old", (1, 0))
    result = run(registry, state, "probe", "put_then_get", "k", "new")
    assert result.response.payload == b"new!"
    ns = ns_rwset(result, "probe")
    assert reads(ns) == []
    assert writes(ns) == [("k", b"new!", False)]


def test_delete_is_a_write_with_is_delete_and_hides_the_key_from_later_reads(registry, state):
    state.commit("probe", "k", b"old", (1, 0))
    result = run(registry, state, "probe", "delete_then_get", "k")
    assert ok_json(result) is True
    assert writes(ns_rwset(result, "probe")) == [("k", b"", True)]


def test_namespaces_are_sorted_and_each_contract_writes_its_own(registry, state):
    result = run(registry, state, "probe", "call", "basic", "create_asset", "a1", "bob", "5")
    assert [ns.namespace for ns in result.rwset.ns_rwset] == ["basic", "probe"]
    assert [w.key for w in ns_rwset(result, "basic").writes] == ["a1"]
    assert [w.key for w in ns_rwset(result, "probe").writes] == ["caller"]


def test_an_evaluation_without_rwset_answers_the_same_response_and_event(registry, state):
    state.commit("probe", "k1", b"v1", (3, 2))
    for function, args in (("get", ("k1", "missing")), ("emit", ("a",)), ("fail", ("no",))):
        full = simulate(registry, state, invocation("probe", function, *args))
        bare = simulate(registry, state, invocation("probe", function, *args), rwset=False)
        assert bare.response == full.response
        assert bare.event == full.event
        assert bare.rwset == common_pb2.ReadWriteSet()


def test_same_invocation_twice_gives_identical_serialized_results(registry, state):
    state.commit("probe", "a", b"1", (1, 0))
    state.commit("probe", "c", b"3", (1, 1))
    first, second = (
        run(registry, state, "probe", "put_range", "b", "2", "c") for _ in range(2)
    )
    for a, b in [(first.rwset, second.rwset), (first.response, second.response)]:
        assert a.SerializeToString(deterministic=True) == b.SerializeToString(deterministic=True)


# --- ranges and composite keys -------------------------------------------------------------


def test_range_is_end_exclusive_and_records_keys_and_versions_seen(registry, state):
    for i, key in enumerate(["a", "b", "c", "d"]):
        state.commit("probe", key, key.upper().encode(), (2, i))
    result = run(registry, state, "probe", "range", "b", "d")
    assert ok_json(result) == {"b": "B", "c": "C"}
    (range_read,) = ns_rwset(result, "probe").range_reads
    assert (range_read.start_key, range_read.end_key) == ("b", "d")
    assert [(r.key, r.version.tx_num) for r in range_read.reads] == [("b", 1), ("c", 2)]


def test_range_merges_pending_writes_and_deletes_but_records_only_committed(registry, state):
    state.commit("probe", "a", b"1", (1, 0))
    state.commit("probe", "c", b"3", (1, 1))
    result = run(registry, state, "probe", "put_range", "b", "2", "c")
    assert ok_json(result) == ["a", "b"]
    (range_read,) = ns_rwset(result, "probe").range_reads
    assert [r.key for r in range_read.reads] == ["a", "c"]


def test_simple_range_skips_composite_keys(registry, state):
    state.commit("probe", "\x00patient\x00p1\x00", b"x", (1, 0))
    state.commit("probe", "plain", b"y", (1, 1))
    result = run(registry, state, "probe", "range", "", "")
    assert ok_json(result) == {"plain": "y"}
    assert ns_rwset(result, "probe").range_reads[0].start_key == "\x01"


def test_composite_key_uses_fabric_format(registry, state):
    result = run(registry, state, "probe", "index", "consent", "p1", "r9")
    assert result.response.payload.decode() == "\x00consent\x00p1\x00r9\x00"


def test_partial_composite_key_query_finds_matching_prefix_including_pending(registry, state):
    for attrs, version in [(("p1", "r1"), (1, 0)), (("p2", "r1"), (1, 1)), (("p10", "r1"), (1, 2))]:
        state.commit("probe", "\x00consent\x00" + "".join(a + "\x00" for a in attrs), b"x", version)
    assert ok_json(run(registry, state, "probe", "by_partial", "consent", "p1")) == [["p1", "r1"]]
    assert len(ok_json(run(registry, state, "probe", "by_partial", "consent"))) == 3
    assert ok_json(run(registry, state, "probe", "by_partial", "other")) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("put", "", "v"), "key '' is invalid"),
        (("put", "k" * 1025, "v"), "1025 characters long; the limit is 1024"),
        (("put", "\x00broken", "v"), "is not a composite key"),
        (("range", "\x00consent\x00", ""), "is a composite key"),
        (("index", "consent", "a\x00b"), "must not contain U+0000"),
        (("index", ""), "object type must be a non-empty string"),
        (("put", "a\x00b", "v"), "key 'a\\x00b' contains the control character U+0000 at position 1"),
        (("put", "x\x1b[31mred", "v"), "U+001B at position 1"),
        (("put", "invoice\u202etxt.exe", "v"), "key 'invoice\\u202etxt.exe' contains the control"),
        (("put", "iso\u2066late", "v"), "U+2066"),
        (("put", "c1\x85", "v"), "U+0085"),
        (("put", "del\x7f", "v"), "U+007F"),
        (("get", "tab\tkey"), "U+0009"),
        (("delete", "new\nline"), "U+000A"),
        (("index", "consent", "p\x1b"), "composite key part 'p\\x1b' contains the control character"),
    ],
)
def test_invalid_keys_are_refused_as_bad_requests(registry, state, args, message):
    result = run(registry, state, "probe", *args)
    assert result.response.status == 400
    assert message in result.response.message
    assert not result.rwset.ns_rwset


# --- events, identity, transaction facts ---------------------------------------------------


def test_last_event_of_a_transaction_wins_and_names_the_contract(registry, state):
    result = run(registry, state, "probe", "emit", "First", "Second")
    assert result.event == common_pb2.ChaincodeEvent(
        contract="probe", tx_id="tx-1", event_name="Second", payload=b'{"n":1,"name":"Second"}'
    )
    assert run(registry, state, "probe", "put", "k", "v").event is None


def test_stub_exposes_tx_facts_utc_time_and_transient(registry, state):
    local = datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    result = run(registry, state, "probe", "whoami", transient={"secret": b"s3"}, timestamp=local)
    assert ok_json(result) == {
        "id": "hospital/alice",
        "tx_id": "tx-1",
        "channel": "healthcare",
        "function": "whoami",
        "args": [],
        "time": "2026-03-01T12:00:00+00:00",
        "transient": {"secret": "s3"},
    }


def test_client_identity_attributes_are_read_only_and_asserted_with_a_clear_message():
    assert ALICE.id == "hospital/alice"
    assert ALICE.get_attribute("dept") == "cardiology"
    assert ALICE.get_attribute("missing") is None
    ALICE.assert_attribute_value("dept", "cardiology")
    with pytest.raises(ContractError, match="'hospital/alice' attribute 'dept' has 'cardiology', "
                                            "expected 'oncology'"):
        ALICE.assert_attribute_value("dept", "oncology")
    with pytest.raises(ContractError, match="attribute 'ward' has no such attribute"):
        ALICE.assert_attribute_value("ward", "3")
    with pytest.raises(TypeError):
        ALICE.attributes["dept"] = "x"  # type: ignore[index]
    same = ClientIdentity("hospital", "alice", "doctor", {"dept": "cardiology"}, b"PEM")
    assert same == ALICE and hash(same) == hash(ALICE)


def test_history_comes_from_committed_state(registry, state):
    state.commit("probe", "k", b"v1", (1, 0))
    state.commit("probe", "k", None, (2, 3))
    assert ok_json(run(registry, state, "probe", "history", "k")) == [
        ["tx1.0", "v1", False, 1, 0],
        ["tx2.3", "", True, 2, 3],
    ]


# --- nested calls --------------------------------------------------------------------------


def test_invoke_contract_returns_callee_payload_and_uses_same_identity(registry, state):
    result = run(registry, state, "probe", "call", "basic", "create_asset", "a1", "bob", "5")
    assert json.loads(result.response.payload)["created_by"] == "hospital/alice"
    assert result.event is not None and result.event.contract == "basic"


def test_callee_contract_error_propagates_to_the_caller(registry, state):
    result = run(registry, state, "probe", "call", "basic", "read_asset", "nope")
    assert (result.response.status, result.response.message) == (500, "asset nope does not exist")
    caught = run(registry, state, "probe", "call_catching", "basic", "read_asset", "nope")
    assert caught.response.payload == b"caught: asset nope does not exist"


@pytest.mark.parametrize(
    ("callee", "message"),
    [
        (("ghost", "f"), "contract 'ghost' is not deployed on channel 'healthcare'"),
        (("basic", "nope"), "contract 'basic' has no function 'nope'"),
        (("basic", "read_asset"), "takes 1 argument(s) (asset_id), got 0"),
    ],
)
def test_unreachable_callee_is_a_contract_error_of_the_caller(registry, state, callee, message):
    caught = run(registry, state, "probe", "call_catching", *callee)
    assert caught.response.payload.decode().startswith("caught: call from contract 'probe'")
    assert message in caught.response.payload.decode()


def test_endless_recursion_stops_at_the_call_depth_limit(registry, state):
    result = run(registry, state, "probe", "recurse")
    assert result.response.status == 500
    assert "exceeds the call depth limit of 8" in result.response.message


# --- statuses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("bytes", b"\x00raw"),
        ("str", "héllo".encode()),
        ("none", b""),
        ("dict", b'{"a":[true,null],"b":1}'),
        ("list", b'[3,"x"]'),
        ("int", b"42"),
        ("bool", b"false"),
    ],
)
def test_return_values_are_encoded_canonically(registry, state, kind, payload):
    result = run(registry, state, "probe", "returns", kind)
    assert (result.response.status, result.response.payload) == (200, payload)


def test_non_utf8_argument_is_400_naming_the_argument(registry, state):
    result = run(registry, state, "probe", "get", "ok", b"\xff\xfe")
    assert result.response.status == 400
    assert "argument 1 of contract 'probe' function 'get' is not valid UTF-8" in (
        result.response.message
    )


@pytest.mark.parametrize(
    ("function", "args", "message"),
    [
        ("put_then_get", ("k",), "function 'put_then_get' takes 2 argument(s) (key, value), got 1"),
        ("optional", (), "takes 1 to 2 argument(s) (first, second), got 0"),
        ("optional", ("a", "b", "c"), "got 3"),
        ("index", (), "takes at least 1 argument(s) (object_type, *args), got 0"),
    ],
)
def test_wrong_number_of_arguments_is_400_saying_what_it_takes(
    registry, state, function, args, message
):
    result = run(registry, state, "probe", function, *args)
    assert result.response.status == 400
    assert message in result.response.message


def test_optional_arguments_may_be_left_out(registry, state):
    assert run(registry, state, "probe", "optional", "a").response.payload == b"a"


def test_unknown_contract_is_404_listing_deployed_contracts(registry, state):
    result = run(registry, state, "ghost", "f")
    assert (result.response.status, result.response.message) == (
        404, "contract 'ghost' is not deployed on channel 'healthcare'; deployed: basic, probe"
    )


def test_unknown_or_undecorated_function_is_404_listing_functions(registry, state):
    for name in ["foo", "helper", "_load"]:
        result = run(registry, state, "basic" if name == "_load" else "probe", name)
        assert result.response.status == 404
        assert f"has no function '{name}'; functions: " in result.response.message
    assert run(registry, state, "basic", "nope").response.message.endswith(
        "functions: asset_history, create_asset, delete_asset, get_all_assets, read_asset, "
        "transfer_asset, update_asset"
    )


def test_contract_error_is_500_verbatim_with_empty_rwset(registry, state):
    result = run(registry, state, "probe", "fail", "patient p1 has withdrawn consent")
    assert result.response == common_pb2.Response(
        status=500, message="patient p1 has withdrawn consent"
    )
    assert result.rwset == common_pb2.ReadWriteSet()
    assert result.event is None


def test_unexpected_exception_is_500_with_type_and_logged_traceback(registry, state, caplog):
    with caplog.at_level(logging.ERROR, logger="careledger.chaincode.runtime"):
        result = run(registry, state, "probe", "crash")
    assert result.response == common_pb2.Response(
        status=500, message="contract 'probe' function 'crash' failed: ValueError: boom"
    )
    assert result.rwset == common_pb2.ReadWriteSet()
    assert "tx-1" in caplog.text and "Traceback" in caplog.text
    assert "Traceback" not in result.response.message


def test_unsupported_return_type_is_an_unexpected_error(registry, state):
    result = run(registry, state, "probe", "returns", "float")
    assert result.response.status == 500
    assert "TypeError: cannot encode a float" in result.response.message


# --- registry and loading ------------------------------------------------------------------


def test_registry_lists_contracts_and_function_kinds(registry):
    assert registry.names() == ["basic", "probe"]
    assert isinstance(registry.get("basic"), BasicContract)
    assert registry.get("ghost") is None
    assert registry.functions("basic")["read_asset"] == "evaluate"
    assert registry.functions("basic")["create_asset"] == "submit"
    with pytest.raises(ContractNotFoundError, match="'ghost' is not registered"):
        registry.functions("ghost")


def test_registry_refuses_duplicate_and_badly_defined_contracts(registry):
    with pytest.raises(ContractDefinitionError, match="'basic' is already registered"):
        registry.register(BasicContract())

    class Nameless(Contract):
        @evaluate
        def f(self, ctx: Context) -> None: ...

    class Empty(Contract):
        name = "empty"

    class NoContext(Contract):
        name = "noctx"

        @evaluate
        def f(self) -> None: ...

    class KeywordOnly(Contract):
        name = "kwonly"

        @submit
        def f(self, ctx: Context, *, flag: str) -> None: ...

    for contract, message in [
        (Nameless(), "is not a valid contract name"),
        (Empty(), "no function marked"),
        (NoContext(), "first parameter must be the Context"),
        (KeywordOnly(), "keyword-only parameter 'flag' needs a default"),
    ]:
        with pytest.raises(ContractDefinitionError, match=message):
            ContractRegistry([contract])


def test_load_contract_instantiates_from_spec():
    contract = load_contract("careledger.chaincode.contracts.basic:BasicContract")
    assert isinstance(contract, BasicContract)
    for spec, message in [
        ("no-colon", "must look like"),
        ("careledger.nope:X", "cannot import"),
        ("careledger.chaincode.contracts.basic:json", "is not a Contract subclass"),
    ]:
        with pytest.raises(ContractDefinitionError, match=message):
            load_contract(spec)


# --- the basic contract --------------------------------------------------------------------


def commit(registry, state, version: Version, function: str, *args: str) -> SimulationResult:
    result = run(registry, state, "basic", function, *args)
    assert result.response.status == 200, result.response.message
    state.apply_at(result, version)
    return result


def test_basic_create_records_owner_and_creator_and_emits_event(registry, state):
    result = commit(registry, state, (1, 0), "create_asset", "a1", "bob", "100")
    asset = {"id": "a1", "owner": "bob", "value": "100", "created_by": "hospital/alice"}
    assert json.loads(result.response.payload) == asset
    assert reads(ns_rwset(result, "basic")) == [("a1", None)]
    assert (result.event.event_name, json.loads(result.event.payload)) == ("AssetCreated", asset)
    assert ok_json(run(registry, state, "basic", "read_asset", "a1")) == asset
    again = run(registry, state, "basic", "create_asset", "a1", "eve", "1")
    assert (again.response.status, again.response.message) == (500, "asset a1 already exists")


def test_basic_update_reads_then_writes_and_transfer_changes_owner(registry, state):
    commit(registry, state, (1, 0), "create_asset", "a1", "bob", "100")
    updated = commit(registry, state, (2, 0), "update_asset", "a1", "150")
    ns = ns_rwset(updated, "basic")
    assert reads(ns) == [("a1", (1, 0))]
    assert json.loads(ns.writes[0].value)["value"] == "150"
    assert updated.event.event_name == "AssetUpdated"
    moved = commit(registry, state, (3, 0), "transfer_asset", "a1", "carol")
    assert json.loads(moved.response.payload)["owner"] == "carol"
    assert moved.event.event_name == "AssetTransferred"


def test_basic_delete_removes_asset_and_history_shows_every_change(registry, state):
    commit(registry, state, (1, 0), "create_asset", "a1", "bob", "100")
    commit(registry, state, (2, 1), "transfer_asset", "a1", "carol")
    deleted = commit(registry, state, (3, 0), "delete_asset", "a1")
    assert writes(ns_rwset(deleted, "basic")) == [("a1", b"", True)]
    assert deleted.event.event_name == "AssetDeleted"
    missing = run(registry, state, "basic", "read_asset", "a1")
    assert (missing.response.status, missing.response.message) == (500, "asset a1 does not exist")
    history = ok_json(run(registry, state, "basic", "asset_history", "a1"))
    assert [(h["block_num"], h["tx_num"], h["is_delete"]) for h in history] == [
        (1, 0, False), (2, 1, False), (3, 0, True)
    ]
    assert history[1]["asset"]["owner"] == "carol" and history[2]["asset"] is None
    assert history[0]["timestamp"] == "2026-03-01T12:01:00+00:00"


def test_basic_get_all_assets_lists_assets_in_key_order(registry, state):
    for i, asset_id in enumerate(["a2", "a1", "a3"]):
        commit(registry, state, (1, i), "create_asset", asset_id, "bob", str(i))
    result = run(registry, state, "basic", "get_all_assets")
    assets = [json.loads(state.values[("basic", k)][0]) for k in ("a1", "a2", "a3")]
    assert ok_json(result) == {"items": assets, "bookmark": "", "fetched": 3}
    assert len(ns_rwset(result, "basic").range_reads[0].reads) == 3


@pytest.mark.parametrize("function", ["update_asset", "transfer_asset", "delete_asset"])
def test_basic_changes_to_missing_assets_are_refused(registry, state, function):
    args = ("ghost",) if function == "delete_asset" else ("ghost", "x")
    result = run(registry, state, "basic", function, *args)
    assert (result.response.status, result.response.message) == (500, "asset ghost does not exist")


def test_an_overlong_or_control_character_function_name_is_refused_shortly(registry, state):
    result = run(registry, state, "probe", "f" * 10_000)
    assert result.response.status == 400
    assert "function name 'fff" in result.response.message
    assert "is 10000 characters long; the limit is 128" in result.response.message
    assert len(result.response.message) < 300
    result = run(registry, state, "probe", "get\x1b[2J")
    assert result.response.status == 400
    assert "function name 'get\\x1b[2J' contains the control character U+001B" in result.response.message
