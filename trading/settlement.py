"""Delivery versus payment: a trade's credits and cash move in one database transaction, T+0.

The credit leg delivers the units locked for the trade (a `deliver` ledger entry naming it); the
cash leg is one balanced journal entry: buyer → seller, and each side's fee → the market's fee
account. Both legs run in the caller's transaction: if either fails, neither happened.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlmodel import Session, col

from registry import credits
from registry.ids import new_public_id
from registry.models import Issuance, Party, Project, pk, utcnow
from trading import cash
from trading.models import Trade, TradeLine


@dataclass(frozen=True)
class Fees:
    buyer_bp: int
    seller_bp: int

    def buyer_fee(self, amount_fen: int) -> int:
        return amount_fen * self.buyer_bp // 10_000

    def seller_fee(self, amount_fen: int) -> int:
        return amount_fen * self.seller_bp // 10_000


@dataclass(frozen=True)
class Venue:
    """Where a book or auction trade happened: the product, its trading day, and what met there (the
    buy order or bid, the sell order or auction lot)."""

    product_id: int | None
    trading_day: date
    buy_ref: str
    sell_ref: str
    at: datetime  # the market clock's time of the match


def amount_of(quantity_kg: int, price_fen_per_t: int) -> int:
    """What the buyer pays, in fen: kg × fen per tonne ÷ 1,000, rounded down (a fraction of a fen is
    never charged)."""
    return quantity_kg * price_fen_per_t // 1000


def settle(session: Session, *, mode: str, seller: Party, seller_account: str, buyer: Party, buyer_account: str,
           lock_ref: str, price_fen_per_t: int, fees: Fees, offer_id: int | None = None,
           quantity_kg: int | None = None, buyer_hold: str | None = None, hold_kept_fen: int = 0,
           venue: Venue | None = None, proceeds_to: Party | None = None) -> Trade:
    """Deliver the units locked under `lock_ref` (all, or the first `quantity_kg`) to the buyer and pay
    the seller (or `proceeds_to`: a pledgee selling pledged credits), fees to the market: from the
    buyer's free cash, or from the cash held for `buyer_hold` (its order or bid), of which
    `hold_kept_fen` stays held for what the order still needs and the rest is freed in the same entry."""
    trade_id = new_public_id("trd")
    movement = credits.deliver_locked(session, seller_account, lock_ref, buyer_account, {"trade": trade_id},
                                      quantity_kg)
    amount = amount_of(movement.quantity_kg, price_fen_per_t)
    buyer_fee, seller_fee = fees.buyer_fee(amount), fees.seller_fee(amount)
    buyer_cash, seller_cash, fee_account = cash.settlement_accounts(session, buyer, proceeds_to or seller)
    if buyer_hold is None:
        paid = [cash.Line(pk(buyer_cash), cash.AVAILABLE, -(amount + buyer_fee))]
    else:
        paid = cash.spend_from_hold(session, buyer_hold, amount + buyer_fee, hold_kept_fen)
    cash_entry = cash.post(session, "settlement", trade_id, [
        *paid,
        cash.Line(pk(seller_cash), cash.AVAILABLE, amount - seller_fee),
        cash.Line(pk(fee_account), cash.AVAILABLE, buyer_fee + seller_fee),
    ])
    lines = lines_of(session, movement)
    trade = Trade(public_id=trade_id, mode=mode, offer_id=offer_id, seller_party_id=pk(seller),
                  buyer_party_id=pk(buyer), quantity_kg=movement.quantity_kg, price_fen_per_t=price_fen_per_t,
                  amount_fen=amount, buyer_fee_fen=buyer_fee, seller_fee_fen=seller_fee,
                  cross_regional=buyer.region is not None and any(region != buyer.region for _, _, region in lines),
                  ledger_entry_id=movement.ledger_entry_id, cash_entry_id=pk(cash_entry),
                  product_id=venue.product_id if venue else None, trading_day=venue.trading_day if venue else None,
                  buy_ref=venue.buy_ref if venue else None, sell_ref=venue.sell_ref if venue else None,
                  executed_at=venue.at if venue else utcnow())
    session.add(trade)
    session.flush()
    session.add_all(TradeLine(trade_id=pk(trade), methodology_id=methodology, vintage=vintage, region=region,
                              quantity_kg=kg) for (methodology, vintage, region), kg in lines.items())
    session.flush()
    return trade


def lines_of(session: Session, movement: credits.Movement) -> dict[tuple[str, int, str], int]:
    """The delivered kg by methodology, vintage and origin region."""
    facts = {row.id: row for row in session.execute(
        select(col(Issuance.id), col(Issuance.vintage), col(Project.methodology_id), col(Project.region))
        .join(Project, col(Project.id) == col(Issuance.project_id))
        .where(col(Issuance.id).in_({r.issuance_id for r in movement.ranges})))}
    lines: dict[tuple[str, int, str], int] = defaultdict(int)
    for unit_range in movement.ranges:
        fact = facts[unit_range.issuance_id]
        lines[fact.methodology_id, fact.vintage, fact.region] += unit_range.quantity_kg
    return lines


def methodologies_of(session: Session, movement: credits.Movement) -> set[str]:
    return {methodology for methodology, _, _ in lines_of(session, movement)}
