"""The careledger command line."""
