"""Consenters: how the orderer agrees on and persists the block sequence."""
