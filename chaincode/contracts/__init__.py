"""Contracts deployed on CareLedger networks."""
