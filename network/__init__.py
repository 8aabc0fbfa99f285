"""CareLedger nodes: identities, peer, orderer, and the local network launcher."""
