"""The order book on both databases: matching rules as table tests (price-time priority, partial
fills, IOC and FOK, market orders, self-trade prevention), sessions with the test clock, amendments,
halts and closure, and every refusal changing nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session, col

from registry import credits
from registry import errors as registry_errors
from registry.accounts import get_account
from registry.credits import SerialRangeSelection
from registry.db import Database
from registry.models import CreditBlock, Issuance, pk
from registry.queries import page
from tests.trading.book_world import CODE, FEES, MONDAY_10, SHANGHAI, Book, make_book, order_state, place
from tests.trading.test_trading import snapshot
from tests.world import issue
from trading import book, cash, errors, market, products
from trading.models import (
    BookOrder,
    CashEntry,
    CashHold,
    CreditKind,
    OrderSide,
    Product,
    ProductState,
    TimeInForce,
    Trade,
)

GTC, IOC, FOK, DAY = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.DAY


@pytest.fixture
def bk(db: Database) -> Book:
    return make_book(db)


@dataclass(frozen=True)
class Case:
    name: str
    # (trader, side, kg, price or None for a market order, time in force), placed in this order
    orders: list[tuple[str, str, int, int | None, TimeInForce]]
    # (buyer, seller, kg, price) in the order the trades happened
    trades: list[tuple[str, str, int, int]]
    # each order's (status, filled kg) at the end, in placing order
    final: list[tuple[str, int]]


CASES = [
    Case("price then time: the best price first, at equal prices the earlier order",
         [("a", "sell", 1000, 5000, GTC), ("b", "sell", 1000, 4900, GTC), ("a", "sell", 1000, 4900, GTC),
          ("c", "buy", 3000, 5000, GTC)],
         [("c", "b", 1000, 4900), ("c", "a", 1000, 4900), ("c", "a", 1000, 5000)],
         [("filled", 1000)] * 3 + [("filled", 3000)]),
    Case("bids are taken highest first, at the resting bid's price",
         [("c", "buy", 1000, 5100, GTC), ("b", "buy", 1000, 5200, GTC), ("a", "sell", 2000, 5000, GTC)],
         [("b", "a", 1000, 5200), ("c", "a", 1000, 5100)],
         [("filled", 1000), ("filled", 1000), ("filled", 2000)]),
    Case("a partial fill leaves the rest resting",
         [("a", "sell", 3000, 5000, GTC), ("c", "buy", 1000, 5000, GTC)],
         [("c", "a", 1000, 5000)],
         [("open", 1000), ("filled", 1000)]),
    Case("orders that do not cross both rest",
         [("a", "sell", 1000, 5100, GTC), ("c", "buy", 1000, 5000, DAY)],
         [],
         [("open", 0), ("open", 0)]),
    Case("immediate or cancel: what fills at once, the rest cancelled",
         [("a", "sell", 1000, 5000, GTC), ("c", "buy", 2000, 5000, IOC)],
         [("c", "a", 1000, 5000)],
         [("filled", 1000), ("cancelled", 1000)]),
    Case("fill or kill that cannot fill entirely does nothing",
         [("a", "sell", 1000, 5000, GTC), ("c", "buy", 2000, 5000, FOK)],
         [],
         [("open", 0), ("cancelled", 0)]),
    Case("fill or kill across two sellers",
         [("a", "sell", 1000, 5000, GTC), ("b", "sell", 1000, 5050, GTC), ("c", "buy", 2000, 5050, FOK)],
         [("c", "a", 1000, 5000), ("c", "b", 1000, 5050)],
         [("filled", 1000), ("filled", 1000), ("filled", 2000)]),
    Case("a market buy takes the asks up to the band's top (5,500)",
         [("a", "sell", 1000, 5400, GTC), ("b", "sell", 1000, 5500, GTC), ("c", "buy", 3000, None, GTC)],
         [("c", "a", 1000, 5400), ("c", "b", 1000, 5500)],
         [("filled", 1000), ("filled", 1000), ("cancelled", 2000)]),
    Case("a market sell with nothing to hit is cancelled at once",
         [("a", "sell", 1000, None, GTC)],
         [],
         [("cancelled", 0)]),
    Case("self-trade prevented: the incoming order stops at its own party's order",
         [("a", "sell", 1000, 4900, GTC), ("a", "buy", 1000, 5000, GTC)],
         [],
         [("open", 0), ("cancelled", 0)]),
    Case("self-trade prevention after a fill keeps the fill",
         [("b", "sell", 1000, 4900, GTC), ("a", "sell", 1000, 4950, GTC), ("a", "buy", 2000, 5000, GTC)],
         [("a", "b", 1000, 4900)],
         [("filled", 1000), ("open", 0), ("cancelled", 1000)]),
    Case("fill or kill counts only what it can reach before its own order",
         [("b", "sell", 1000, 4900, GTC), ("a", "sell", 1000, 4950, GTC), ("c", "sell", 1000, 5000, GTC),
          ("a", "buy", 2000, 5000, FOK)],
         [],
         [("open", 0), ("open", 0), ("open", 0), ("cancelled", 0)]),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_matching_rules(db: Database, bk: Book, case: Case) -> None:
    placed = [place(db, bk, who, side, kg, price, tif) for who, side, kg, price, tif in case.orders]
    names = {trader.party.id: name for name, trader in bk.traders.items()}
    with db.read() as s:
        trades = s.execute(select(Trade).where(col(Trade.mode) == "book").order_by(col(Trade.id))).scalars().all()
        assert [(names[t.buyer_party_id], names[t.seller_party_id], t.quantity_kg, t.price_fen_per_t)
                for t in trades] == case.trades
        for trade in trades:
            assert trade.amount_fen == trade.quantity_kg * trade.price_fen_per_t // 1000
            assert trade.buyer_fee_fen == trade.amount_fen * FEES.buyer_bp // 10_000
    assert [order_state(db, p.order.public_id) for p in placed] == case.final
    _book_is_consistent(db, bk)


def _book_is_consistent(db: Database, bk: Book) -> None:
    """What each open order reserves is exactly its unfilled rest; nothing else is locked or held."""
    with db.read() as s:
        orders = s.execute(select(BookOrder)).scalars().all()
        locked = dict(s.execute(select(CreditBlock.lock_ref, func.sum(CreditBlock.quantity_kg))
                                .where(col(CreditBlock.status) == "locked").group_by(CreditBlock.lock_ref)).all())
        held = dict(s.execute(select(CashHold.reference, CashHold.amount_fen)).all())
        for order in orders:
            rest = order.quantity_kg - order.filled_kg if order.status == "open" else 0
            if order.side == "sell":
                assert locked.pop(order.public_id, 0) == rest, order
            else:
                assert held.get(order.public_id, 0) == (book.hold_for(rest, order.price_fen_per_t, FEES)
                                                        if rest else 0), order
        assert locked == {}
        depth = market.depth(s, products.get_product(s, CODE))
        if depth["bids"] and depth["asks"]:
            assert depth["bids"][0].price_fen_per_t < depth["asks"][0].price_fen_per_t, "the book is crossed"


def test_buyers_receive_the_sellers_oldest_units_and_the_trade_names_them(db: Database, bk: Book) -> None:
    placed = place(db, bk, "a", "sell", 3000, 5000)
    bought = place(db, bk, "c", "buy", 2000, 5000)
    assert len(bought.trades) == 1
    with db.read() as s:
        # Trader a holds units 1–20,000 (c holds 40,001–60,000): its lowest 2,000 went to c, the next
        # 1,000 stay locked for the rest of the order.
        delivered = s.execute(select(CreditBlock.first_unit, CreditBlock.last_unit).where(
            col(CreditBlock.account_id) == _account_id(s, "c", bk), col(CreditBlock.first_unit) <= 20_000)).all()
        locked = s.execute(select(CreditBlock.first_unit, CreditBlock.last_unit).where(
            col(CreditBlock.lock_ref) == placed.order.public_id)).all()
    assert [tuple(r) for r in delivered] == [(1, 2000)] and [tuple(r) for r in locked] == [(2001, 3000)]
    with db.read() as s:
        trade = s.execute(select(Trade).where(col(Trade.buy_ref) == bought.order.public_id)).scalar_one()
        assert (trade.sell_ref, trade.product_id is not None, trade.trading_day) == (
            placed.order.public_id, True, MONDAY_10.date())


def _account_id(s: Session, who: str, bk: Book) -> int:
    return pk(get_account(s, bk.traders[who].account))


def test_sessions_follow_the_test_clock(db: Database, bk: Book) -> None:
    monday = MONDAY_10.replace(hour=0)
    opened = [monday.replace(hour=9, minute=30), monday.replace(hour=11, minute=29),
              monday.replace(hour=13), monday.replace(hour=14, minute=59)]
    closed = [monday.replace(hour=9, minute=29), monday.replace(hour=11, minute=30),
              monday.replace(hour=12), monday.replace(hour=15), monday + timedelta(days=5, hours=10)]
    for at in opened:
        assert place(db, bk, "a", "sell", 1000, 5500, now=at).order.status == "open"
    before = snapshot(db)
    for at in closed:
        with pytest.raises(errors.MarketClosed, match="next session opens"):
            place(db, bk, "a", "sell", 1000, 5500, now=at)
    assert snapshot(db) == before
    with db.read() as s:
        product = products.get_product(s, CODE)
        assert products.next_open(product, monday.replace(hour=15)) == datetime(2026, 12, 8, 9, 30, tzinfo=SHANGHAI)
        assert products.next_open(product, monday + timedelta(days=4, hours=16)) == datetime(
            2026, 12, 14, 9, 30, tzinfo=SHANGHAI)


def test_day_orders_expire_after_the_last_session_and_release_what_they_hold(db: Database, bk: Book) -> None:
    day_sell = place(db, bk, "a", "sell", 2000, 5200, DAY)
    day_buy = place(db, bk, "b", "buy", 1000, 4800, DAY)
    gtc = place(db, bk, "a", "sell", 1000, 5300, GTC)
    tuesday = MONDAY_10 + timedelta(days=1)
    with db.read() as s:
        assert book.has_day_orders_due(s, products.get_product(s, CODE), MONDAY_10) is False
        assert book.has_day_orders_due(s, products.get_product(s, CODE), MONDAY_10.replace(hour=15)) is True
    place(db, bk, "c", "buy", 1000, 5000, now=tuesday)
    assert order_state(db, day_sell.order.public_id) == ("expired", 0)
    assert order_state(db, day_buy.order.public_id) == ("expired", 0)
    assert order_state(db, gtc.order.public_id) == ("open", 0)
    with db.read() as s:
        b = cash.get_cash_account(s, bk.traders["b"].cash)
        assert (b.available_fen, b.held_fen) == (5_000_000, 0)
    _book_is_consistent(db, bk)


def test_amending_price_or_raising_quantity_loses_priority_reducing_keeps_it(db: Database, bk: Book) -> None:
    first = place(db, bk, "a", "sell", 2000, 5000)
    second = place(db, bk, "b", "sell", 1000, 5000)
    with db.write() as s:
        book.amend_order(s, bk.traders["a"].party, first.order.public_id, None, 1000, FEES, MONDAY_10)
    assert place(db, bk, "c", "buy", 1000, 5000).trades[0].seller_party_id == bk.traders["a"].party.id
    third = place(db, bk, "a", "sell", 1000, 5000)
    with db.write() as s:
        book.amend_order(s, bk.traders["b"].party, second.order.public_id, None, 2000, FEES, MONDAY_10)
    assert place(db, bk, "c", "buy", 1000, 5000).trades[0].sell_ref == third.order.public_id
    with db.write() as s:
        # A buy re-priced to cross trades at once, at the resting sell's price.
        bid = book.place_order(s, bk.traders["c"].party, CODE, book.OrderTerms(
            OrderSide.BUY, bk.traders["c"].account, 1000, 4900, GTC), FEES, MONDAY_10)
        amended = book.amend_order(s, bk.traders["c"].party, bid.order.public_id, 5100, None, FEES, MONDAY_10)
        assert [(t.price_fen_per_t, t.quantity_kg) for t in amended.trades] == [(5000, 1000)]
    _book_is_consistent(db, bk)


def test_a_halt_stops_matching_and_accepts_only_cancels(db: Database, bk: Book) -> None:
    resting = place(db, bk, "a", "sell", 1000, 5000)
    registrar = bk.market.base.registrar
    with db.write() as s:
        book.set_state(s, registrar, products.get_product(s, CODE), ProductState.HALTED, "price investigation")
    before = snapshot(db)
    with pytest.raises(errors.ProductHalted, match="price investigation"):
        place(db, bk, "c", "buy", 1000, 5000)
    with db.write() as s, pytest.raises(errors.ProductHalted):
        book.amend_order(s, bk.traders["a"].party, resting.order.public_id, 5100, None, FEES, MONDAY_10)
    assert snapshot(db) == before
    with db.write() as s:
        book.cancel_order(s, bk.traders["a"].party, resting.order.public_id)
        book.set_state(s, registrar, products.get_product(s, CODE), ProductState.OPEN, "")
    assert order_state(db, resting.order.public_id) == ("cancelled", 0)
    place(db, bk, "a", "sell", 1000, 5000)
    assert len(place(db, bk, "c", "buy", 1000, 5000).trades) == 1
    _book_is_consistent(db, bk)


def test_closing_a_product_cancels_its_orders(db: Database, bk: Book) -> None:
    sell, buy = place(db, bk, "a", "sell", 1000, 5200), place(db, bk, "b", "buy", 1000, 4800)
    with db.write() as s:
        book.set_state(s, bk.market.base.registrar, products.get_product(s, CODE), ProductState.CLOSED,
                       "delisted: vintage 2025 moved to the annual product")
    assert order_state(db, sell.order.public_id)[0] == order_state(db, buy.order.public_id)[0] == "cancelled"
    with pytest.raises(errors.ProductNotOpen):
        place(db, bk, "a", "sell", 1000, 5000)
    _book_is_consistent(db, bk)


def test_the_close_is_the_days_vwap_and_sets_the_next_days_band(db: Database, bk: Book) -> None:
    place(db, bk, "a", "sell", 3000, 5000)
    place(db, bk, "c", "buy", 1000, 5000)
    place(db, bk, "b", "sell", 1000, 4900)
    place(db, bk, "c", "buy", 3000, 5000)  # 1 t at 4,900, then 2 t at 5,000
    tuesday = MONDAY_10 + timedelta(days=1)
    with db.read() as s:
        product = products.get_product(s, CODE)
        [candle] = market.daily_candles(s, product)
        assert (candle.open_fen, candle.high_fen, candle.low_fen, candle.volume_kg, candle.trades) == (
            5000, 5000, 4900, 4000, 3)
        assert candle.close_fen == (3000 * 5000 + 1000 * 4900) // 4000 == 4975
        band = market.price_band(s, product, tuesday.date())
        assert band == market.Band(4975, 4480, 5470)  # ±10 %, inwards to the 10-fen tick
    with pytest.raises(errors.PriceOutOfBand, match="4,480 to 5,470"):
        place(db, bk, "a", "sell", 1000, 5480, now=tuesday)


@dataclass(frozen=True)
class Refusal:
    name: str
    error: type[Exception]
    act: Callable[[Database, Book], object]
    setup: Callable[[Database, Book], object] = lambda db, bk: None


def _sell(**overrides: object) -> Callable[[Database, Book], object]:
    def act(db: Database, bk: Book) -> object:
        args: dict[str, object] = {"who": "a", "side": "sell", "quantity_kg": 1000, "price": 5000, **overrides}
        return place(db, bk, **args)  # type: ignore[arg-type]
    return act


def _cancel_someone_elses(db: Database, bk: Book) -> object:
    with db.read() as s:
        order = s.execute(select(BookOrder)).scalars().first()
    assert order is not None
    with db.write() as s:
        return book.cancel_order(s, bk.traders["c"].party, order.public_id)


def _issue_2024(db: Database, bk: Book) -> object:
    return issue(db, bk.market.base, 2000, 2024)


def _sell_ineligible_serials(db: Database, bk: Book) -> object:
    world = bk.market.base
    with db.read() as s:
        old = s.execute(select(CreditBlock).where(col(CreditBlock.vintage) == 2024)).scalars().one()
    with db.write() as s:
        return book.place_order(s, world.owner, CODE, book.OrderTerms(
            OrderSide.SELL, world.owner_account, 1000, 5000, GTC,
            SerialRangeSelection(_issuance(s, old.issuance_id), old.first_unit, old.first_unit + 999)), FEES,
            MONDAY_10)


def _issuance(s: Session, issuance_id: int) -> str:
    found = s.get(Issuance, issuance_id)
    assert found is not None
    return found.public_id


def _sell_without_qualifying_units(db: Database, bk: Book) -> object:
    world = bk.market.base
    with db.write() as s:
        return book.place_order(s, world.owner, CODE, book.OrderTerms(
            OrderSide.SELL, world.owner_account, 1000, 5000, GTC), FEES, MONDAY_10)


def _list_removals(reference_price_fen: int | None) -> Callable[[Database, Book], object]:
    def setup(db: Database, bk: Book) -> object:
        with db.write() as s:
            return products.list_product(s, bk.market.base.registrar, products.ProductSpec(
                "WL-REMOVALS", "Wetland removals", credit_kind=CreditKind.REMOVALS,
                reference_price_fen=reference_price_fen))
    return setup


REFUSALS = [
    Refusal("unknown product", errors.UnknownProduct, _sell(code="NO-SUCH")),
    Refusal("quantity off the lot", errors.QuantityOffLot, _sell(quantity_kg=1500)),
    Refusal("zero quantity", errors.QuantityOffLot, _sell(quantity_kg=0)),
    Refusal("price off the tick", errors.PriceOffTick, _sell(price=5005)),
    Refusal("price above the band", errors.PriceOutOfBand, _sell(price=5510)),
    Refusal("price below the band", errors.PriceOutOfBand, _sell(price=4490)),
    Refusal("outside the sessions", errors.MarketClosed, _sell(now=MONDAY_10.replace(hour=12))),
    Refusal("more credits than held", registry_errors.InsufficientCredits, _sell(quantity_kg=30_000)),
    Refusal("a buy beyond the cash", errors.InsufficientCash, _sell(side="buy", quantity_kg=1_000_000, price=5500)),
    Refusal("ineligible serials", errors.IneligibleCredits, _sell_ineligible_serials, _issue_2024),
    Refusal("no qualifying units", registry_errors.InsufficientCredits, _sell_without_qualifying_units, _issue_2024),
    Refusal("PV credits into a removals product", registry_errors.InsufficientCredits,
            _sell(price=8000, code="WL-REMOVALS"), _list_removals(8000)),
    Refusal("a market order with no band", errors.NoReferencePrice,
            _sell(side="buy", price=None, code="WL-REMOVALS"), _list_removals(None)),
    Refusal("cancelling another party's order", errors.UnknownOrder, _cancel_someone_elses),
]


@pytest.mark.parametrize("refusal", REFUSALS, ids=[r.name for r in REFUSALS])
def test_bad_orders_are_refused_and_change_nothing(db: Database, bk: Book, refusal: Refusal) -> None:
    place(db, bk, "b", "sell", 1000, 5200)
    place(db, bk, "c", "buy", 1000, 4800)
    refusal.setup(db, bk)
    before = snapshot(db)
    with pytest.raises(refusal.error):
        refusal.act(db, bk)
    assert snapshot(db) == before
    _book_is_consistent(db, bk)


def test_product_rules_are_checked_when_listed(db: Database, bk: Book) -> None:
    registrar = bk.market.base.registrar
    bad = [
        products.ProductSpec("sz pv", "lower case and a space"),
        products.ProductSpec("SZ-PV-2026", "unknown methodology", methodology_ids=["CIR-NOPE"]),
        products.ProductSpec("SZ-PV-2026", "backwards vintages", vintage_from=2026, vintage_to=2025),
        products.ProductSpec("SZ-PV-2026", "no lot", lot_kg=0),
        products.ProductSpec("SZ-PV-2026", "a band of 0", band_pct=0),
        products.ProductSpec("SZ-PV-2026", "overlapping sessions", sessions="09:30-11:30,11:00-15:00"),
        products.ProductSpec("SZ-PV-2026", "a session backwards", sessions="15:00-09:30"),
        products.ProductSpec("SZ-PV-2026", "weekday 8", weekdays="12348"),
        products.ProductSpec("SZ-PV-2026", "no such zone", timezone="Mars/Olympus"),
        products.ProductSpec("SZ-PV-2026", "PV is no removal", methodology_ids=["CIR-PV-DG"],
                             credit_kind=CreditKind.REMOVALS),
        products.ProductSpec("SZ-PV-2026", "reference off tick", tick_fen=10, reference_price_fen=5005),
    ]
    for spec in bad:
        with pytest.raises(registry_errors.InvalidRequest), db.write() as s:
            products.list_product(s, registrar, spec)
    with pytest.raises(errors.ProductExists), db.write() as s:
        products.list_product(s, registrar, products.ProductSpec(CODE, "again"))
    with pytest.raises(registry_errors.PermissionDenied), db.write() as s:
        products.list_product(s, bk.traders["a"].party, products.ProductSpec("SZ-PV-2026", "not a registrar"))
    with db.read() as s:
        assert s.execute(select(func.count()).select_from(Product)).scalar_one() == 1


def test_the_lock_and_hold_of_an_order_are_released_by_cancel(db: Database, bk: Book) -> None:
    sell = place(db, bk, "a", "sell", 2000, 5200)
    buy = place(db, bk, "b", "buy", 2000, 4800)
    with db.read() as s:
        assert cash.get_cash_account(s, bk.traders["b"].cash).held_fen == book.hold_for(2000, 4800, FEES) == 9628
    with db.write() as s:
        book.cancel_order(s, bk.traders["a"].party, sell.order.public_id)
        book.cancel_order(s, bk.traders["b"].party, buy.order.public_id)
    with pytest.raises(errors.OrderNotOpen), db.write() as s:
        book.cancel_order(s, bk.traders["a"].party, sell.order.public_id)
    with db.read() as s:
        b = cash.get_cash_account(s, bk.traders["b"].cash)
        assert (b.available_fen, b.held_fen) == (5_000_000, 0)
        [balance] = credits.account_balances(s, _account_id(s, "a", bk))
        assert (balance["active_kg"], balance["locked_kg"]) == (20_000, 0)
    _book_is_consistent(db, bk)


def test_a_partys_orders_page_newest_first_without_repeating(db: Database, bk: Book) -> None:
    placed = [place(db, bk, "a", "sell", 1000, price).order.public_id for price in (5200, 5300, 5400)]
    seen, cursor = [], None
    with db.read() as s:
        for _ in range(3):
            rows, cursor = page(s, book.orders_of(bk.traders["a"].party), col(BookOrder.id), cursor, 2)
            seen += [row[0].public_id for row in rows]
            if cursor is None:
                break
    assert seen == placed[::-1]


TUESDAY_10 = MONDAY_10 + timedelta(days=1)


def test_a_trade_made_by_an_amendment_carries_the_day_it_was_made_on(db: Database, bk: Book) -> None:
    sell = place(db, bk, "a", "sell", 1000, 5200)  # good until cancelled, Monday
    place(db, bk, "b", "buy", 1000, 5000, now=TUESDAY_10)
    with db.write() as s:
        amended = book.amend_order(s, bk.traders["a"].party, sell.order.public_id, 5000, None, FEES, TUESDAY_10)
    assert [t.trading_day for t in amended.trades] == [TUESDAY_10.date()]


def test_a_day_order_whose_day_has_ended_does_not_trade(db: Database, bk: Book) -> None:
    sell = place(db, bk, "a", "sell", 1000, 5200)
    monday_bid = place(db, bk, "b", "buy", 1000, 5000, DAY)
    with db.write() as s:  # Tuesday, before anyone places an order or reads the book
        amended = book.amend_order(s, bk.traders["a"].party, sell.order.public_id, 5000, None, FEES, TUESDAY_10)
    assert amended.trades == []
    assert order_state(db, monday_bid.order.public_id) == ("expired", 0)


def test_a_resting_buy_holds_only_what_its_rest_needs(db: Database, bk: Book) -> None:
    place(db, bk, "a", "sell", 1000, 4900)
    bought = place(db, bk, "c", "buy", 2000, 5000)  # 1 t fills at 4,900, 1 t rests at 5,000
    with db.read() as s:
        assert cash.get_hold(s, bought.order.public_id).amount_fen == book.hold_for(1000, 5000, FEES) == 5015
        c = cash.get_cash_account(s, bk.traders["c"].cash)
        assert (c.available_fen, c.held_fen) == (5_000_000 - 4900 - 14 - 5015, 5015)
    _book_is_consistent(db, bk)


def test_a_buy_that_fills_at_once_pays_from_free_cash_one_entry_per_trade(db: Database, bk: Book) -> None:
    place(db, bk, "a", "sell", 1000, 4900)
    place(db, bk, "b", "sell", 1000, 5000)
    paid = (4900 + 14) + (5000 + 15)  # each fill's amount and the buyer's 30 bp fee, rounded down
    with db.write() as s:
        c = cash.get_cash_account(s, bk.traders["c"].cash)  # loaded before the order: kept up to date by it
        placed = book.place_order(s, bk.traders["c"].party, CODE, book.OrderTerms(
            OrderSide.BUY, bk.traders["c"].account, 2000, 5000, GTC), FEES, MONDAY_10)
        assert [t.price_fen_per_t for t in placed.trades] == [4900, 5000]
        assert (c.available_fen, c.held_fen) == (5_000_000 - paid, 0)
    with db.read() as s:
        assert cash.get_hold(s, placed.order.public_id) is None  # nothing rested, so nothing was ever held
        references = [placed.order.public_id, *(t.public_id for t in placed.trades)]
        kinds = s.execute(select(CashEntry.kind).where(col(CashEntry.reference).in_(references))).scalars().all()
        assert kinds == ["settlement", "settlement"]
        c = cash.get_cash_account(s, bk.traders["c"].cash)
        assert (c.available_fen, c.held_fen) == (5_000_000 - paid, 0)
    assert order_state(db, placed.order.public_id) == ("filled", 2000)
    _book_is_consistent(db, bk)
