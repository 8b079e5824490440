"""Standard products, their continuous order book and public market data: the registrar lists and
controls products; parties place, amend and cancel orders; anyone reads the book, candles and the
tape (in trading.py)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Request, Response
from sqlmodel import Session, col

from api.commands import Write
from api.deps import DB, AppSettings, Caller
from api.listing import CSV_RESPONSE, Cursor, Format, Limit, csv_response, wants_csv
from registry import credits
from registry.db import Database
from registry.models import Party
from registry.queries import page
from registry.schemas import Page
from registry.settings import Settings
from trading import book, market, products, queries, schemas
from trading.models import BookOrder, OrderSide, OrderStatus, ProductState, TimeInForce
from trading.settlement import Fees

router = APIRouter(prefix="/api/v1")


def _fees(settings: Settings) -> Fees:
    return Fees(settings.market_fee_buyer_bp, settings.market_fee_seller_bp)


def expire_day_orders(db: Database, settings: Settings, code: str | None = None) -> None:
    """Good-for-the-day orders whose day has ended release what they hold before anyone reads the
    book or their orders; a read with nothing due writes nothing."""
    now = settings.market_now()
    with db.read() as s:
        listed = [products.get_product(s, code)] if code else list(s.execute(products.products_query()).scalars())
        due = [p.code for p in listed if book.has_day_orders_due(s, p, now)]
    for due_code in due:
        with db.write() as s:
            book.expire_day_orders(s, products.get_product(s, due_code), now)


# --- products -------------------------------------------------------------------------------------


@router.post("/market/products", status_code=201, response_model=schemas.ProductOut, tags=["products"],
             summary="List a standard product (registrar): eligibility rules, lot, tick, band, sessions")
def list_product(body: schemas.ProductIn, write: Write, settings: AppSettings) -> Response:
    return write(body, _list_product, body, settings)


def _list_product(s: Session, caller: Party, body: schemas.ProductIn, settings: Settings) -> schemas.ProductOut:
    spec = products.ProductSpec(**body.model_dump())
    return queries.product_out(s, products.list_product(s, caller, spec), settings.market_now())


@router.get("/market/products", response_model=list[schemas.ProductOut], tags=["products"],
            summary="Every product with its state, session, today's band and last price (public)")
def product_list(db: DB, settings: AppSettings) -> list[schemas.ProductOut]:
    with db.read() as s:
        return [queries.product_out(s, product, settings.market_now())
                for product in s.execute(products.products_query()).scalars()]


@router.get("/market/products/{code}", response_model=schemas.ProductOut, tags=["products"])
def get_product(code: str, db: DB, settings: AppSettings) -> schemas.ProductOut:
    with db.read() as s:
        return queries.product_out(s, products.get_product(s, code), settings.market_now())


@router.post("/market/products/{code}/state", status_code=200, response_model=schemas.ProductOut, tags=["products"],
             summary="Halt (nothing matches, only cancels), resume, or close a product (registrar)",
             description="Closing cancels every open order and releases what it holds; a halt or a closure "
                         "states its reason, which the market page shows.")
def set_product_state(code: str, body: schemas.ProductStateIn, write: Write, settings: AppSettings) -> Response:
    return write(body, _set_state, code, body, settings)


def _set_state(s: Session, caller: Party, code: str, body: schemas.ProductStateIn,
               settings: Settings) -> schemas.ProductOut:
    product = book.set_state(s, caller, products.get_product(s, code), ProductState(body.state), body.reason)
    return queries.product_out(s, product, settings.market_now())


@router.post("/market/products/{code}/schedule", status_code=200, response_model=schemas.ProductOut,
             tags=["products"], summary="Change a product's trading sessions and weekdays (registrar)")
def set_schedule(code: str, body: schemas.ScheduleIn, write: Write, settings: AppSettings) -> Response:
    return write(body, _set_schedule, code, body, settings)


def _set_schedule(s: Session, caller: Party, code: str, body: schemas.ScheduleIn,
                  settings: Settings) -> schemas.ProductOut:
    product = products.set_schedule(s, caller, products.get_product(s, code), body.sessions, body.weekdays)
    return queries.product_out(s, product, settings.market_now())


# --- market data (public) ---------------------------------------------------------------------------


@router.get("/market/products/{code}/book", response_model=schemas.BookOut, tags=["market data"],
            summary="Depth: the best five price levels on each side, with the quantity resting at each")
def get_book(code: str, db: DB, settings: AppSettings) -> schemas.BookOut:
    expire_day_orders(db, settings, code)
    with db.read() as s:
        return queries.book_out(s, products.get_product(s, code))


@router.get("/market/products/{code}/candles", response_model=list[schemas.CandleOut], responses=CSV_RESPONSE,
            tags=["market data"], summary="Daily open, high, low, close (the day's VWAP), volume and value; "
                                          "?format=csv exports them")
def candles(request: Request, code: str, db: DB, interval: Literal["1d"] = "1d", since: date | None = None,
            until: date | None = None, format: Format = None) -> Response | list[schemas.CandleOut]:
    with db.read() as s:
        rows = [queries.candle_out(c) for c in market.daily_candles(s, products.get_product(s, code), since, until)]
    if wants_csv(request, format):
        return csv_response(rows, schemas.CandleOut, f"{code}-candles.csv")
    return rows


@router.get("/market/products/{code}/vwap", response_model=schemas.VwapOut, tags=["market data"],
            summary="The volume-weighted average price of the product's book trades over a range of days")
def vwap(code: str, db: DB, first_day: date, last_day: date) -> schemas.VwapOut:
    with db.read() as s:
        return schemas.VwapOut(product=code, first_day=first_day, last_day=last_day,
                               vwap_fen=market.vwap(s, products.get_product(s, code), first_day, last_day))


# --- orders -----------------------------------------------------------------------------------------


@router.post("/market/products/{code}/orders", status_code=201, response_model=schemas.PlacedOut, tags=["orders"],
             summary="Place an order: a sell locks qualifying credits, a buy holds its cash; what crosses "
                     "trades at once, settled delivery versus payment",
             description="Limit (day, gtc, ioc, fok) or market (no price: immediate or cancel, bounded by "
                         "the band). Quantities are whole lots, prices whole ticks within today's band.")
def place_order(code: str, body: schemas.OrderIn, write: Write, settings: AppSettings) -> Response:
    return write(body, _place, code, body, settings)


def _placed_out(s: Session, placed: book.Placed) -> schemas.PlacedOut:
    return schemas.PlacedOut(order=queries.order_out(s, placed.order),
                             trades=[queries.trade_out(s, trade) for trade in placed.trades])


def _place(s: Session, caller: Party, code: str, body: schemas.OrderIn, settings: Settings) -> schemas.PlacedOut:
    selection = None
    if body.serial_range is not None:
        r = body.serial_range
        selection = credits.SerialRangeSelection(r.issuance, r.first_unit, r.last_unit)
    terms = book.OrderTerms(OrderSide(body.side), body.account, body.quantity_kg, body.price_fen_per_t,
                            TimeInForce(body.time_in_force), selection)
    return _placed_out(s, book.place_order(s, caller, code, terms, _fees(settings), settings.market_now()))


@router.get("/market/orders", response_model=Page[schemas.OrderOut], tags=["orders"],
            summary="Your orders, newest first: by product and status")
def my_orders(db: DB, caller: Caller, settings: AppSettings, product: str | None = None,
              status: OrderStatus | None = None, cursor: Cursor = None, limit: Limit = 50,
              ) -> Page[schemas.OrderOut]:
    expire_day_orders(db, settings, product)
    with db.read() as s:
        query = book.orders_of(caller, products.get_product(s, product) if product else None, status)
        rows, next_cursor = page(s, query, col(BookOrder.id), cursor, limit)
        return Page(items=[queries.order_out(s, row[0]) for row in rows], next_cursor=next_cursor)


@router.get("/market/orders/{order_id}", response_model=schemas.OrderOut, tags=["orders"])
def get_order(order_id: str, db: DB, caller: Caller) -> schemas.OrderOut:
    with db.read() as s:
        return queries.order_out(s, book.get_own_order(s, caller, order_id))


@router.post("/market/orders/{order_id}/amendment", status_code=200, response_model=schemas.PlacedOut,
             tags=["orders"], summary="Change an open order's price or total quantity",
             description="A new price or a larger quantity loses the order's place in the queue (and may trade "
                         "at once); a smaller quantity keeps it.")
def amend_order(order_id: str, body: schemas.AmendIn, write: Write, settings: AppSettings) -> Response:
    return write(body, _amend, order_id, body, settings)


def _amend(s: Session, caller: Party, order_id: str, body: schemas.AmendIn, settings: Settings) -> schemas.PlacedOut:
    return _placed_out(s, book.amend_order(s, caller, order_id, body.price_fen_per_t, body.quantity_kg,
                                           _fees(settings), settings.market_now()))


@router.post("/market/orders/{order_id}/cancellation", status_code=200, response_model=schemas.OrderOut,
             tags=["orders"], summary="Cancel the rest of your open order (accepted while halted too)")
def cancel_order(order_id: str, write: Write) -> Response:
    return write(None, _cancel, order_id)


def _cancel(s: Session, caller: Party, order_id: str) -> schemas.OrderOut:
    return queries.order_out(s, book.cancel_order(s, caller, order_id))
