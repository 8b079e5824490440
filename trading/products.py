"""Standard products (baskets): the registrar lists them with their eligibility rules, lot, tick,
price band and trading sessions, and halts, resumes or closes them.

Sessions are local times in the product's time zone on ISO weekdays; the clock is the caller's
(`now`), so tests and the demo can trade at a chosen time (`CIR_MARKET_CLOCK`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlmodel import Session, col

from methodologies.registry import list_methodologies
from registry import credits
from registry.errors import InvalidRequest
from registry.models import Party, Role
from registry.parties import require_role
from trading.errors import MarketClosed, ProductExists, ProductHalted, ProductNotOpen, UnknownProduct
from trading.models import CreditKind, Product, ProductState

CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,23}$")
SESSION = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")


@dataclass(frozen=True)
class ProductSpec:
    code: str
    name: str
    methodology_ids: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    vintage_from: int | None = None
    vintage_to: int | None = None
    credit_kind: CreditKind = CreditKind.ANY
    lot_kg: int = 1000
    tick_fen: int = 1
    band_pct: int = 10
    reference_price_fen: int | None = None
    sessions: str = "09:30-11:30,13:00-15:00"
    weekdays: str = "12345"
    timezone: str = "Asia/Shanghai"


def parse_sessions(sessions: str) -> list[tuple[int, int]]:
    """"09:30-11:30,13:00-15:00" → minutes of the day [(570, 690), (780, 900)], ordered, disjoint."""
    spans = []
    for part in sessions.split(","):
        found = SESSION.match(part.strip())
        if not found:
            raise InvalidRequest(f"a session is HH:MM-HH:MM, not {part.strip()!r}")
        h1, m1, h2, m2 = map(int, found.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if not (h1 < 24 and m1 < 60 and m2 < 60 and start < end <= 24 * 60):
            raise InvalidRequest(f"session {part.strip()} does not run forward within one day")
        spans.append((start, end))
    spans.sort()
    if any(a_end > b_start for (_, a_end), (b_start, _) in pairwise(spans)):
        raise InvalidRequest("trading sessions overlap")
    return spans


def _check_spec(spec: ProductSpec) -> None:
    if not CODE.match(spec.code):
        raise InvalidRequest("a product code is 2–24 capital letters, digits and hyphens, e.g. SZ-PV-2025")
    if not spec.name.strip():
        raise InvalidRequest("a product has a name")
    known = {m.id for m in list_methodologies()}
    unknown = sorted(set(spec.methodology_ids) - known)
    if unknown:
        raise InvalidRequest(f"unknown methodologies: {', '.join(unknown)}")
    if spec.vintage_from is not None and spec.vintage_to is not None and spec.vintage_from > spec.vintage_to:
        raise InvalidRequest("the vintage range ends before it starts")
    if spec.lot_kg < 1 or spec.tick_fen < 1:
        raise InvalidRequest("lot and tick are positive whole numbers (kg, fen per tonne)")
    if not 1 <= spec.band_pct <= 100:
        raise InvalidRequest("the price band is 1 to 100 per cent")
    if spec.reference_price_fen is not None and (spec.reference_price_fen < 1
                                                 or spec.reference_price_fen % spec.tick_fen):
        raise InvalidRequest("the reference price is a positive multiple of the tick")
    _check_schedule(spec.sessions, spec.weekdays, spec.timezone)
    if not basket_methodologies(spec.methodology_ids, CreditKind(spec.credit_kind)):
        raise InvalidRequest(f"no methodology gives {spec.credit_kind} among {', '.join(spec.methodology_ids)}")


def _check_schedule(sessions: str, weekdays: str, timezone: str) -> None:
    parse_sessions(sessions)
    if not weekdays or not set(weekdays) <= set("1234567") or len(set(weekdays)) != len(weekdays):
        raise InvalidRequest("weekdays are ISO day numbers, Monday 1 to Sunday 7, e.g. 12345")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidRequest(f"unknown time zone {timezone}") from error


def list_product(session: Session, registrar: Party, spec: ProductSpec) -> Product:
    require_role(registrar, Role.REGISTRAR)
    _check_spec(spec)
    if session.execute(select(col(Product.id)).where(col(Product.code) == spec.code)).first():
        raise ProductExists(f"product {spec.code} is already listed")
    product = Product(code=spec.code, name=spec.name.strip(), methodology_ids=sorted(spec.methodology_ids),
                      regions=sorted(spec.regions), vintage_from=spec.vintage_from, vintage_to=spec.vintage_to,
                      credit_kind=CreditKind(spec.credit_kind).value, lot_kg=spec.lot_kg, tick_fen=spec.tick_fen,
                      band_pct=spec.band_pct, reference_price_fen=spec.reference_price_fen, sessions=spec.sessions,
                      weekdays=spec.weekdays, timezone=spec.timezone)
    session.add(product)
    session.flush()
    return product


def products_query() -> Any:
    return select(Product).order_by(col(Product.code))


def get_product(session: Session, code: str) -> Product:
    product = session.execute(select(Product).where(col(Product.code) == code)).scalar_one_or_none()
    if product is None:
        raise UnknownProduct(f"no product {code}")
    return product


def set_schedule(session: Session, registrar: Party, product: Product, sessions: str, weekdays: str) -> Product:
    """The registrar changes a product's trading sessions (a holiday, a shortened day)."""
    require_role(registrar, Role.REGISTRAR)
    _check_schedule(sessions, weekdays, product.timezone)
    product.sessions, product.weekdays = sessions, weekdays
    session.flush()
    return product


def basket_methodologies(methodology_ids: list[str], kind: CreditKind) -> tuple[str, ...]:
    """The methodologies whose credits a product admits: those listed (or all), narrowed to
    reductions or removals."""
    plugins = [m for m in list_methodologies() if not methodology_ids or m.id in methodology_ids]
    if kind != CreditKind.ANY:
        plugins = [m for m in plugins if m.removals == (kind == CreditKind.REMOVALS)]
    return tuple(sorted({m.id for m in plugins}))


def basket_of(product: Product) -> credits.Basket:
    return credits.Basket(
        methodology_ids=basket_methodologies(product.methodology_ids, CreditKind(product.credit_kind)),
        vintage_from=product.vintage_from, vintage_to=product.vintage_to,
        regions=tuple(product.regions) or None)


# --- the trading calendar -----------------------------------------------------------------------


def local_time(product: Product, now: datetime) -> datetime:
    return (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(ZoneInfo(product.timezone))


def trading_day(product: Product, now: datetime) -> date:
    return local_time(product, now).date()


def in_session(product: Product, now: datetime) -> bool:
    local = local_time(product, now)
    minute = local.hour * 60 + local.minute
    return str(local.isoweekday()) in product.weekdays and any(
        start <= minute < end for start, end in parse_sessions(product.sessions))


def day_is_over(product: Product, now: datetime) -> bool:
    """The day's last session has ended (or the day has none): good-for-the-day orders expire."""
    local = local_time(product, now)
    last_end = parse_sessions(product.sessions)[-1][1]
    return str(local.isoweekday()) not in product.weekdays or local.hour * 60 + local.minute >= last_end


def next_open(product: Product, now: datetime) -> datetime | None:
    """When the next session starts, local time; None if the product never trades."""
    local = local_time(product, now)
    for days in range(8):
        day = local.date() + timedelta(days=days)
        if str(day.isoweekday()) not in product.weekdays:
            continue
        for start, _ in parse_sessions(product.sessions):
            opens = datetime.combine(day, time(start // 60, start % 60), tzinfo=local.tzinfo)
            if opens > local:
                return opens
    return None


def require_trading(product: Product, now: datetime) -> None:
    """New orders and amendments need an open product in one of its sessions."""
    if product.state == ProductState.HALTED:
        raise ProductHalted(f"{product.code} is halted{': ' + product.state_reason if product.state_reason else ''}; "
                            "only cancellations are accepted")
    if product.state == ProductState.CLOSED:
        raise ProductNotOpen(f"{product.code} is closed")
    if not in_session(product, now):
        opens = next_open(product, now)
        raise MarketClosed(f"{product.code} trades {product.sessions} ({product.timezone}) on weekdays "
                           f"{product.weekdays}; the next session opens "
                           + (f"{opens:%a %Y-%m-%d %H:%M}" if opens else "never"))
