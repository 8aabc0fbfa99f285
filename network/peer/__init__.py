"""The peer: endorser, committer, ledger and gateway service."""
