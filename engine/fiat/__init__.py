"""Fiat channel payments: the Channel protocol, settlement and the query loop."""
