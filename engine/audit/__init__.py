"""Auditors' reconciliation: the books against the chains and channels."""
