"""The continuous order book (挂牌): limit and market orders on a product, matched by price, then
time; every match settles at once, delivery versus payment, at the resting order's price.

A sell order locks qualifying credits under its id before it matches; an incoming buy pays its fills
from free cash and, if it rests, holds what its rest needs (price × quantity and the buyer's fee),
so a fill against a resting order can never lack either. Matching for one product runs one command at
a time: an advisory lock on PostgreSQL (SQLite's `BEGIN IMMEDIATE` already serialises writers), so
several API workers never match the same order twice. An incoming order that would trade with an
order of its own party stops there and its remainder is cancelled (self-trade prevention,
"cancel newest").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, select, text, update
from sqlmodel import Session, col

from registry import credits
from registry.accounts import get_accounts, require_holder
from registry.errors import InvalidRequest
from registry.ids import new_public_id
from registry.models import (
    Account,
    AccountKind,
    Party,
    PartyStatus,
    Role,
    get_by_public_id,
    get_existing,
    pk,
    refresh_loaded,
    rows_changed,
)
from registry.parties import require_role
from trading import cash, market, products, settlement
from trading.errors import (
    IneligibleCredits,
    InsufficientCash,
    NoReferencePrice,
    OrderNotOpen,
    PriceOffTick,
    PriceOutOfBand,
    ProductNotOpen,
    QuantityOffLot,
    UnknownOrder,
)
from trading.models import BookOrder, CashAccount, OrderSide, OrderStatus, Product, ProductState, TimeInForce, Trade

# pg_advisory_xact_lock(class, product id): one matching command per product at a time.
BOOK_LOCK_CLASS = 0x43495242  # "CIRB"


@dataclass(frozen=True)
class OrderTerms:
    side: OrderSide
    account: str  # the seller's account the credits come from, the buyer's they go to
    quantity_kg: int
    price_fen_per_t: int | None = None  # None: a market order
    time_in_force: TimeInForce = TimeInForce.DAY
    # A seller may name the units it offers; by default the oldest qualifying units are locked.
    selection: credits.Selection | None = None


@dataclass
class Placed:
    order: BookOrder
    trades: list[Trade] = field(default_factory=list)


def serialise_matching(session: Session, product: Product) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:class, :id)"),
                        {"class": BOOK_LOCK_CLASS, "id": product.id})


def _next_priority(session: Session, product: Product) -> int:
    product.last_priority += 1
    session.flush()
    return product.last_priority


def _check_quantity(product: Product, quantity_kg: object) -> int:
    if isinstance(quantity_kg, bool) or not isinstance(quantity_kg, int) or quantity_kg <= 0:
        raise QuantityOffLot("quantity_kg is a positive whole number of kilograms")
    if quantity_kg % product.lot_kg:
        raise QuantityOffLot(f"{product.code} trades in lots of {product.lot_kg:,} kg; {quantity_kg:,} kg is not "
                             "a whole number of lots")
    return quantity_kg


def _check_price(session: Session, product: Product, price: int, now: datetime) -> None:
    if price <= 0 or price % product.tick_fen:
        raise PriceOffTick(f"{product.code} prices are positive multiples of {product.tick_fen} fen per tonne")
    band = market.price_band(session, product, products.trading_day(product, now))
    if band is not None and not band.low_fen <= price <= band.high_fen:
        raise PriceOutOfBand(f"{price:,} fen per tonne is outside today's band for {product.code}: "
                             f"{band.low_fen:,} to {band.high_fen:,} (±{product.band_pct} % of "
                             f"{band.reference_fen:,})")


def _market_limit(session: Session, product: Product, side: OrderSide, now: datetime) -> int:
    """A market order may trade up to the band's edge on its side."""
    band = market.price_band(session, product, products.trading_day(product, now))
    if band is None:
        raise NoReferencePrice(f"{product.code} has no close or reference price yet to bound a market order: "
                               "give a limit price")
    return band.high_fen if side == OrderSide.BUY else band.low_fen


def hold_for(quantity_kg: int, price_fen_per_t: int, fees: settlement.Fees) -> int:
    """Cash a buy of `quantity_kg` at up to `price_fen_per_t` holds: enough for every partial fill,
    since amounts and fees are rounded down per fill."""
    amount = settlement.amount_of(quantity_kg, price_fen_per_t)
    return amount + fees.buyer_fee(amount)


def _crossing(product: Product, side: OrderSide, price: int) -> Any:
    """The open orders an incoming order on `side` at `price` may trade with, best first."""
    if side == OrderSide.BUY:
        crosses, best = col(BookOrder.price_fen_per_t) <= price, col(BookOrder.price_fen_per_t).asc()
    else:
        crosses, best = col(BookOrder.price_fen_per_t) >= price, col(BookOrder.price_fen_per_t).desc()
    opposite = OrderSide.SELL if side == OrderSide.BUY else OrderSide.BUY
    return (select(BookOrder).where(col(BookOrder.product_id) == product.id, col(BookOrder.side) == opposite.value,
                                    col(BookOrder.status) == OrderStatus.OPEN.value, crosses)
            .order_by(best, col(BookOrder.priority)))


def _fillable(session: Session, product: Product, party: Party, side: OrderSide, price: int, wanted: int) -> int:
    """How much an incoming order could fill now: up to the first order of its own party."""
    fillable = 0
    for resting in session.execute(_crossing(product, side, price)).scalars():
        if resting.party_id == party.id or fillable >= wanted:
            break
        fillable += resting.quantity_kg - resting.filled_kg
    return min(fillable, wanted)


def holding_account_of(session: Session, party: Party, account: str) -> Account:
    """The party's own holding account: where it trades credits from and to."""
    ref = get_accounts(session, [account])[account]
    require_holder(party, ref)
    if ref.kind != AccountKind.HOLDING:
        raise InvalidRequest("orders and bids trade from and to holding accounts")
    found = session.get(Account, ref.id)
    assert found is not None
    return found


def place_order(session: Session, party: Party, product_code: str, terms: OrderTerms, fees: settlement.Fees,
                now: datetime) -> Placed:
    """Validate, take the product's matching lock, match, rest what is left: the one way an order
    enters the book. The checks that only read come before the lock, so that orders refused by them
    never wait for it and the matching of others is not held up by them."""
    product = products.get_product(session, product_code)
    products.require_trading(product, now)
    if party.status != PartyStatus.ACTIVE:
        raise InvalidRequest(f"{party.name} is suspended and cannot trade")
    quantity = _check_quantity(product, terms.quantity_kg)
    side = OrderSide(terms.side)
    account = holding_account_of(session, party, terms.account)
    market_order = terms.price_fen_per_t is None
    if market_order:
        price, time_in_force = _market_limit(session, product, side, now), TimeInForce.IOC
    else:
        price, time_in_force = int(terms.price_fen_per_t or 0), TimeInForce(terms.time_in_force)
        _check_price(session, product, price, now)
    if side == OrderSide.BUY and terms.selection is not None:
        raise InvalidRequest("a buyer of a product receives qualifying credits oldest vintage first; "
                             "only a seller names units")
    buyer_cash = _require_cash(session, party, hold_for(quantity, price, fees)) if side == OrderSide.BUY else None
    serialise_matching(session, product)
    session.refresh(product)
    products.require_trading(product, now)  # the product may have been halted while this order waited
    expire_day_orders(session, product, now)
    order = BookOrder(public_id=new_public_id("ord"), product_id=pk(product), party_id=pk(party),
                      account_id=pk(account), side=side.value, kind="market" if market_order else "limit",
                      time_in_force=time_in_force.value, price_fen_per_t=price, quantity_kg=quantity,
                      priority=_next_priority(session, product), trading_day=products.trading_day(product, now))
    if time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
        fillable = _fillable(session, product, party, side, price, quantity)
        if fillable == 0 or (time_in_force == TimeInForce.FOK and fillable < quantity):
            # Refused before anything is locked: nothing in the book could fill it (enough).
            order.status = OrderStatus.CANCELLED.value
            order.status_reason = (f"{time_in_force.value}: {fillable:,} of {quantity:,} kg could fill at once")
            session.add(order)
            session.flush()
            return Placed(order)
    session.add(order)
    session.flush()
    if side == OrderSide.SELL:
        lock_qualifying(session, party, product, account.public_id, order.quantity_kg, terms.selection,
                        order.public_id, f"sell order on {product.code}")
    trades = _match(session, product, order, fees, now, incoming_holds=False)
    if buyer_cash is not None and order.status == OrderStatus.OPEN:
        # An incoming buy pays its fills from free cash; what rests holds what it still needs.
        cash.hold_cash(session, buyer_cash, order.public_id,
                       hold_for(order.quantity_kg - order.filled_kg, order.price_fen_per_t, fees))
    return Placed(order, trades)


def _require_cash(session: Session, party: Party, needed_fen: int) -> CashAccount:
    """The buyer's cash account, with a clear refusal up front for a buy its party cannot pay; the
    balance updates stay the guard."""
    account = cash.cash_account_of(session, party)
    if account.available_fen < needed_fen:
        raise InsufficientCash(f"cash account {account.public_id} has less free cash than the {needed_fen:,} fen "
                               "this order needs at its limit (its price and the buyer's fee)")
    return account


def lock_qualifying(session: Session, party: Party, product: Product | None, account: str, quantity_kg: int,
                    selection: credits.Selection | None, lock_ref: str, reason: str) -> credits.Movement:
    """Lock units for a sell order or an auction lot: the oldest that meet the product's rules, or
    the named serials, refused if any of them does not."""
    basket = products.basket_of(product) if product else credits.Basket()
    if selection is None or isinstance(selection, credits.OldestFirstSelection):
        chosen = selection or credits.OldestFirstSelection()
        selection = credits.OldestFirstSelection(chosen.project_public_id, chosen.vintage, chosen.methodology_id,
                                                 basket)
    movement = credits.lock_credits(session, party, account, quantity_kg, selection, lock_ref, reason)
    refused = sorted(f"{methodology} {vintage} from {region}"
                     for methodology, vintage, region in settlement.lines_of(session, movement)
                     if not basket.admits(methodology, vintage, region))
    if refused and product is not None:
        raise IneligibleCredits(f"{product.code} does not admit credits of {', '.join(refused)}")
    return movement


def _match(session: Session, product: Product, order: BookOrder, fees: settlement.Fees, now: datetime,
           incoming_holds: bool) -> list[Trade]:
    """Trade the incoming order against the best resting orders until it is filled or nothing crosses.
    A resting buy pays from its hold and keeps holding what its rest needs; an incoming buy pays from
    its hold if it has one (an amendment), or else from free cash."""
    trades: list[Trade] = []
    side = OrderSide(order.side)
    while order.filled_kg < order.quantity_kg:
        resting = session.execute(_crossing(product, side, order.price_fen_per_t).limit(1)
                                  .with_for_update()).scalar_one_or_none()
        if resting is None:
            break
        if resting.party_id == order.party_id:
            _close(session, order, OrderStatus.CANCELLED, "self-trade prevented: the best opposite order is your own")
            return trades
        fill = min(order.quantity_kg - order.filled_kg, resting.quantity_kg - resting.filled_kg)
        buy, sell = (order, resting) if side == OrderSide.BUY else (resting, order)
        buy_holds = buy is resting or incoming_holds
        trades.append(settlement.settle(
            session, mode="book", seller=get_existing(session, Party, sell.party_id),
            seller_account=_account(session, sell).public_id, buyer=get_existing(session, Party, buy.party_id),
            buyer_account=_account(session, buy).public_id, lock_ref=sell.public_id,
            price_fen_per_t=resting.price_fen_per_t, fees=fees, quantity_kg=fill,
            buyer_hold=buy.public_id if buy_holds else None,
            hold_kept_fen=hold_for(buy.quantity_kg - buy.filled_kg - fill, buy.price_fen_per_t, fees),
            venue=settlement.Venue(pk(product), products.trading_day(product, now), buy.public_id, sell.public_id,
                                   now)))
        _fill(session, resting, fill)
        _fill(session, order, fill)
    if order.status == OrderStatus.OPEN and TimeInForce(order.time_in_force) in (TimeInForce.IOC, TimeInForce.FOK):
        _close(session, order, OrderStatus.CANCELLED, "immediate or cancel: the rest did not fill at once")
    return trades


def _fill(session: Session, order: BookOrder, fill_kg: int) -> None:
    """Count a fill; an order filled in full is closed in the same statement (a CHECK ties the two).
    (A buy's hold was already brought to what its rest needs by the trade's settlement.)"""
    filled = col(BookOrder.filled_kg) + fill_kg
    result = session.execute(update(BookOrder).where(
        col(BookOrder.id) == order.id, col(BookOrder.status) == OrderStatus.OPEN.value,
        filled <= col(BookOrder.quantity_kg))
        .values(filled_kg=filled, updated_at=datetime.now(UTC),
                status=case((filled == col(BookOrder.quantity_kg), OrderStatus.FILLED.value),
                            else_=OrderStatus.OPEN.value))
        .returning(col(BookOrder.filled_kg), col(BookOrder.status))
        .execution_options(synchronize_session=False))
    changed = result.one_or_none()
    if changed is None:
        raise AssertionError(f"order {order.public_id} cannot fill {fill_kg} kg more")
    refresh_loaded(session, BookOrder, pk(order), changed._asdict())


def _close(session: Session, order: BookOrder, status: OrderStatus, reason: str) -> None:
    """Close an open order before it is filled and free what it still reserves: the rest of its
    credits or its cash."""
    result = session.execute(update(BookOrder).where(col(BookOrder.id) == order.id,
                                                     col(BookOrder.status) == OrderStatus.OPEN.value)
                             .values(status=status.value, status_reason=reason, updated_at=datetime.now(UTC)))
    if rows_changed(result) != 1:
        session.refresh(order)
        raise OrderNotOpen(f"order {order.public_id} is {order.status}")
    session.refresh(order)
    if order.side == OrderSide.BUY:
        cash.release_hold(session, order.public_id)
    else:
        credits.release_lock(session, _account(session, order).public_id, order.public_id,
                             f"sell order {status.value}")


# --- cancel, amend, expire -------------------------------------------------------------------------


def get_order(session: Session, public_id: str) -> BookOrder:
    return get_by_public_id(session, BookOrder, public_id, lambda: UnknownOrder(f"no order {public_id}"))


def get_own_order(session: Session, party: Party, public_id: str) -> BookOrder:
    """Orders are private: to anyone but the party that placed it, an order does not exist."""
    order = get_order(session, public_id)
    if order.party_id != party.id:
        raise UnknownOrder(f"no order {public_id}")
    return order


def cancel_order(session: Session, party: Party, public_id: str) -> BookOrder:
    """Cancel the rest of an open order; accepted when halted and outside sessions too."""
    order = get_own_order(session, party, public_id)
    product = session.get(Product, order.product_id)
    assert product is not None
    serialise_matching(session, product)
    _close(session, order, OrderStatus.CANCELLED, "cancelled by its party")
    return order


def amend_order(session: Session, party: Party, public_id: str, price_fen_per_t: int | None, quantity_kg: int | None,
                fees: settlement.Fees, now: datetime) -> Placed:
    """Change an open limit order's price or total quantity. A new price or a larger quantity sends it
    to the back of the queue at its price (and may trade at once); a smaller quantity keeps its place."""
    order = get_own_order(session, party, public_id)
    product = session.get(Product, order.product_id)
    assert product is not None
    serialise_matching(session, product)
    session.refresh(product)
    session.refresh(order)
    products.require_trading(product, now)
    expire_day_orders(session, product, now)
    session.refresh(order)
    if order.status != OrderStatus.OPEN:
        raise OrderNotOpen(f"order {order.public_id} is {order.status}")
    price = order.price_fen_per_t if price_fen_per_t is None else price_fen_per_t
    quantity = order.quantity_kg if quantity_kg is None else _check_quantity(product, quantity_kg)
    if price != order.price_fen_per_t:
        _check_price(session, product, price, now)
    if quantity <= order.filled_kg:
        raise QuantityOffLot(f"order {order.public_id} has filled {order.filled_kg:,} kg: amend it to more than "
                             "that, or cancel it")
    remaining_before, remaining = order.quantity_kg - order.filled_kg, quantity - order.filled_kg
    loses_priority = price != order.price_fen_per_t or quantity > order.quantity_kg
    if order.side == OrderSide.SELL and remaining > remaining_before:
        lock_qualifying(session, party, product, _account(session, order).public_id, remaining - remaining_before,
                        None, order.public_id, f"sell order on {product.code}")
    elif order.side == OrderSide.SELL and remaining < remaining_before:
        credits.release_lock(session, _account(session, order).public_id, order.public_id, "sell order reduced",
                             remaining_before - remaining)
    elif order.side == OrderSide.BUY:
        cash.resize_hold(session, order.public_id, hold_for(remaining, price, fees))
    order.price_fen_per_t, order.quantity_kg, order.updated_at = price, quantity, datetime.now(UTC)
    if loses_priority:
        order.priority = _next_priority(session, product)
    session.flush()
    return Placed(order, _match(session, product, order, fees, now, incoming_holds=True))


def _account(session: Session, order: BookOrder) -> Account:
    return get_existing(session, Account, order.account_id)


def _day_orders_due(product: Product, now: datetime) -> Any:
    today = products.trading_day(product, now)
    due_day = today if products.day_is_over(product, now) else None
    stale = col(BookOrder.trading_day) < today if due_day is None else col(BookOrder.trading_day) <= due_day
    return select(BookOrder).where(col(BookOrder.product_id) == product.id,
                                   col(BookOrder.status) == OrderStatus.OPEN.value,
                                   col(BookOrder.time_in_force) == TimeInForce.DAY.value, stale)


def has_day_orders_due(session: Session, product: Product, now: datetime) -> bool:
    return session.execute(_day_orders_due(product, now).limit(1)).first() is not None


def expire_day_orders(session: Session, product: Product, now: datetime) -> int:
    """Good-for-the-day orders expire once their day's last session has ended."""
    due = session.execute(_day_orders_due(product, now)).scalars().all()
    for order in due:
        _close(session, order, OrderStatus.EXPIRED, "the trading day ended")
    return len(due)


# --- the registrar's controls -------------------------------------------------------------------------


def set_state(session: Session, registrar: Party, product: Product, state: ProductState, reason: str) -> Product:
    """Halt (orders stay, nothing matches, only cancels), resume, or close (every open order is
    cancelled and what it reserves released)."""
    require_role(registrar, Role.REGISTRAR)
    serialise_matching(session, product)
    session.refresh(product)
    if product.state == ProductState.CLOSED:
        raise ProductNotOpen(f"{product.code} is closed for good")
    if state != ProductState.OPEN and not reason.strip():
        raise InvalidRequest("a halt or a closure states its reason")
    product.state, product.state_reason = state.value, reason.strip()
    session.flush()
    if state == ProductState.CLOSED:
        for order in session.execute(select(BookOrder).where(col(BookOrder.product_id) == product.id,
                                                             col(BookOrder.status) == OrderStatus.OPEN.value)
                                     ).scalars().all():
            _close(session, order, OrderStatus.CANCELLED, f"{product.code} closed: {reason.strip()}")
    return product


def orders_of(party: Party, product: Product | None = None, status: OrderStatus | None = None) -> Any:
    """The party's orders, newest first."""
    query = select(BookOrder).where(col(BookOrder.party_id) == party.id)
    if product is not None:
        query = query.where(col(BookOrder.product_id) == product.id)
    if status is not None:
        query = query.where(col(BookOrder.status) == status.value)
    return query.order_by(col(BookOrder.id).desc())
