"""Signer factories, so callers can write `signers.new_private_key_signer(key_pem)`."""

from careledger.gateway.identity import Signer, new_key_signer, new_private_key_signer

__all__ = ["Signer", "new_key_signer", "new_private_key_signer"]
