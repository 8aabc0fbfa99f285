"""The credentials contract: the medical board issues practitioner licences and anyone verifies them.

A credential keeps every status change with its effective time and every validity period, so
`verify` answers for past dates of service as well as for now: a suspension recorded today with
effect from last month makes last month's services unlicensed, and a gap between an expiry and a
late renewal stays a gap. The rules are in rules.py; this class checks the caller and moves records.
"""

from __future__ import annotations

from careledger.chaincode import Context, Contract, ContractError, evaluate, submit
from careledger.chaincode.contracts.common import (
    JsonObject,
    changed,
    find,
    key,
    load,
    parse_time,
    require_identity_id,
    require_role,
    scan,
    store,
    tx_time,
)
from careledger.chaincode.contracts.credentials import fhir, rules, vc
from careledger.chaincode.contracts.credentials.records import (
    BOARD_ORG,
    REGISTRAR,
    Credential,
    StatusCounter,
)


class CredentialsContract(Contract):
    """Issue, suspend, reinstate, revoke, renew and verify practitioner licences."""

    name = "credentials"

    @submit
    def issue(
        self,
        ctx: Context,
        practitioner: str,
        license_number: str,
        qualification: str,
        jurisdiction: str,
        specialties: str,
        valid_from: str,
        valid_until: str,
    ) -> JsonObject:
        """Record a licence for `practitioner` (org/name); only a board registrar may."""
        who = require_role(ctx, REGISTRAR, org=BOARD_ORG)
        state_key = _credential_key(ctx, practitioner)
        if ctx.stub.get_state(state_key) is not None:
            raise ContractError(f"{practitioner} already holds a licence; renew it instead")
        credential = rules.issue(
            practitioner,
            license_number,
            qualification,
            jurisdiction,
            specialties,
            valid_from,
            valid_until,
            index=self._take_status_index(ctx),
            now=tx_time(ctx),
            by=who.id,
            tx_id=ctx.stub.tx_id,
        )
        return changed(ctx, state_key, credential, "CredentialIssued")

    @submit
    def suspend(self, ctx: Context, practitioner: str, reason: str, effective: str = "") -> JsonObject:
        """Suspend an active licence, now or with effect from an earlier time; reversible."""
        return self._change_status(ctx, practitioner, "suspended", reason, effective)

    @submit
    def reinstate(self, ctx: Context, practitioner: str, reason: str) -> JsonObject:
        """Lift a suspension from now on."""
        return self._change_status(ctx, practitioner, "reinstated", reason, "")

    @submit
    def revoke(self, ctx: Context, practitioner: str, reason: str, effective: str = "") -> JsonObject:
        """Revoke a licence for good, now or with effect from an earlier time."""
        return self._change_status(ctx, practitioner, "revoked", reason, effective)

    @submit
    def renew(self, ctx: Context, practitioner: str, valid_until: str, reason: str) -> JsonObject:
        """Extend a licence to `valid_until`; after a lapse the new period starts now, not earlier."""
        who = require_role(ctx, REGISTRAR, org=BOARD_ORG)
        state_key = _credential_key(ctx, practitioner)
        credential = rules.renew(
            _load(ctx, state_key, practitioner),
            valid_until,
            reason,
            now=tx_time(ctx),
            by=who.id,
            tx_id=ctx.stub.tx_id,
        )
        return changed(ctx, state_key, credential, "CredentialRenewed")

    @evaluate
    def get_credential(self, ctx: Context, practitioner: str) -> JsonObject:
        """The licence with its periods and every status change: a public register."""
        return _load(ctx, _credential_key(ctx, practitioner), practitioner).to_json()

    @evaluate
    def verify(self, ctx: Context, practitioner: str, at: str = "") -> JsonObject:
        """Whether the practitioner is licensed at `at` (ISO 8601; empty = the transaction time)."""
        moment = parse_time(at, "at") if at else tx_time(ctx)
        credential = find(ctx, _credential_key(ctx, practitioner), Credential)
        return rules.verdict(credential, practitioner, moment).to_json()

    @evaluate
    def qualification_fhir(self, ctx: Context, practitioner: str) -> JsonObject:
        """The licence as a FHIR R4 Practitioner with one qualification."""
        credential = _load(ctx, _credential_key(ctx, practitioner), practitioner)
        return fhir.practitioner(credential, rules.verdict(credential, practitioner, tx_time(ctx)).valid)

    @evaluate
    def verification_result_fhir(self, ctx: Context, practitioner: str, at: str = "") -> JsonObject:
        """The answer of `verify` as a FHIR R4 VerificationResult with the board as primary source."""
        moment = parse_time(at, "at") if at else tx_time(ctx)
        credential = find(ctx, _credential_key(ctx, practitioner), Credential)
        return fhir.verification_result(rules.verdict(credential, practitioner, moment))

    @evaluate
    def credential_document(self, ctx: Context, practitioner: str) -> JsonObject:
        """The unsigned W3C VC 2.0 content of the licence, with its status list entries.

        The board signs it off-chain; a verifier checks the status lists published from status_list.
        """
        return vc.credential_document(_load(ctx, _credential_key(ctx, practitioner), practitioner))

    @evaluate
    def status_list(self, ctx: Context, purpose: str) -> JsonObject:
        """The status list indices set for `purpose` (revocation or suspension) as of now."""
        indices = rules.status_indices(scan(ctx, "credential", kind=Credential), purpose)
        return vc.status_list(purpose, indices)

    def _change_status(
        self, ctx: Context, practitioner: str, action: str, reason: str, effective: str
    ) -> JsonObject:
        who = require_role(ctx, REGISTRAR, org=BOARD_ORG)
        state_key = _credential_key(ctx, practitioner)
        credential = rules.change_status(
            _load(ctx, state_key, practitioner),
            action,
            reason,
            effective,
            now=tx_time(ctx),
            by=who.id,
            tx_id=ctx.stub.tx_id,
        )
        return changed(ctx, state_key, credential, f"Credential{action.capitalize()}")

    @staticmethod
    def _take_status_index(ctx: Context) -> int:
        """The next free status list index, taken."""
        counter_key = key(ctx, "status-list")
        counter = find(ctx, counter_key, StatusCounter) or StatusCounter(0)
        store(ctx, counter_key, StatusCounter(counter.next + 1))
        return counter.next


def _credential_key(ctx: Context, practitioner: str) -> str:
    return key(ctx, "credential", require_identity_id(practitioner, "practitioner"))


def _load(ctx: Context, state_key: str, practitioner: str) -> Credential:
    return load(ctx, state_key, Credential, f"no licence has been issued to {practitioner}")
