"""A hypothesis state machine over the order book on both databases: orders placed by three traders
(buy or sell, one to five lots, any price on the tick inside the day's band or none at all, every
time in force), orders off the rules, cancels and amendments (by their party or by another), halts
and resumptions, and the close of the trading day. Every refusal is the expected one and changes
nothing. After every step credits and cash are conserved, per issuance and per trader; the book is
not crossed; no order is overfilled and every order's trades add up to its fill; an open sell order
locks exactly its unfilled rest and a closed order reserves nothing; an open buy order holds exactly
what its rest needs at its limit (a fill at a better price frees the difference at once); nobody
trades with itself. After each example the audit of the whole journal passes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import func, select
from sqlmodel import Session, col

from registry.db import Database
from registry.errors import InsufficientCredits, RegistryError
from registry.ledger.audit import AuditReport
from registry.ledger.models import LedgerEntry
from registry.ledger.signing import LogSigner
from registry.models import Account, CreditBlock, Issuance
from tests.conftest import empty_database
from tests.trading.book_world import CODE, FEES, MONDAY_10, make_book
from tests.trading.test_trading import audit_everything, snapshot
from trading import book, cash, errors, market, products
from trading.models import (
    BookOrder,
    CashAccount,
    CashHold,
    OrderSide,
    OrderStatus,
    Product,
    ProductState,
    TimeInForce,
    Trade,
)

CREDITS_EACH_KG = 20_000
CASH_EACH_FEN = 5_000_000
LOT_KG = 1000
TICK_FEN = 10
TRADERS = ("a", "b", "c")

LOTS = st.integers(1, 5)
# A price as a number of ticks above the band's low edge, folded into today's band: the band moves
# with each day's close.
TICKS = st.integers(0, 100)
# About one order in five is a market order (no price).
ORDER_TICKS = st.integers(-25, 100).map(lambda ticks: None if ticks < 0 else ticks)
# Resting orders (good for the day or until cancelled) more often than immediate ones.
TIMES_IN_FORCE = st.sampled_from([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.DAY, TimeInForce.DAY,
                                  TimeInForce.IOC, TimeInForce.FOK])
# Which order a cancel or an amendment names: mostly one still open, sometimes any at all.
PICK = st.tuples(st.sampled_from([True, True, True, False]), st.integers(0, 1000))
# A halt or the day's close: now and then, not at every turn.
NOW_AND_THEN = st.sampled_from([False, False, False, False, False, True])


@dataclass
class Tracked:
    """What the model knows of one order: whose it is and its side."""

    owner: str
    side: OrderSide


def test_the_order_book_keeps_its_invariants(db: Database, signer: LogSigner) -> None:
    outcomes: Counter[str] = Counter()  # over every example: what the commands did

    class OrderBook(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            # Each example starts from an empty registry, so that a failing one replays alike.
            empty_database(db.url)
            self.bk = make_book(db, CREDITS_EACH_KG, CASH_EACH_FEN)
            with db.read() as s:
                self.product_id = products.get_product(s, CODE).id
            self.now = MONDAY_10
            self.halted = False
            self.orders: dict[str, Tracked] = {}
            self.order_ids: list[str] = []

        # --- helpers ------------------------------------------------------------------------------

        def state(self) -> tuple[object, ...]:
            """Everything a refused command must leave as it was."""
            with db.read() as s:
                orders = s.execute(select(col(BookOrder.public_id), col(BookOrder.status), col(BookOrder.filled_kg),
                                          col(BookOrder.quantity_kg), col(BookOrder.price_fen_per_t),
                                          col(BookOrder.priority)).order_by(col(BookOrder.id))).all()
                holds = s.execute(select(col(CashHold.reference), col(CashHold.amount_fen))
                                  .order_by(col(CashHold.id))).all()
                product = s.execute(select(col(Product.state), col(Product.state_reason), col(Product.last_priority))
                                    .where(col(Product.id) == self.product_id)).one()
                entries = s.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()
            return snapshot(db), tuple(orders), tuple(holds), tuple(product), entries

        def attempt(self, name: str, command: Callable[[Session], book.Placed | BookOrder | Product],
                    ) -> book.Placed | BookOrder | Product | RegistryError:
            """Run one command; a refusal must leave everything as it was."""
            before = self.state()
            try:
                with db.write() as s:
                    result = command(s)
            except RegistryError as refusal:
                assert self.state() == before, f"{name} refused with {refusal!r} but changed something"
                outcomes[f"{name}: {type(refusal).__name__}"] += 1
                return refusal
            outcomes[f"{name}: done"] += 1
            return result

        def price(self, ticks: int) -> int:
            with db.read() as s:
                band = market.price_band(s, products.get_product(s, CODE), self.now.date())
            assert band is not None
            return band.low_fen + ticks % ((band.high_fen - band.low_fen) // TICK_FEN + 1) * TICK_FEN

        def status(self, public_id: str) -> tuple[str, int]:
            with db.read() as s:
                order = book.get_order(s, public_id)
                return order.status, order.filled_kg

        def pick(self, pick: tuple[bool, int]) -> str | None:
            only_open, index = pick
            candidates = self.order_ids
            if only_open:
                with db.read() as s:
                    candidates = list(s.execute(select(col(BookOrder.public_id)).where(
                        col(BookOrder.product_id) == self.product_id, col(BookOrder.status) == OrderStatus.OPEN.value)
                        .order_by(col(BookOrder.id))).scalars()) or candidates
            return candidates[index % len(candidates)] if candidates else None

        def other_than(self, owner: str, shift: int) -> str:
            return TRADERS[(TRADERS.index(owner) + shift) % len(TRADERS)]

        def check_trades_of(self, placed: book.Placed) -> None:
            order = placed.order
            for trade in placed.trades:
                assert order.public_id in (trade.buy_ref, trade.sell_ref)
                assert trade.buyer_party_id != trade.seller_party_id

        # --- rules --------------------------------------------------------------------------------

        @rule(who=st.sampled_from(TRADERS), side=st.sampled_from(list(OrderSide)), lots=LOTS,
              ticks=ORDER_TICKS, time_in_force=TIMES_IN_FORCE)
        def place(self, who: str, side: OrderSide, lots: int, ticks: int | None, time_in_force: TimeInForce) -> None:
            trader = self.bk.traders[who]
            price = None if ticks is None else self.price(ticks)
            terms = book.OrderTerms(side, trader.account, lots * LOT_KG, price, time_in_force)
            placed = self.attempt("place", lambda s: book.place_order(s, trader.party, CODE, terms, FEES,
                                                                      self.now))
            if isinstance(placed, RegistryError):
                expected: tuple[type[RegistryError], ...] = (errors.ProductHalted,) if self.halted else (
                    (InsufficientCredits,) if side == OrderSide.SELL else (errors.InsufficientCash,))
                assert isinstance(placed, expected), placed
                return
            assert isinstance(placed, book.Placed) and not self.halted
            order = placed.order
            assert (order.kind, order.time_in_force) == (("market", TimeInForce.IOC.value) if price is None
                                                         else ("limit", time_in_force.value))
            if price is None or time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
                assert order.status != OrderStatus.OPEN, "an immediate order rested"
            if time_in_force == TimeInForce.FOK and price is not None:
                assert order.filled_kg in (0, order.quantity_kg), "a fill-or-kill filled in part"
            self.orders[order.public_id] = Tracked(who, side)
            self.order_ids.append(order.public_id)
            self.check_trades_of(placed)
            assert {t.trading_day for t in placed.trades} <= {self.now.date()}
            with db.read() as s:  # placing an order expires the day orders of the days before
                assert s.execute(select(func.count()).select_from(BookOrder).where(
                    col(BookOrder.product_id) == self.product_id, col(BookOrder.status) == OrderStatus.OPEN.value,
                    col(BookOrder.time_in_force) == TimeInForce.DAY.value,
                    col(BookOrder.trading_day) < self.now.date())).scalar_one() == 0

        @rule(who=st.sampled_from(TRADERS),
              mistake=st.sampled_from(["off tick", "below band", "above band", "off lot", "zero"]))
        def place_off_the_rules(self, who: str, mistake: str) -> None:
            trader = self.bk.traders[who]
            with db.read() as s:
                band = market.price_band(s, products.get_product(s, CODE), self.now.date())
            assert band is not None
            price, quantity = band.reference_fen // TICK_FEN * TICK_FEN, LOT_KG
            price, quantity, error = {
                "off tick": (price + TICK_FEN // 2, quantity, errors.PriceOffTick),
                "below band": (band.low_fen - TICK_FEN, quantity, errors.PriceOutOfBand),
                "above band": (band.high_fen + TICK_FEN, quantity, errors.PriceOutOfBand),
                "off lot": (price, quantity + LOT_KG // 2, errors.QuantityOffLot),
                "zero": (price, 0, errors.QuantityOffLot),
            }[mistake]
            terms = book.OrderTerms(OrderSide.BUY, trader.account, quantity, price, TimeInForce.GTC)
            refused = self.attempt("place off the rules", lambda s: book.place_order(
                s, trader.party, CODE, terms, FEES, self.now))
            assert isinstance(refused, errors.ProductHalted if self.halted else error), refused

        @rule(pick=PICK, shift=st.sampled_from([0, 0, 0, 1]))
        def cancel(self, pick: tuple[bool, int], shift: int) -> None:
            public_id = self.pick(pick)
            if public_id is None:
                return
            owner = self.orders[public_id].owner
            actor = self.other_than(owner, shift)
            status_before, filled_before = self.status(public_id)
            cancelled = self.attempt("cancel", lambda s: book.cancel_order(s, self.bk.traders[actor].party,
                                                                           public_id))
            if actor != owner:
                assert isinstance(cancelled, errors.UnknownOrder), cancelled
            elif status_before != OrderStatus.OPEN:
                assert isinstance(cancelled, errors.OrderNotOpen), cancelled
            else:  # accepted while halted too
                assert isinstance(cancelled, BookOrder), cancelled
                assert self.status(public_id) == (OrderStatus.CANCELLED.value, filled_before)

        @rule(pick=PICK, ticks=st.one_of(st.none(), TICKS), lots=st.one_of(st.none(), LOTS),
              shift=st.sampled_from([0, 0, 0, 1]))
        def amend(self, pick: tuple[bool, int], ticks: int | None, lots: int | None, shift: int) -> None:
            public_id = self.pick(pick)
            if public_id is None:
                return
            tracked = self.orders[public_id]
            actor = self.other_than(tracked.owner, shift)
            status_before, filled_before = self.status(public_id)
            price = None if ticks is None else self.price(ticks)
            quantity = None if lots is None else lots * LOT_KG
            amended = self.attempt("amend", lambda s: book.amend_order(s, self.bk.traders[actor].party, public_id,
                                                                       price, quantity, FEES, self.now))
            if actor != tracked.owner:
                assert isinstance(amended, errors.UnknownOrder), amended
                return
            if self.halted:
                assert isinstance(amended, errors.ProductHalted), amended
                return
            if status_before != OrderStatus.OPEN:
                assert isinstance(amended, errors.OrderNotOpen), amended
                return
            if quantity is not None and quantity <= filled_before:
                assert isinstance(amended, errors.QuantityOffLot), amended
                return
            if isinstance(amended, RegistryError):
                # Only a larger sell can lack credits; a buy's hold always fits in the traders' cash.
                assert isinstance(amended, InsufficientCredits) and tracked.side == OrderSide.SELL, amended
                return
            assert isinstance(amended, book.Placed)
            order = amended.order
            assert order.filled_kg >= filled_before
            if quantity is not None:
                assert order.quantity_kg == quantity
            if price is not None:
                assert order.price_fen_per_t == price
            self.check_trades_of(amended)

        @precondition(lambda self: not self.halted)
        @rule(now=NOW_AND_THEN)
        def halt(self, now: bool) -> None:
            if not now:
                return
            registrar = self.bk.market.base.registrar
            halted = self.attempt("halt", lambda s: book.set_state(s, registrar, products.get_product(s, CODE),
                                                                   ProductState.HALTED, "price investigation"))
            assert isinstance(halted, Product), halted
            self.halted = True

        @precondition(lambda self: self.halted)
        @rule()
        def resume(self) -> None:
            registrar = self.bk.market.base.registrar
            resumed = self.attempt("resume", lambda s: book.set_state(s, registrar, products.get_product(s, CODE),
                                                                      ProductState.OPEN, ""))
            assert isinstance(resumed, Product), resumed
            self.halted = False

        @rule(now=NOW_AND_THEN)
        def close_the_day(self, now: bool) -> None:
            """After the day's last session the day orders expire (the API sweeps them when the book or
            the orders are read); the clock moves to the next weekday's morning session."""
            if not now:
                return
            evening = self.now.replace(hour=15, minute=30)
            with db.write() as s:
                book.expire_day_orders(s, products.get_product(s, CODE), evening)
            with db.read() as s:
                assert s.execute(select(func.count()).select_from(BookOrder).where(
                    col(BookOrder.product_id) == self.product_id, col(BookOrder.status) == OrderStatus.OPEN.value,
                    col(BookOrder.time_in_force) == TimeInForce.DAY.value)).scalar_one() == 0
            self.now += timedelta(days=3 if self.now.isoweekday() == 5 else 1)

        def teardown(self) -> None:
            with db.read() as s:
                outcomes["trades"] += s.execute(select(func.count()).select_from(Trade)).scalar_one()
            assert audit_everything(db, signer) == []

        # --- invariants ---------------------------------------------------------------------------

        @invariant()
        def credits_and_cash_are_conserved(self) -> None:
            with db.read() as s:
                issued = dict(s.execute(select(col(Issuance.id), col(Issuance.quantity_kg))).all())
                held = {issuance: int(kg) for issuance, kg in s.execute(
                    select(col(CreditBlock.issuance_id), func.sum(col(CreditBlock.quantity_kg)))
                    .group_by(col(CreditBlock.issuance_id))).all()}
                assert held == issued, "credits were made or lost"
                assert s.execute(select(func.count()).select_from(CashAccount).where(
                    col(CashAccount.kind) != "clearing",
                    (col(CashAccount.available_fen) < 0) | (col(CashAccount.held_fen) < 0))).scalar_one() == 0
                report = AuditReport()
                cash.audit_cash(s, report)
                assert report.problems == [], report.problems

        @invariant()
        def each_trader_has_what_it_started_with_plus_its_trades(self) -> None:
            with db.read() as s:
                kg_traded = func.coalesce(func.sum(col(Trade.quantity_kg)), 0)
                paid = func.coalesce(func.sum(col(Trade.amount_fen) + col(Trade.buyer_fee_fen)), 0)
                received = func.coalesce(func.sum(col(Trade.amount_fen) - col(Trade.seller_fee_fen)), 0)
                for trader in self.bk.traders.values():
                    party = trader.party.id
                    bought = s.execute(select(kg_traded, paid).where(col(Trade.buyer_party_id) == party)).one()
                    sold = s.execute(select(kg_traded, received).where(col(Trade.seller_party_id) == party)).one()
                    kg = s.execute(select(func.coalesce(func.sum(col(CreditBlock.quantity_kg)), 0))
                                   .join(Account, col(Account.id) == col(CreditBlock.account_id))
                                   .where(col(Account.public_id) == trader.account)).scalar_one()
                    assert kg == CREDITS_EACH_KG + bought[0] - sold[0]
                    account = cash.get_cash_account(s, trader.cash)
                    assert account.available_fen + account.held_fen == CASH_EACH_FEN - bought[1] + sold[1]

        @invariant()
        def the_book_is_not_crossed(self) -> None:
            with db.read() as s:
                best_bid = s.execute(select(func.max(col(BookOrder.price_fen_per_t))).where(
                    col(BookOrder.product_id) == self.product_id, col(BookOrder.status) == OrderStatus.OPEN.value,
                    col(BookOrder.side) == OrderSide.BUY.value)).scalar_one()
                best_ask = s.execute(select(func.min(col(BookOrder.price_fen_per_t))).where(
                    col(BookOrder.product_id) == self.product_id, col(BookOrder.status) == OrderStatus.OPEN.value,
                    col(BookOrder.side) == OrderSide.SELL.value)).scalar_one()
            if best_bid is not None and best_ask is not None:
                assert best_bid < best_ask, f"the book is crossed: bid {best_bid}, ask {best_ask}"

        @invariant()
        def each_order_reserves_its_rest_and_its_trades_make_its_fill(self) -> None:
            with db.read() as s:
                orders = s.execute(select(BookOrder)).scalars().all()
                locked = {(ref, account): int(kg) for ref, account, kg in s.execute(
                    select(col(CreditBlock.lock_ref), col(CreditBlock.account_id),
                           func.sum(col(CreditBlock.quantity_kg))).where(col(CreditBlock.status) == "locked")
                    .group_by(col(CreditBlock.lock_ref), col(CreditBlock.account_id))).all()}
                held = dict(s.execute(select(col(CashHold.reference), col(CashHold.amount_fen))).all())
                bought = {ref: int(kg) for ref, kg in s.execute(
                    select(col(Trade.buy_ref), func.sum(col(Trade.quantity_kg))).group_by(col(Trade.buy_ref))).all()}
                sold = {ref: int(kg) for ref, kg in s.execute(
                    select(col(Trade.sell_ref), func.sum(col(Trade.quantity_kg))).group_by(col(Trade.sell_ref))).all()}
                assert s.execute(select(func.count()).select_from(Trade).where(
                    col(Trade.buyer_party_id) == col(Trade.seller_party_id))).scalar_one() == 0, "a self-trade"
            for order in orders:
                assert 0 <= order.filled_kg <= order.quantity_kg, order
                assert (order.status == OrderStatus.FILLED) == (order.filled_kg == order.quantity_kg), order
                traded = (bought if order.side == OrderSide.BUY else sold).get(order.public_id, 0)
                assert traded == order.filled_kg, f"{order.public_id} filled {order.filled_kg} kg, traded {traded}"
                rest = order.quantity_kg - order.filled_kg if order.status == OrderStatus.OPEN else 0
                if order.side == OrderSide.SELL:
                    assert locked.pop((order.public_id, order.account_id), 0) == rest, order
                    assert order.public_id not in held
                    continue
                hold = held.get(order.public_id, 0)
                if not rest:
                    assert hold == 0, order
                    continue
                # Exactly what every fill the rest could still make needs, nothing more.
                assert hold == book.hold_for(rest, order.price_fen_per_t, FEES), order
            assert locked == {}, f"credits locked for no open sell order: {locked}"

    run_state_machine_as_test(OrderBook, settings=settings(max_examples=12, stateful_step_count=40, deadline=None,
                                                           suppress_health_check=list(HealthCheck)))
    # The run did what it is for (hypothesis leaves some rules out of some examples, so only the
    # most common outcomes are certain): orders were placed and traded, and bad ones refused.
    refused_off_the_rules = sum(n for outcome, n in outcomes.items() if outcome.startswith("place off the rules"))
    assert outcomes["place: done"] and outcomes["trades"] and refused_off_the_rules, outcomes
