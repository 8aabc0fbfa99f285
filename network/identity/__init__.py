"""Identities: certificate authorities, certificates, signing and verifying."""
