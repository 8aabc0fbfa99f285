"""CareLedger nodes, by family: identity, node plumbing, ledger, peer, orderer, local networks, tools."""
