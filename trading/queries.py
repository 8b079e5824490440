"""Read models of trading: what the API and the pages show."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from registry.ledger.models import LedgerEntry
from registry.models import Account, Party
from trading import auctions, market, products, schemas
from trading.models import (
    Auction,
    AuctionBid,
    BookOrder,
    CashAccount,
    CashEntry,
    CashLine,
    Offer,
    Pledge,
    Product,
    Trade,
    Withdrawal,
)
from trading.settlement import amount_of


def _public_id(session: Session, model: Any, row_id: int | None) -> str:
    found = session.get(model, row_id) if row_id is not None else None
    return str(found.public_id) if found is not None else ""


def cash_account_out(session: Session, account: CashAccount) -> schemas.CashAccountOut:
    return schemas.CashAccountOut(id=account.public_id, party=_public_id(session, Party, account.party_id) or None,
                                  kind=account.kind, available_fen=account.available_fen, held_fen=account.held_fen,
                                  status=account.status)


def statement(session: Session, account: CashAccount, limit: int = 500) -> list[schemas.CashLineOut]:
    rows = session.execute(select(CashLine, CashEntry).join(CashEntry, col(CashEntry.id) == col(CashLine.entry_id))
                           .where(col(CashLine.account_id) == account.id).order_by(col(CashLine.id).desc())
                           .limit(limit)).all()
    return [schemas.CashLineOut(entry=entry.public_id, kind=entry.kind, reference=entry.reference,
                                bank_reference=entry.bank_reference, bucket=line.bucket, amount_fen=line.amount_fen,
                                at=entry.created_at) for line, entry in rows]


def cash_entry_out(entry: CashEntry) -> schemas.CashEntryOut:
    return schemas.CashEntryOut(id=entry.public_id, kind=entry.kind, reference=entry.reference,
                                bank_reference=entry.bank_reference, created_at=entry.created_at)


def withdrawal_out(session: Session, withdrawal: Withdrawal) -> schemas.WithdrawalOut:
    return schemas.WithdrawalOut(id=withdrawal.public_id, account=_public_id(session, CashAccount,
                                                                               withdrawal.account_id),
                                 amount_fen=withdrawal.amount_fen, status=withdrawal.status,
                                 bank_reference=withdrawal.bank_reference, reason=withdrawal.reason,
                                 requested_at=withdrawal.requested_at, decided_at=withdrawal.decided_at)


def offer_out(session: Session, offer: Offer) -> schemas.OfferOut:
    seller, buyer = session.get(Party, offer.seller_party_id), session.get(Party, offer.buyer_party_id)
    assert seller is not None and buyer is not None
    trade = session.execute(select(col(Trade.public_id)).where(col(Trade.offer_id) == offer.id)).scalar_one_or_none()
    return schemas.OfferOut(id=offer.public_id, seller=seller.public_id, seller_name=seller.name,
                            buyer=buyer.public_id, buyer_name=buyer.name, quantity_kg=offer.quantity_kg,
                            price_fen_per_t=offer.price_fen_per_t,
                            amount_fen=amount_of(offer.quantity_kg, offer.price_fen_per_t),
                            expires_at=offer.expires_at, status=offer.status, note=offer.note,
                            created_at=offer.created_at, trade=trade)


def _product_code(session: Session, product_id: int | None) -> str | None:
    product = session.get(Product, product_id) if product_id is not None else None
    return product.code if product is not None else None


def _delivered_units(session: Session, ledger_entry_id: int) -> list[schemas.UnitsOut]:
    entry = session.get(LedgerEntry, ledger_entry_id)
    assert entry is not None
    return [schemas.UnitsOut(**units) for units in json.loads(entry.body)["units"]]


def trade_out(session: Session, trade: Trade) -> schemas.TradeOut:
    return schemas.TradeOut(id=trade.public_id, mode=trade.mode, product=_product_code(session, trade.product_id),
                            quantity_kg=trade.quantity_kg,
                            price_fen_per_t=trade.price_fen_per_t, amount_fen=trade.amount_fen,
                            buyer_fee_fen=trade.buyer_fee_fen, seller_fee_fen=trade.seller_fee_fen,
                            cross_regional=trade.cross_regional,
                            seller=_public_id(session, Party, trade.seller_party_id),
                            buyer=_public_id(session, Party, trade.buyer_party_id),
                            ledger_entry=trade.ledger_entry_id,
                            units=_delivered_units(session, trade.ledger_entry_id), executed_at=trade.executed_at)


def tape_row_out(row: Any) -> schemas.TapeRow:
    line, trade, product_code = row[0], row[1], row[2]
    return schemas.TapeRow(id=trade.public_id, mode=trade.mode, product=product_code, quantity_kg=line.quantity_kg,
                           price_fen_per_t=trade.price_fen_per_t, methodology=line.methodology_id,
                           vintage=line.vintage, region=line.region, cross_regional=trade.cross_regional,
                           executed_at=trade.executed_at)


def pledge_out(session: Session, pledge: Pledge) -> schemas.PledgeOut:
    return schemas.PledgeOut(id=pledge.public_id, holder=_public_id(session, Party, pledge.holder_party_id),
                             account=_public_id(session, Account, pledge.account_id),
                             pledgee=_public_id(session, Party, pledge.pledgee_party_id),
                             quantity_kg=pledge.quantity_kg, loan_reference=pledge.loan_reference,
                             maturity=pledge.maturity, status=pledge.status, created_at=pledge.created_at,
                             closed_at=pledge.closed_at)


def product_out(session: Session, product: Product, now: datetime) -> schemas.ProductOut:
    band = market.price_band(session, product, products.trading_day(product, now))
    return schemas.ProductOut(
        code=product.code, name=product.name, methodology_ids=list(products.basket_of(product).methodology_ids or ()),
        regions=product.regions, vintage_from=product.vintage_from, vintage_to=product.vintage_to,
        credit_kind=product.credit_kind, lot_kg=product.lot_kg, tick_fen=product.tick_fen, band_pct=product.band_pct,
        sessions=product.sessions, weekdays=product.weekdays, timezone=product.timezone,
        state=product.state,
        state_reason=product.state_reason, in_session=products.in_session(product, now),
        next_open=products.next_open(product, now),
        band=schemas.BandOut(reference_fen=band.reference_fen, low_fen=band.low_fen, high_fen=band.high_fen)
        if band else None, last_price_fen=market.last_price(session, product))


def order_out(session: Session, order: BookOrder) -> schemas.OrderOut:
    return schemas.OrderOut(
        id=order.public_id, product=_product_code(session, order.product_id) or "", side=order.side,
        kind=order.kind,
        time_in_force=order.time_in_force, price_fen_per_t=order.price_fen_per_t, quantity_kg=order.quantity_kg,
        filled_kg=order.filled_kg, remaining_kg=order.quantity_kg - order.filled_kg if order.status == "open" else 0,
        status=order.status,
        status_reason=order.status_reason, account=_public_id(session, Account, order.account_id),
        trading_day=order.trading_day, created_at=order.created_at, updated_at=order.updated_at)


def book_out(session: Session, product: Product) -> schemas.BookOut:
    sides = market.depth(session, product)
    return schemas.BookOut(
        product=product.code, state=product.state, last_price_fen=market.last_price(session, product),
        bids=[schemas.LevelOut(**vars(level)) for level in sides["bids"]],
        asks=[schemas.LevelOut(**vars(level)) for level in sides["asks"]])


def candle_out(candle: market.Candle) -> schemas.CandleOut:
    return schemas.CandleOut(**vars(candle))


def auction_out(session: Session, auction: Auction) -> schemas.AuctionOut:
    value = session.execute(select(func.coalesce(func.sum(col(Trade.amount_fen)), 0)).where(
        col(Trade.sell_ref) == auction.public_id, col(Trade.mode) == "auction")).scalar_one()
    return schemas.AuctionOut(
        id=auction.public_id, title=auction.title, seller=_public_id(session, Party, auction.seller_party_id),
        announced_by=_public_id(session, Party, auction.announcer_party_id),
        product=_product_code(session, auction.product_id),
        pledge=_public_id(session, Pledge, auction.pledge_id) or None, quantity_kg=auction.quantity_kg,
        lot_kg=auction.lot_kg, min_bid_kg=auction.min_bid_kg, reserve_price_fen=auction.reserve_price_fen,
        tick_fen=auction.tick_fen, rule=auction.rule, opens_at=auction.opens_at,
        closes_at=auction.closes_at, status=auction.status,
        clearing_price_fen=auction.clearing_price_fen, sold_kg=auction.sold_kg, bidders=auction.bidders,
        value_fen=int(value), settled_at=auction.settled_at,
        demand_curve=[schemas.DemandPoint(price_fen_per_t=price, cumulative_kg=kg)
                      for price, kg in auctions.demand_curve(session, auction)])


def bid_out(session: Session, bid: AuctionBid) -> schemas.BidOut:
    return schemas.BidOut(id=bid.public_id, auction=_public_id(session, Auction, bid.auction_id),
                          quantity_kg=bid.quantity_kg, price_fen_per_t=bid.price_fen_per_t,
                          allocated_kg=bid.allocated_kg, status=bid.status,
                          created_at=bid.created_at)
