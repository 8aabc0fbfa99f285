"""Who may register whom: the one rule the CA applies, kept pure so it is tested without a server.

An org admin may register any role with any attributes. Any other identity is a registrar only as
far as its own certificate says, and never grants more than it holds:
- `registrar_roles` (comma-separated, e.g. `client`): the roles it may give;
- `registrar_attrs` (comma-separated): the attributes it may give, each `NAME` (any value) or
  `NAME=VALUE` (that value only), e.g. `role=patient,role=practitioner,license`;
- it may pass `registrar_roles` / `registrar_attrs` on only as subsets of its own.
"""

from __future__ import annotations

from collections.abc import Mapping

REGISTRAR_ROLES = "registrar_roles"
REGISTRAR_ATTRS = "registrar_attrs"
GRANTABLE_ROLES = ("client", "peer", "admin")


def split_list(value: str) -> set[str]:
    """A comma-separated attribute value as a set of its non-empty, stripped items."""
    return {item.strip() for item in value.split(",") if item.strip()}


def refusal(caller: str, caller_role: str, caller_attributes: Mapping[str, str], role: str,
            attributes: Mapping[str, str]) -> str | None:
    """Why `caller` may not register `role` with `attributes`, or None when it may."""
    if role not in GRANTABLE_ROLES:
        return f"role {role!r} cannot be registered; use one of {', '.join(GRANTABLE_ROLES)}"
    if caller_role == "admin":
        return None
    roles = split_list(caller_attributes.get(REGISTRAR_ROLES, ""))
    if not roles:
        return (f"{caller} is not a registrar: only an org admin or an identity whose certificate "
                f"carries {REGISTRAR_ROLES} may register")
    if role not in roles:
        return (f"{caller} may not register role {role!r}: its {REGISTRAR_ROLES} allows only "
                f"{', '.join(sorted(roles))}")
    allowed = split_list(caller_attributes.get(REGISTRAR_ATTRS, ""))
    for key, value in sorted(attributes.items()):
        if key in (REGISTRAR_ROLES, REGISTRAR_ATTRS):
            wider = split_list(value) - split_list(caller_attributes.get(key, ""))
            if wider:
                return (f"{caller} may not grant {key} {', '.join(sorted(wider))}: a registrar "
                        f"passes on only what its own {key} holds")
        elif key not in allowed and f"{key}={value}" not in allowed:
            return (f"{caller} may not grant attribute {key}={value}: its {REGISTRAR_ATTRS} allows "
                    f"{', '.join(sorted(allowed)) or 'none'}")
    return None
