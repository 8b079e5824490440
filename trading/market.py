"""Prices and public market data: the reference price a bilateral price is checked against, each
product's daily close and price band, its depth and daily candles, and the tape (the trades
everyone sees without the parties' names)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from trading.errors import PriceOutOfBand
from trading.models import BookOrder, OrderSide, OrderStatus, Product, Trade, TradeLine


def reference_price(session: Session, methodology_id: str) -> int | None:
    """The volume-weighted average price (fen per tonne) of the last day with trades in credits of
    this methodology; None before any trade."""
    last_day = session.execute(
        select(func.max(col(Trade.executed_at))).join(TradeLine, col(TradeLine.trade_id) == col(Trade.id))
        .where(col(TradeLine.methodology_id) == methodology_id)).scalar_one()
    if last_day is None:
        return None
    start = datetime.combine(last_day.date(), datetime.min.time(), tzinfo=last_day.tzinfo)
    value, quantity = session.execute(
        select(func.sum(col(Trade.price_fen_per_t) * col(TradeLine.quantity_kg)), func.sum(col(TradeLine.quantity_kg)))
        .join(TradeLine, col(TradeLine.trade_id) == col(Trade.id))
        .where(col(TradeLine.methodology_id) == methodology_id, col(Trade.executed_at) >= start)).one()
    return int(value) // int(quantity) if quantity else None


def check_band(session: Session, methodologies: set[str], price_fen_per_t: int, band_pct: int) -> None:
    """Refuse a price more than `band_pct` per cent away from each methodology's reference price."""
    for methodology_id in sorted(methodologies):
        reference = reference_price(session, methodology_id)
        if reference is None:
            continue
        low, high = reference * (100 - band_pct) // 100, -(-reference * (100 + band_pct) // 100)
        if not low <= price_fen_per_t <= high:
            raise PriceOutOfBand(
                f"{price_fen_per_t:,} fen per tonne is outside the ±{band_pct} % band around the reference price "
                f"of {methodology_id} credits ({reference:,} fen per tonne): {low:,} to {high:,}")


@dataclass(frozen=True)
class TapeFilter:
    mode: str | None = None
    methodology_id: str | None = None
    region: str | None = None
    vintage: int | None = None
    since: date | None = None
    product: str | None = None


def tape_query(filters: TapeFilter) -> Any:
    """Every trade line, newest first, without the parties: the public tape."""
    query = (select(TradeLine, Trade, col(Product.code)).join(Trade, col(Trade.id) == col(TradeLine.trade_id))
             .outerjoin(Product, col(Product.id) == col(Trade.product_id)))
    if filters.product is not None:
        query = query.where(col(Product.code) == filters.product)
    if filters.mode is not None:
        query = query.where(col(Trade.mode) == filters.mode)
    if filters.methodology_id is not None:
        query = query.where(col(TradeLine.methodology_id) == filters.methodology_id)
    if filters.region is not None:
        query = query.where(col(TradeLine.region) == filters.region)
    if filters.vintage is not None:
        query = query.where(col(TradeLine.vintage) == filters.vintage)
    if filters.since is not None:
        query = query.where(col(Trade.executed_at) >= datetime.combine(filters.since, datetime.min.time()))
    return query.order_by(col(TradeLine.id).desc())


# --- products: close, band, depth, candles --------------------------------------------------------


def _vwap(session: Session, *where: Any) -> int | None:
    value, quantity = session.execute(
        select(func.sum(col(Trade.price_fen_per_t) * col(Trade.quantity_kg)), func.sum(col(Trade.quantity_kg)))
        .where(*where)).one()
    return int(value) // int(quantity) if quantity else None


def previous_close(session: Session, product: Product, day: date) -> int | None:
    """The close of the last trading day before `day` with book trades: that day's volume-weighted
    average price, fen per tonne."""
    last_day = session.execute(select(func.max(col(Trade.trading_day))).where(
        col(Trade.product_id) == product.id, col(Trade.mode) == "book", col(Trade.trading_day) < day)).scalar_one()
    if last_day is None:
        return None
    return _vwap(session, col(Trade.product_id) == product.id, col(Trade.mode) == "book",
                 col(Trade.trading_day) == last_day)


def vwap(session: Session, product: Product, first_day: date, last_day: date) -> int | None:
    """The volume-weighted average price of the product's book trades over a range of trading days."""
    return _vwap(session, col(Trade.product_id) == product.id, col(Trade.mode) == "book",
                 col(Trade.trading_day) >= first_day, col(Trade.trading_day) <= last_day)


@dataclass(frozen=True)
class Band:
    reference_fen: int  # the previous close, or the product's reference price before its first close
    low_fen: int
    high_fen: int


def price_band(session: Session, product: Product, day: date) -> Band | None:
    """Today's limits: ±band % of the previous close, rounded inwards to the tick; None while the
    product has neither a close nor a reference price."""
    reference = previous_close(session, product, day) or product.reference_price_fen
    if reference is None:
        return None
    tick = product.tick_fen
    low = -(-reference * (100 - product.band_pct) // (100 * tick)) * tick
    high = reference * (100 + product.band_pct) // (100 * tick) * tick
    return Band(reference, max(low, tick), high)


@dataclass(frozen=True)
class Level:
    price_fen_per_t: int
    quantity_kg: int
    orders: int


def depth(session: Session, product: Product, levels: int = 5) -> dict[str, list[Level]]:
    """The best `levels` prices on each side of the book with the quantity resting at each."""
    remaining = func.sum(col(BookOrder.quantity_kg) - col(BookOrder.filled_kg))
    sides: dict[str, list[Level]] = {}
    for side, best_first in ((OrderSide.BUY, col(BookOrder.price_fen_per_t).desc()),
                             (OrderSide.SELL, col(BookOrder.price_fen_per_t).asc())):
        rows = session.execute(
            select(col(BookOrder.price_fen_per_t), remaining, func.count())
            .where(col(BookOrder.product_id) == product.id, col(BookOrder.side) == side.value,
                   col(BookOrder.status) == OrderStatus.OPEN.value)
            .group_by(col(BookOrder.price_fen_per_t)).order_by(best_first).limit(levels)).all()
        sides["bids" if side == OrderSide.BUY else "asks"] = [Level(int(p), int(q), int(n)) for p, q, n in rows]
    return sides


@dataclass(frozen=True)
class Candle:
    day: date
    open_fen: int  # the first trade's price
    high_fen: int
    low_fen: int
    close_fen: int  # the day's volume-weighted average price
    volume_kg: int
    value_fen: int
    trades: int


def daily_candles(session: Session, product: Product, first_day: date | None = None,
                  last_day: date | None = None) -> list[Candle]:
    """One candle per trading day with book trades, oldest first."""
    where = [col(Trade.product_id) == product.id, col(Trade.mode) == "book"]
    if first_day is not None:
        where.append(col(Trade.trading_day) >= first_day)
    if last_day is not None:
        where.append(col(Trade.trading_day) <= last_day)
    rows = session.execute(
        select(col(Trade.trading_day), func.min(col(Trade.id)), func.max(col(Trade.price_fen_per_t)),
               func.min(col(Trade.price_fen_per_t)), func.sum(col(Trade.quantity_kg)),
               func.sum(col(Trade.price_fen_per_t) * col(Trade.quantity_kg)), func.sum(col(Trade.amount_fen)),
               func.count())
        .where(*where).group_by(col(Trade.trading_day)).order_by(col(Trade.trading_day))).all()
    opens = dict(session.execute(select(col(Trade.id), col(Trade.price_fen_per_t))
                                 .where(col(Trade.id).in_([row[1] for row in rows]))).all())
    return [Candle(day, int(opens[first_id]), int(high), int(low), int(weighted) // int(volume), int(volume),
                   int(value), int(count))
            for day, first_id, high, low, volume, weighted, value, count in rows]


def last_price(session: Session, product: Product) -> int | None:
    price = session.execute(select(col(Trade.price_fen_per_t)).where(
        col(Trade.product_id) == product.id, col(Trade.mode) == "book").order_by(col(Trade.id).desc()).limit(1)
    ).scalar_one_or_none()
    return int(price) if price is not None else None
