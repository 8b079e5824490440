"""An order book to test against: a product of Suzhou PV credits, three traders who each hold
credits and cash, and a clock set inside Monday morning's session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import col

from registry import credits
from registry.accounts import open_account
from registry.credits import OldestFirstSelection
from registry.db import Database
from registry.models import Party, PartyKind, Role
from registry.parties import create_party
from tests.trading.trading_world import Market, make_market
from trading import book, cash, products, settlement
from trading.models import BookOrder, OrderSide, TimeInForce

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2026, 12, 7, 10, 0, tzinfo=SHANGHAI)  # in the morning session
FEES = settlement.Fees(buyer_bp=30, seller_bp=20)
CODE = "SZ-PV-2025"


@dataclass
class Trader:
    party: Party
    account: str
    cash: str


@dataclass
class Book:
    market: Market
    traders: dict[str, Trader]


def make_book(db: Database, credits_each_kg: int = 20_000, cash_each_fen: int = 5_000_000,
              spec: products.ProductSpec | None = None) -> Book:
    """Traders a, b and c, each with `credits_each_kg` of 2025 Suzhou PV credits and cash; the product
    has a reference price of 50 yuan a tonne (5,000 fen), so today's band is 4,500–5,500."""
    market = make_market(db, owner_kg=3 * credits_each_kg, factory_fen=0)
    world = market.base
    traders = {}
    with db.write() as s:
        products.list_product(s, world.registrar, spec or products.ProductSpec(
            CODE, "Suzhou household PV 2025", methodology_ids=["CIR-PV-DG"], regions=["CN-JS"], vintage_from=2025,
            vintage_to=2025, tick_fen=10, reference_price_fen=5_000))
        for name in "abc":
            party = create_party(s, world.registrar, f"Trader {name.upper()}", PartyKind.ORGANISATION,
                                 [Role.PROJECT_OWNER, Role.BUYER])
            account = open_account(s, party, "Trading").public_id
            credits.transfer_credits(s, world.owner, world.owner_account, account, credits_each_kg,
                                     OldestFirstSelection())
            cash_account = cash.open_cash_account(s, party).public_id
            cash.confirm_deposit(s, market.bank, cash_account, cash_each_fen, f"BOS-{cash_account}")
            traders[name] = Trader(party, account, cash_account)
    return Book(market, traders)


def place(db: Database, bk: Book, who: str, side: str, quantity_kg: int, price: int | None,
          tif: TimeInForce = TimeInForce.GTC, now: datetime = MONDAY_10, code: str = CODE) -> book.Placed:
    trader = bk.traders[who]
    with db.write() as s:
        return book.place_order(s, trader.party, code, book.OrderTerms(
            OrderSide(side), trader.account, quantity_kg, price, tif), FEES, now)


def order_state(db: Database, public_id: str) -> tuple[str, int]:
    with db.read() as s:
        order = book.get_order(s, public_id)
        return order.status, order.filled_kg


def open_orders(db: Database) -> list[BookOrder]:
    with db.read() as s:
        return list(s.execute(select(BookOrder).where(col(BookOrder.status) == "open")).scalars())
