"""Ledger tools for admins: a query client for a peer, and repair of a stopped peer's damaged block file."""
