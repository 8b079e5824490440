"""Prices and the public tape: the reference price a bilateral price is checked against, and the
trades everyone sees without the parties' names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from trading.errors import PriceOutOfBand
from trading.models import Trade, TradeLine


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


def tape_query(filters: TapeFilter) -> Any:
    """Every trade line, newest first, without the parties: the public tape."""
    query = (select(TradeLine, Trade).join(Trade, col(Trade.id) == col(TradeLine.trade_id)))
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
