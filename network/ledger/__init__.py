"""The ledger room that peers and orderers share: the block store, block checks (start-up and `ledger
verify` apply the same ones), protocol hashes, and what a block tells listeners."""
