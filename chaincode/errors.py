"""The errors of the contract API: one a contract raises, and ones that reject a bad deployment."""

from __future__ import annotations


class ContractError(Exception):
    """A contract refused the request; the message reaches the client verbatim (status 500).

    Raise it for business-rule failures ("asset a1 does not exist"). Any other exception a contract
    raises is treated as a bug: the client sees only its type and message, never the traceback.
    """


class InvalidArgumentError(ContractError):
    """A request's argument the contract API refuses before any business rule (a page size out of
    range, a bookmark another query made); the client is told which argument and why (status 400)."""


class PermissionDeniedError(ContractError):
    """The caller may not do this at all, whatever the arguments (e.g. only an org admin may);
    the client gets PERMISSION_DENIED (status 403) with the message."""


class InvalidKeyError(InvalidArgumentError):
    """A key (or key part, or event name) the stub refuses: empty, too long, not UTF-8, or holding
    a control character; the client is told which key (escaped) and why (status 400)."""


class ContractDefinitionError(Exception):
    """A contract class cannot be deployed as written (bad name, bad function signature, bad spec)."""


class ContractNotFoundError(LookupError):
    """The registry holds no contract by the requested name."""
