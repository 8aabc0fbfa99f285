"""CareLedger gateway SDK: connect, get a network and a contract, submit and evaluate."""
