"""`_lifecycle`: the system contract by which organisations agree on contract definitions.

An org admin approves a definition (name, version, sequence, endorsement policy, package id) for
their org; once approvals of that same definition by enough orgs meet the channel's lifecycle
policy, an admin commits it, and from the next block every peer endorses and validates the contract
by it (definitions.py). It is an ordinary contract: endorsed under the lifecycle policy, its reads
MVCC-checked, so a commit that raced an approval change is invalid rather than wrong. Deterministic:
the time is the proposal's, the rule comes from the committed channel configuration.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from careledger.chaincode import ClientIdentity, Context, Contract, ContractError, evaluate, submit
from careledger.chaincode.errors import PermissionDeniedError
from careledger.network.ledger.policy import PolicyError, parse
from careledger.network.peer.contractpackage import PackageError, split_package_id
from careledger.network.peer.definitions import (
    DEFINITION_PREFIX,
    LIFECYCLE,
    Definition,
    LifecycleRule,
    definition_key,
)

ADMIN_ROLE = "admin"
_SEQUENCE_DIGITS = 10  # approvals sort by sequence within a contract


def _approval_prefix(name: str, sequence: int) -> str:
    return f"approval/{name}/{sequence:0{_SEQUENCE_DIGITS}d}/"


def _after(prefix: str) -> str:
    """The end of a range holding exactly the keys that start with `prefix` (which ends in '/')."""
    return prefix[:-1] + "0"


def _or_list(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


class LifecycleContract(Contract):
    """approve, commit and the queries; `rule` gives the channel's lifecycle policy in force."""

    name = LIFECYCLE

    def __init__(self, rule: Callable[[], LifecycleRule]) -> None:
        self._rule = rule

    # -- reading ---------------------------------------------------------------------------------

    @staticmethod
    def _committed(ctx: Context, name: str) -> Definition | None:
        raw = ctx.stub.get_state(definition_key(name))
        return None if raw is None else Definition.from_bytes(raw)

    @staticmethod
    def _approvals(ctx: Context, name: str, sequence: int) -> dict[str, dict[str, object]]:
        prefix = _approval_prefix(name, sequence)
        return {key.removeprefix(prefix): json.loads(raw)
                for key, raw in ctx.stub.get_state_by_range(prefix, _after(prefix))}

    # -- checks ----------------------------------------------------------------------------------

    @staticmethod
    def _require_admin(who: ClientIdentity, action: str, name: str) -> None:
        if who.role != ADMIN_ROLE:
            raise PermissionDeniedError(
                f"{who.id} may not {action} contract definitions (of {name}): its certificate's role "
                f"is {who.role!r}; only an org admin may — use --as {who.org}/admin")

    def _definition(self, ctx: Context, name: str, version: str, sequence: str, policy: str,
                    package_id: str, action: str) -> tuple[Definition, Definition | None]:
        """The proposed definition, checked, and the one committed now (None before the first)."""
        try:
            number = int(sequence)
        except ValueError:
            raise ContractError(f"sequence {sequence!r} of {name} is not a whole number") from None
        try:
            label, _ = split_package_id(package_id)
        except PackageError as exc:
            raise ContractError(str(exc)) from None
        if label != f"{name}_{version}":
            raise ContractError(f"package id {package_id} is labelled {label!r}, not {name}_{version}: "
                                f"it is not a package of {name} version {version}")
        members = self._rule().member_orgs
        try:
            unknown = sorted(parse(policy).orgs() - set(members))
        except PolicyError as exc:
            raise ContractError(f"endorsement policy {policy!r} of {name}: {exc}") from None
        if unknown:
            raise ContractError(f"endorsement policy {policy!r} of {name} names {', '.join(unknown)}, "
                                f"not a member of the channel ({', '.join(members)})")
        current = self._committed(ctx, name)
        at = current.sequence if current else 0
        if number != at + 1:
            now = (f"{name} is at sequence {at} (version {current.version})" if current
                   else f"{name} has no committed definition yet")
            raise ContractError(f"{action} of {name} sequence {number} refused: {now}; the next "
                                f"definition must be sequence {at + 1}")
        return Definition(name, version, number, str(parse(policy)), package_id), current

    # -- transactions ----------------------------------------------------------------------------

    @submit
    def approve(self, ctx: Context, name: str, version: str, sequence: str, policy: str,
                package_id: str) -> dict[str, object]:
        """The caller's org approves this exact definition for the next sequence of `name`."""
        who = ctx.client_identity
        self._require_admin(who, "approve", name)
        definition, _ = self._definition(ctx, name, version, sequence, policy, package_id, "approval")
        approval = definition.to_json() | {
            "org": who.org, "approved_by": who.id, "approved_at": ctx.stub.get_tx_timestamp().isoformat()}
        ctx.stub.put_state(_approval_prefix(name, definition.sequence) + who.org,
                           json.dumps(approval, sort_keys=True))
        ctx.stub.set_event("ContractApproved", approval)
        return approval

    @submit
    def commit(self, ctx: Context, name: str, version: str, sequence: str, policy: str,
               package_id: str) -> dict[str, object]:
        """Make the definition the one in force, if enough orgs approved exactly it."""
        who = ctx.client_identity
        self._require_admin(who, "commit", name)
        definition, _ = self._definition(ctx, name, version, sequence, policy, package_id, "commit")
        rule = self._rule()
        approvals = self._approvals(ctx, name, definition.sequence)
        wanted = definition.to_json()
        agreeing = sorted(org for org, a in approvals.items()
                          if org in rule.member_orgs and {k: a.get(k) for k in wanted} == wanted)
        if not rule.policy.satisfied_by(agreeing):
            raise ContractError(self._short_of(definition, rule, agreeing, approvals))
        committed = wanted | {"committed_by": who.id, "approvals": agreeing,
                              "committed_at": ctx.stub.get_tx_timestamp().isoformat()}
        ctx.stub.put_state(definition_key(name), json.dumps(committed, sort_keys=True))
        ctx.stub.set_event("ContractCommitted", committed)
        return committed

    @staticmethod
    def _short_of(definition: Definition, rule: LifecycleRule, agreeing: list[str],
                  approvals: dict[str, dict[str, object]]) -> str:
        """Why a commit is refused: whose approvals of this definition count, what the rule needs,
        who approved something else, and whom to ask."""
        what = f"commit of {definition.name} sequence {definition.sequence}"
        have = f"approvals from {', '.join(agreeing)} only" if agreeing else "no approvals"
        needed = getattr(rule.policy, "n", 1)
        others = [f"{org} approved package {a.get('package_id')} version {a.get('version')} policy "
                  f"{a.get('policy')}" for org, a in sorted(approvals.items()) if org not in agreeing]
        different = (f" ({'; '.join(others)}, not package {definition.package_id} version "
                     f"{definition.version} policy {definition.policy})") if others else ""
        missing = [o for o in rule.member_orgs if o not in agreeing]
        ask = f"; ask {_or_list(missing)} to approve" if missing else ""
        return (f"{what} has {have} of that definition{different}; the lifecycle policy "
                f"{rule.description} needs {needed}{ask}")

    # -- queries ---------------------------------------------------------------------------------

    @evaluate
    def definition(self, ctx: Context, name: str) -> dict[str, object]:
        raw = ctx.stub.get_state(definition_key(name))
        if raw is None:
            raise ContractError(f"contract {name} has no committed definition")
        result: dict[str, object] = json.loads(raw)
        return result

    @evaluate
    def definitions(self, ctx: Context) -> list[dict[str, object]]:
        return [json.loads(raw) for _, raw in
                ctx.stub.get_state_by_range(DEFINITION_PREFIX, _after(DEFINITION_PREFIX))]

    @evaluate
    def approvals(self, ctx: Context, name: str, sequence: str = "") -> dict[str, object]:
        """Approvals for `sequence` of `name` (default: the next one, current + 1), by org."""
        current = self._committed(ctx, name)
        number = int(sequence) if sequence else (current.sequence if current else 0) + 1
        return {"name": name, "sequence": number, "approvals": self._approvals(ctx, name, number)}
