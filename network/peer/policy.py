"""Endorsement policies now live in `careledger.network.ledger.policy`, since the orderer checks the
channel's admins policy too; this name stays for the many peer-side callers."""

from careledger.network.ledger.policy import Org, OutOf, Policy, PolicyError, choose_endorsers, parse

__all__ = ["Org", "OutOf", "Policy", "PolicyError", "choose_endorsers", "parse"]
