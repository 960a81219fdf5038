"""Merchants and receiving wallets: `service` changes them, `queries` reads
them; the names callers use are exported here."""

from engine.merchants.queries import get_merchant, list_merchants, list_wallets, merchant_name
from engine.merchants.service import (
    MerchantCache,
    add_merchant,
    add_wallet,
    find_wallet,
    issue_api_key,
    remove_merchant,
    remove_wallet,
    require_merchant,
)

__all__ = [
    "MerchantCache",
    "add_merchant",
    "add_wallet",
    "find_wallet",
    "get_merchant",
    "issue_api_key",
    "list_merchants",
    "list_wallets",
    "merchant_name",
    "remove_merchant",
    "remove_wallet",
    "require_merchant",
]
