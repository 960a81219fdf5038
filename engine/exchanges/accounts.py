"""Receiving accounts: register (read-only keys only), list, disable.

The caller checks the key against the exchange first (an `ExchangeReader`
built from the credentials) and hands the `KeyCheck` in. A key with any
right beyond reading is refused, as is one that cannot read deposits.
Secrets are sealed with exchanges.secrets_key when it is set, and never
logged or shown: `describe` prints the key's last four characters only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from engine.errors import BadInput, BusinessRule, NotFound
from engine.exchanges import queries
from engine.exchanges.ports import EXCHANGES, KeyCheck
from engine.exchanges.sealing import seal, unseal
from engine.models import ExchangeAccount, Wallet

log = logging.getLogger("usdtpay.exchanges")


class KeyNotReadOnly(BusinessRule):
    code = "key_not_read_only"


class KeyCannotRead(BusinessRule):
    code = "key_cannot_read"


@dataclass(frozen=True)
class Credentials:
    api_key: str
    secret: str
    passphrase: str = ""

    def __repr__(self) -> str:  # never print secrets, even in a traceback's locals
        return f"Credentials(api_key=…{self.api_key[-4:]})"


def require_read_only(check: KeyCheck) -> None:
    if check.excess_rights:
        rights = ", ".join(sorted(check.excess_rights))
        raise KeyNotReadOnly(
            f"this {check.exchange} key may also {rights}: create a key with the read permission only"
        )
    if not check.can_read_deposits:
        raise KeyCannotRead(
            f"this {check.exchange} key cannot read the deposit history: give it read permission"
        )


def validate_exchange(exchange: str) -> str:
    if exchange not in EXCHANGES:
        raise BadInput(f"unknown exchange {exchange!r}: use one of {', '.join(EXCHANGES)}")
    return exchange


async def register_account(
    session: AsyncSession,
    credentials: Credentials,
    check: KeyCheck,
    *,
    secrets_key: str,
    now: datetime,
    label: str = "",
    pay_to: str = "",
) -> ExchangeAccount:
    """Store a checked read-only account and its wallet row; flush only.

    Registering the same (exchange, uid) again replaces its key (a rotated
    key) and enables it."""
    validate_exchange(check.exchange)
    require_read_only(check)
    if check.exchange == "okx" and not credentials.passphrase:
        raise BadInput("an OKX key needs its passphrase")
    account = await queries.account_by_uid(session, check.exchange, check.uid)
    if account is None:
        account = ExchangeAccount(exchange=check.exchange, uid=check.uid, created_at=now)
        session.add(account)
    account.api_key = seal(credentials.api_key, secrets_key)
    account.api_secret = seal(credentials.secret, secrets_key)
    account.passphrase = seal(credentials.passphrase, secrets_key)
    account.rights = ",".join(sorted(check.rights))
    account.label = label[:64] or account.label or check.label[:64]
    account.pay_to = pay_to[:128] or account.pay_to or ""
    account.enabled = True
    account.checked_at = now
    wallet = await queries.wallet_of(session, check.exchange, check.uid)
    if wallet is None:
        session.add(
            Wallet(chain=check.exchange, address=check.uid, enabled=True, label=label[:64], created_at=now)
        )
    else:
        wallet.enabled = True
    await session.flush()
    log.info("exchange account registered", extra={"exchange": check.exchange, "uid": check.uid})
    return account


def credentials_of(account: ExchangeAccount, secrets_key: str) -> Credentials:
    return Credentials(
        unseal(account.api_key, secrets_key),
        unseal(account.api_secret, secrets_key),
        unseal(account.passphrase, secrets_key),
    )


async def record_check(
    session: AsyncSession, account: ExchangeAccount, check: KeyCheck, now: datetime
) -> None:
    """A later `usdtpay exchange check`: a key that gained rights is disabled."""
    account.rights = ",".join(sorted(check.rights))
    account.checked_at = now
    if check.uid != account.uid or not check.read_only:
        await set_enabled(session, account, False)
    await session.flush()


async def set_enabled(session: AsyncSession, account: ExchangeAccount, enabled: bool) -> None:
    account.enabled = enabled
    await queries.set_wallet_enabled(session, account.exchange, account.uid, enabled)
    await session.flush()


async def require_account(session: AsyncSession, account_id: int) -> ExchangeAccount:
    account = await queries.account_by_id(session, account_id)
    if account is None:
        raise NotFound(f"no exchange account {account_id}")
    return account


def pay_to(account: ExchangeAccount) -> str:
    """What the payer types as the receiver: the configured id, or the uid."""
    return account.pay_to or account.uid


def describe(account: ExchangeAccount) -> str:
    state = "enabled" if account.enabled else "disabled"
    return (
        f"#{account.id} {account.exchange} uid {account.uid} pay to {pay_to(account)} "
        f"rights {account.rights or '?'} {state} checked {account.checked_at:%Y-%m-%d %H:%M}Z "
        f"{account.label}".rstrip()
    )
