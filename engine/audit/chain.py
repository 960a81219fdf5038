"""Chain reconciliation, pure over data: what the chain shows (fetched by
the caller straight from the node, not from the watchers' tables) against
the `transfers` and `orders` rows of the same block range."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from engine.addresses import normalize_tx_hash
from engine.audit.findings import Finding, Kind
from engine.chain import ChainTransfer, TxLookup
from engine.errors import BadInput
from engine.models import Order, Transfer, TransferDecision
from engine.money import format_usdt
from engine.settlement.ingest import recorded_transfer_of

Key = tuple[str, int]  # (tx hash, log index)

# How far from an order's window an unmatched transfer may be and still be
# shown as "most likely for" that order.
LIKELY_HORIZON = timedelta(days=1)


@dataclass
class ChainEvidence:
    """Everything one chain's reconciliation compares.

    `orders` holds every order the comparison may need (paid in the range,
    referenced by a transfer row, claiming a hash, candidates for unmatched
    transfers); `paid_ids` are the paid orders whose transfer must be on the
    chain in [start_block, end_block]; `lookups` answers, by tx hash, for
    paid orders whose hash is not among `on_chain`.
    """

    chain: str
    start_block: int
    end_block: int
    on_chain: list[ChainTransfer]
    recorded: list[Transfer]
    orders: dict[int, Order]
    paid_ids: set[int]
    late_window: timedelta
    lookups: dict[str, TxLookup] = field(default_factory=dict)
    # Operators' decisions on recorded transfers, by transfer id.
    decisions: dict[int, TransferDecision] = field(default_factory=dict)


def tx_key(tx_hash: str | None) -> str | None:
    """The comparable form of a stored hash, or None when it is not one."""
    if not tx_hash:
        return None
    try:
        return normalize_tx_hash(tx_hash)
    except BadInput:
        return tx_hash.strip().lower()


def hashes_to_look_up(ev: ChainEvidence) -> set[str]:
    """Hashes of paid orders that the range fetch did not show: the caller
    asks the node for each (`transaction(hash)`) and fills `ev.lookups`."""
    seen = {t.tx_hash for t in ev.on_chain}
    wanted = set()
    for order_id in ev.paid_ids:
        key = tx_key(ev.orders[order_id].tx_hash)
        if key is not None and key not in seen and len(key) == 64:
            wanted.add(key)
    return wanted


def _in_window(order: Order, when: datetime, late: timedelta) -> bool:
    return order.created_at <= when <= order.expires_at + late


def order_differences(order: Order, t: ChainTransfer, late: timedelta) -> list[str]:
    """How a paid order disagrees with the transfer that settled it."""
    diffs = []
    if order.usdt_units != t.amount_units:
        asked = format_usdt(order.usdt_units) if order.usdt_units is not None else "nothing"
        diffs.append(f"the order asks {asked} USDT, the chain shows {format_usdt(t.amount_units)}")
    if order.address != t.to_address:
        diffs.append(f"the order's address is {order.address}, the transfer went to {t.to_address}")
    if tx_key(order.tx_hash) != t.tx_hash:
        diffs.append(f"the order records hash {order.tx_hash}, the transfer is {t.tx_hash}")
    if order.block_number is not None and order.block_number != t.block_number:
        diffs.append(f"the order records block {order.block_number}, the chain has {t.block_number}")
    if not _in_window(order, t.block_time, late):
        diffs.append(f"block time {t.block_time:%Y-%m-%d %H:%M:%S}Z is outside the order's payment window")
    return diffs


def transfer_differences(row: Transfer, t: ChainTransfer) -> list[str]:
    """How a transfers row disagrees with the chain."""
    diffs = []
    if row.amount_units != t.amount_units:
        diffs.append(
            f"amount {format_usdt(row.amount_units)} recorded, {format_usdt(t.amount_units)} on chain"
        )
    if row.to_address != t.to_address:
        diffs.append(f"recipient {row.to_address} recorded, {t.to_address} on chain")
    if row.from_address != t.from_address:
        diffs.append(f"sender {row.from_address} recorded, {t.from_address} on chain")
    if row.block_number != t.block_number:
        diffs.append(f"block {row.block_number} recorded, {t.block_number} on chain")
    if row.token_contract.lower() != t.token_contract.lower():
        diffs.append(f"token {row.token_contract} recorded, {t.token_contract} on chain")
    return diffs


def likely_order(
    t: ChainTransfer | Transfer, reason: str | None, candidates: Iterable[Order], late: timedelta
) -> Order | None:
    """The order an unmatched transfer most likely belonged to: same chain
    and address; for a late payment the exact amount nearest in time, for
    an under/over payment the closest amount among orders whose window
    holds the block time."""
    best: tuple[tuple[int, int, float], Order] | None = None
    for order in candidates:
        if order.chain != t.chain or order.address != t.to_address or order.usdt_units is None:
            continue
        start, end = order.created_at, order.expires_at + late
        distance = max((start - t.block_time).total_seconds(), (t.block_time - end).total_seconds(), 0.0)
        if distance > LIKELY_HORIZON.total_seconds():
            continue
        diff = abs(order.usdt_units - t.amount_units)
        outside = 0 if distance == 0 or "late" in (reason or "") else 1
        key = (outside, diff, distance)
        if best is None or key < best[0]:
            best = (key, order)
    return best[1] if best else None


def _base(t: ChainTransfer, order: Order | None) -> dict[str, Any]:
    return {
        "source": t.chain,
        "tx_hash": t.tx_hash,
        "log_index": t.log_index,
        "block_number": t.block_number,
        "block_time": t.block_time,
        "address": t.to_address,
        "chain_units": t.amount_units,
        "order_id": order.id if order else None,
        "merchant_order_no": order.merchant_order_no if order else None,
        "order_status": order.status if order else None,
        "expected_units": order.usdt_units if order else None,
    }


class _Comparison:
    """One pass over one chain's evidence; `findings` is the result."""

    def __init__(self, ev: ChainEvidence) -> None:
        self.ev = ev
        self.findings: list[Finding] = []
        self.touched: set[int] = set()  # orders already reported on
        self.on_chain: dict[Key, ChainTransfer] = {(t.tx_hash, t.log_index): t for t in ev.on_chain}
        self.recorded: dict[Key, Transfer] = {(r.tx_hash, r.log_index): r for r in ev.recorded}
        self.by_hash: dict[str, list[Order]] = defaultdict(list)
        for order in ev.orders.values():
            key = tx_key(order.tx_hash)
            if key is not None:
                self.by_hash[key].append(order)
        self.reused = {h for h, orders in self.by_hash.items() if len(orders) > 1}
        self.matched_rows: dict[int, list[Transfer]] = defaultdict(list)
        for row in ev.recorded:
            if row.status == "matched" and row.order_id is not None:
                self.matched_rows[row.order_id].append(row)

    def add(self, kind: Kind, message: str, t: ChainTransfer, order: Order | None, **extra: Any) -> None:
        """A finding about a transfer; its order counts as reported on."""
        self.findings.append(Finding(kind=kind, message=message, **(_base(t, order) | extra)))
        if order is not None:
            self.touched.add(order.id)

    def run(self) -> list[Finding]:
        for key, t in sorted(self.on_chain.items(), key=lambda kv: (kv[1].block_number, kv[0])):
            row = self.recorded.get(key)
            if row is None:
                self.unknown_transfer(t)
            else:
                self.known_transfer(t, row)
        for key, row in self.recorded.items():
            if key not in self.on_chain:
                self.phantom_row(row)
        for order_id in sorted(self.ev.paid_ids - self.touched):
            self.unaccounted_order(self.ev.orders[order_id])
        self.reused_hashes()
        return self.findings

    def unknown_transfer(self, t: ChainTransfer) -> None:
        claimants = [o for o in self.by_hash.get(t.tx_hash, []) if o.address == t.to_address]
        order = claimants[0] if claimants else None
        why = (
            f"order {order.id} is paid with this hash but the transfers table has no row for it"
            if order
            else "no transfers row and no order know this transfer; the watcher missed it"
        )
        self.add(Kind.TRANSFER_NOT_IN_DB, f"transfer on chain unknown to the database: {why}", t, order)

    def known_transfer(self, t: ChainTransfer, row: Transfer) -> None:
        order = self.ev.orders.get(row.order_id) if row.order_id is not None else None
        diffs = transfer_differences(row, t)
        if diffs:
            extra = {"db_units": row.amount_units, "reason": row.reason}
            self.add(Kind.TRANSFER_DIFFERS, "; ".join(diffs), t, order, **extra)
        elif row.id in self.ev.decisions:
            self.decided(t, row, self.ev.decisions[row.id])
        elif row.status == "matched":
            self.settled_transfer(t, row, order)
        else:
            self.unmatched(t, row)

    def settled_transfer(self, t: ChainTransfer, row: Transfer, order: Order | None) -> None:
        extra: dict[str, Any] = {"db_units": row.amount_units}
        if order is None:
            msg = f"transfer settled order {row.order_id}, which does not exist"
            self.add(Kind.ORDER_DIFFERS, msg, t, None, **extra)
            return
        if order.status != "paid":
            msg = f"transfer settled order {order.id} but the order is {order.status}"
            self.add(Kind.ORDER_DIFFERS, msg, t, order, **extra)
            return
        rows = self.matched_rows[order.id]
        if len(rows) > 1 and tx_key(order.tx_hash) != t.tx_hash:
            others = ", ".join(r.tx_hash for r in rows if r is not row)
            msg = f"order {order.id} was paid twice: this transfer and {others}; refund one"
            self.add(Kind.ORDER_PAID_TWICE, msg, t, order, **extra)
            return
        diffs = order_differences(order, t, self.ev.late_window)
        if diffs:
            self.add(Kind.ORDER_DIFFERS, "; ".join(diffs), t, order, **extra)
        else:
            self.add(Kind.MATCHED, "order and transfer agree", t, order, **extra)

    def decided(self, t: ChainTransfer, row: Transfer, decision: TransferDecision) -> None:
        """An operator's decision: reported with who, when and why, and for a
        credit how the order and the transfer differ."""
        who = f"by {decision.decided_by} at {decision.decided_at:%Y-%m-%d %H:%M:%S}Z"
        was = f"recorded {decision.reason_before or 'unmatched'}"
        extra = {"db_units": row.amount_units, "reason": decision.reason_before}
        if decision.decision == "credited":
            order = self.ev.orders.get(decision.order_id) if decision.order_id is not None else None
            diffs = order_differences(order, t, self.ev.late_window) if order is not None else []
            msg = f"operator decision: credited to order {decision.order_id} {who} ({was}): {decision.note}"
            msg += "".join(f"; {d}" for d in diffs)
            self.add(Kind.OPERATOR_CREDITED, msg, t, order, **extra)
            return
        order = self.ev.orders.get(row.order_id) if row.order_id is not None else None
        msg = f"operator decision: refunded outside usdtpay {who} ({was}): {decision.note}"
        self.findings.append(Finding(kind=Kind.OPERATOR_REFUNDED, message=msg, **(_base(t, order) | extra)))

    def unmatched(self, t: ChainTransfer, row: Transfer) -> None:
        # Settlement keeps its own guess on the row; otherwise guess here.
        order = self.ev.orders.get(row.order_id) if row.order_id is not None else None
        if order is None:
            order = likely_order(t, row.reason, self.ev.orders.values(), self.ev.late_window)
        fields = _base(t, order) | {"db_units": row.amount_units, "reason": row.reason}
        # The likely order is not "reported on": if it is paid in the range
        # its own transfer is still checked.
        if order is not None and order.status == "paid" and order.usdt_units == t.amount_units:
            msg = f"order {order.id} is already paid by {order.tx_hash}; this second payment needs a refund"
            self.findings.append(Finding(kind=Kind.ORDER_PAID_TWICE, message=msg, **fields))
            return
        likely = f"; most likely for order {order.id} ({order.status})" if order else "; no likely order"
        msg = f"transfer recorded unmatched ({row.reason or 'no reason'}){likely}"
        self.findings.append(Finding(kind=Kind.UNMATCHED_TRANSFER, message=msg, **fields))

    def phantom_row(self, row: Transfer) -> None:
        order = self.ev.orders.get(row.order_id) if row.order_id is not None else None
        t = recorded_transfer_of(row)
        msg = "a transfers row that the chain does not have (forged, or dropped by a reorg)"
        self.add(Kind.TRANSFER_NOT_ON_CHAIN, msg, t, order, chain_units=None, db_units=row.amount_units)

    def unaccounted_order(self, order: Order) -> None:
        """A paid order in the range that no transfer of the range settled."""
        key = tx_key(order.tx_hash)
        fields = _order_fields(order, self.ev.chain)
        if key is None:
            self._order_finding(Kind.ORDER_NOT_ON_CHAIN, "paid order without a tx hash", fields)
            return
        same = [t for t in self.ev.on_chain if t.tx_hash == key]
        if same:
            if key in self.reused:
                return  # reported once as hash_reused
            t = next((x for x in same if x.to_address == order.address), same[0])
            row = self.recorded.get((t.tx_hash, t.log_index))
            owner = f"settled order {row.order_id}" if row and row.order_id else "is recorded unmatched"
            diffs = [f"its transfer {owner}", *order_differences(order, t, self.ev.late_window)]
            self.add(Kind.ORDER_DIFFERS, "; ".join(diffs), t, order)
            return
        self._looked_up(order, key, fields)

    def _looked_up(self, order: Order, key: str, fields: dict[str, Any]) -> None:
        lookup = self.ev.lookups.get(key)
        if lookup is None or not lookup.found:
            said = "the node does not know the hash" if lookup else "the hash is not in the block range"
            self._order_finding(Kind.ORDER_NOT_ON_CHAIN, f"paid order, transfer not on chain: {said}", fields)
            return
        ours = [t for t in lookup.transfers if t.to_address == order.address]
        if not ours:
            msg = f"paid order, but tx {key} has no transfer to {order.address}"
            self._order_finding(Kind.ORDER_NOT_ON_CHAIN, msg, fields)
            return
        t = ours[0]
        diffs = order_differences(order, t, self.ev.late_window) or ["the transfer lies outside the range"]
        state = [] if lookup.success and lookup.final else ["the transaction failed or is not final"]
        self.add(Kind.ORDER_DIFFERS, "; ".join(state + diffs), t, order)

    def _order_finding(self, kind: Kind, message: str, fields: dict[str, Any]) -> None:
        self.findings.append(Finding(kind=kind, message=message, **fields))
        self.touched.add(fields["order_id"])

    def reused_hashes(self) -> None:
        for key in sorted(self.reused):
            orders = sorted(self.by_hash[key], key=lambda o: o.id)
            ids = tuple(o.id for o in orders)
            fields = _order_fields(orders[0], self.ev.chain) | {"related_order_ids": ids, "tx_hash": key}
            msg = f"tx hash used by {len(ids)} orders: {', '.join(map(str, ids))}"
            self.findings.append(Finding(kind=Kind.HASH_REUSED, message=msg, **fields))


def _order_fields(order: Order, chain: str) -> dict[str, Any]:
    return {
        "source": order.chain or chain,
        "order_id": order.id,
        "merchant_order_no": order.merchant_order_no,
        "order_status": order.status,
        "tx_hash": tx_key(order.tx_hash),
        "block_number": order.block_number,
        "block_time": order.paid_at,
        "address": order.address,
        "expected_units": order.usdt_units,
        "db_units": order.paid_units,
    }


def reconcile_chain(ev: ChainEvidence) -> list[Finding]:
    """Every transfer on the chain in the range, every transfers row of the
    range and every paid order of the range, each as one finding."""
    return _Comparison(ev).run()
