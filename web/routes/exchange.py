"""Exchange pages: each product's book, last trades, price and volume chart and daily candles
(updating while a session runs); order entry; a party's orders with cancel and amend; the
registrar's listing of products and its controls (halt, resume, close, sessions). Each action calls
the service the JSON API calls, as the signed-in party; a refusal is the service's own sentence,
next to its field."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlmodel import Session, col

from api.deps import DB, AppSettings
from api.routes.book import expire_day_orders
from registry.models import Party, Role
from registry.settings import Settings
from trading import book, cash, market, products, queries
from trading.models import BookOrder, CreditKind, OrderSide, OrderStatus, Product, ProductState, TimeInForce, Trade
from trading.settlement import Fees
from web import charts
from web.i18n import N_
from web.pages import (
    PageRoute,
    Viewer,
    checked_form,
    error_status,
    redirect,
    refusal_of,
    render,
    require,
    translate,
)
from web.reports_view import entered_values, field_text
from web.routes.market import yuan_field
from web.routes.workspace import field_of, holding_accounts, tonnes_field

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Text = Annotated[str | None, Query(max_length=200)]
CHART_TRADES = 60
ORDER_FIELDS = [("lot", "quantity"), ("quantity", "quantity"), ("held for", "quantity"), ("holds", "quantity"),
                ("prices", "price"), ("band", "price"), ("reference price", "price"), ("cash", "price"),
                ("account", "account"), ("session", "_"), ("halted", "_")]


def _fees(settings: Settings) -> Fees:
    return Fees(settings.market_fee_buyer_bp, settings.market_fee_seller_bp)


def _recent_trades(session: Session, product: Product) -> list[Trade]:
    return list(reversed(session.execute(
        select(Trade).where(col(Trade.product_id) == product.id, col(Trade.mode) == "book")
        .order_by(col(Trade.id).desc()).limit(CHART_TRADES)).scalars().all()))


def _product_page(request: Request, db: DB, settings: Settings, party: Party | None, code: str,
                  errors_: dict[str, str] | None = None, values: dict[str, str] | None = None,
                  status_code: int = 200) -> HTMLResponse:
    now = settings.market_now()
    expire_day_orders(db, settings, code)
    with db.read() as session:
        product = products.get_product(session, code)
        out = queries.product_out(session, product, now)
        depth = queries.book_out(session, product)
        trades = _recent_trades(session, product)
        candles = market.daily_candles(session, product)[-10:]
        accounts = [(a.public_id, f"{a.name} ({a.public_id})") for a in holding_accounts(session, party)] \
            if party else []
        has_cash = party is not None and session.execute(select(col(cash.CashAccount.id)).where(
            col(cash.CashAccount.party_id) == party.id)).first() is not None
        mine = [queries.order_out(session, order) for order in session.execute(
            book.orders_of(party, product, OrderStatus.OPEN)).scalars()] if party else []
    # Times as the market keeps them: the product's local time.
    local = [products.local_time(product, trade.executed_at) for trade in trades]
    chart = charts.price_volume_chart(
        translate(request, N_("Price and volume of the last trades")), [at.strftime("%m-%d %H:%M") for at in local],
        [trade.price_fen_per_t for trade in trades], [trade.quantity_kg for trade in trades],
        translate(request, N_("yuan/t")), translate(request, N_("t"))) if trades else None
    return render(request, "market/product.html", party, f"{out.code} · {out.name}", {
        "product": out, "depth": depth, "trades": list(zip(local, trades, strict=True)), "chart": chart,
        "candles": candles,
        "accounts": accounts, "has_cash": has_cash, "mine": mine, "now": products.local_time(product, now),
        "is_registrar": party is not None and Role.REGISTRAR.value in party.role_set,
        "live": out.state == ProductState.OPEN and out.in_session, "errors": errors_ or {},
        "values": values or {"side": "buy", "time_in_force": "day"}}, status_code)


@router.get("/market/products/new", response_class=HTMLResponse)
def new_product_page(request: Request, party: Viewer) -> HTMLResponse:
    return _new_product_page(request, require(party, request, Role.REGISTRAR))


@router.get("/market/products/{code}", response_class=HTMLResponse)
def product_page(request: Request, code: str, db: DB, party: Viewer, settings: AppSettings) -> HTMLResponse:
    return _product_page(request, db, settings, party, code)


@router.post("/market/products/{code}/orders", response_class=HTMLResponse)
async def place_order(request: Request, code: str, db: DB, party: Viewer, settings: AppSettings) -> Response:
    me = require(party, request)
    form = await checked_form(request)
    values = entered_values(form)
    found: dict[str, str] = {}
    quantity = tonnes_field(request, field_text(form, "quantity"), found)
    price_text = field_text(form, "price")
    price = yuan_field(request, price_text, found, "price") if price_text else None
    side, tif = field_text(form, "side"), field_text(form, "time_in_force") or "day"
    if side not in ("buy", "sell"):
        found["side"] = translate(request, N_("Choose buy or sell."))
    if tif not in {t.value for t in TimeInForce}:
        found["time_in_force"] = translate(request, N_("Choose how long the order stands."))
    if not field_text(form, "account"):
        found["account"] = translate(request, N_("Choose an account."))
    if found or quantity is None:
        return _product_page(request, db, settings, me, code, found, values, 422)
    placed: list[str] = []
    refused = await refusal_of(lambda session: placed.append(book.place_order(session, me, code, book.OrderTerms(
        OrderSide(side), field_text(form, "account"), quantity, price, TimeInForce(tif)), _fees(settings),
        settings.market_now()).order.public_id), db)
    if refused:
        return _product_page(request, db, settings, me, code,
                             {field_of(refused.message, ORDER_FIELDS, "_"): refused.message}, values,
                             error_status(refused))
    return redirect(f"/workspace/orders?placed={placed[0]}")


@router.post("/market/products/{code}/state", response_class=HTMLResponse)
async def set_state(request: Request, code: str, db: DB, party: Viewer, settings: AppSettings) -> Response:
    me = require(party, request, Role.REGISTRAR)
    form = await checked_form(request)
    state = field_text(form, "state")
    if state not in {s.value for s in ProductState}:
        return _product_page(request, db, settings, me, code, {"reason": translate(
            request, N_("Choose halt, resume or close."))}, entered_values(form), 422)
    refused = await refusal_of(lambda session: book.set_state(
        session, me, products.get_product(session, code), ProductState(state), field_text(form, "reason")), db)
    if refused:
        return _product_page(request, db, settings, me, code, {"reason": refused.message}, entered_values(form),
                             error_status(refused))
    return redirect(f"/market/products/{code}")


@router.post("/market/products/{code}/schedule", response_class=HTMLResponse)
async def set_schedule(request: Request, code: str, db: DB, party: Viewer, settings: AppSettings) -> Response:
    me = require(party, request, Role.REGISTRAR)
    form = await checked_form(request)
    refused = await refusal_of(lambda session: products.set_schedule(
        session, me, products.get_product(session, code), field_text(form, "sessions"), field_text(form, "weekdays")),
        db)
    if refused:
        return _product_page(request, db, settings, me, code,
                             {field_of(refused.message, [("weekday", "weekdays")], "sessions"): refused.message},
                             entered_values(form), error_status(refused))
    return redirect(f"/market/products/{code}")


# --- listing a product (the registrar) ----------------------------------------------------------------


def _new_product_page(request: Request, me: Party, errors_: dict[str, str] | None = None,
                      values: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    kinds = [(kind.value, translate(request, label)) for kind, label in (
        (CreditKind.ANY, N_("any")), (CreditKind.REDUCTIONS, N_("reductions")), (CreditKind.REMOVALS, N_("removals")))]
    return render(request, "market/product_new.html", me, translate(request, N_("List a product")), {
        "kinds": kinds, "errors": errors_ or {},
        "values": values or {"lot": "1", "tick": "0.01", "band_pct": "10", "sessions": "09:30-11:30,13:00-15:00",
                             "weekdays": "12345", "credit_kind": "any"}}, status_code)


def _words(text: str) -> list[str]:
    return [word.strip() for word in text.replace(",", " ").split() if word.strip()]


@router.post("/market/products", response_class=HTMLResponse)
async def list_product(request: Request, db: DB, party: Viewer) -> Response:
    me = require(party, request, Role.REGISTRAR)
    form = await checked_form(request)
    values = entered_values(form)
    found: dict[str, str] = {}
    lot = tonnes_field(request, field_text(form, "lot"), found)
    if "quantity" in found:
        found["lot"] = found.pop("quantity")
    tick = yuan_field(request, field_text(form, "tick"), found, "tick")
    reference = yuan_field(request, field_text(form, "reference"), found, "reference") \
        if field_text(form, "reference") else None
    numbers = {}
    for name in ("vintage_from", "vintage_to", "band_pct"):
        text = field_text(form, name)
        if text and not text.isdigit():
            found[name] = translate(request, N_("Enter a whole number."))
        numbers[name] = int(text) if text.isdigit() else None
    if found or lot is None or tick is None:
        return _new_product_page(request, me, found, values, 422)
    spec = products.ProductSpec(
        field_text(form, "code"), field_text(form, "name"), _words(field_text(form, "methodologies")),
        _words(field_text(form, "regions")), numbers["vintage_from"], numbers["vintage_to"],
        CreditKind(field_text(form, "credit_kind") or "any"), lot, tick, numbers["band_pct"] or 10, reference,
        field_text(form, "sessions"), field_text(form, "weekdays"))
    refused = await refusal_of(lambda session: products.list_product(session, me, spec), db)
    if refused:
        field = field_of(refused.message, [("code", "code"), ("name", "name"), ("methodolog", "methodologies"),
                                       ("vintage", "vintage_from"), ("lot", "lot"), ("tick", "tick"),
                                       ("band", "band_pct"), ("reference", "reference"), ("weekday", "weekdays"),
                                       ("session", "sessions"), ("zone", "sessions")], "code")
        return _new_product_page(request, me, {field: refused.message}, values, error_status(refused))
    return redirect(f"/market/products/{spec.code}")


# --- a party's orders ---------------------------------------------------------------------------------


def _orders_page(request: Request, db: DB, settings: Settings, me: Party, placed: str | None = None,
                 errors_: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    expire_day_orders(db, settings)
    with db.read() as session:
        rows = session.execute(book.orders_of(me).limit(100)).scalars().all()
        orders = [queries.order_out(session, order) for order in rows]
        just_placed = None
        if placed:
            order = session.execute(select(BookOrder).where(col(BookOrder.public_id) == placed,
                                                            col(BookOrder.party_id) == me.id)).scalar_one_or_none()
            if order is not None:
                just_placed = (queries.order_out(session, order), [
                    queries.trade_out(session, trade) for trade in session.execute(
                        select(Trade).where((col(Trade.buy_ref) == placed) | (col(Trade.sell_ref) == placed))
                        .order_by(col(Trade.id))).scalars()])
    return render(request, "market/orders.html", me, translate(request, N_("Orders")), {
        "open_orders": [o for o in orders if o.status == "open"],
        "closed_orders": [o for o in orders if o.status != "open"][:50], "placed": just_placed,
        "errors": errors_ or {}}, status_code)


@router.get("/workspace/orders", response_class=HTMLResponse)
def orders_page(request: Request, db: DB, party: Viewer, settings: AppSettings, placed: Text = None) -> HTMLResponse:
    return _orders_page(request, db, settings, require(party, request), placed)


@router.post("/workspace/orders/{order_id}/cancellation", response_class=HTMLResponse)
async def cancel_order(request: Request, order_id: str, db: DB, party: Viewer, settings: AppSettings) -> Response:
    me = require(party, request)
    await checked_form(request)
    refused = await refusal_of(lambda session: book.cancel_order(session, me, order_id), db)
    if refused:
        return _orders_page(request, db, settings, me, None, {f"amend_{order_id}": refused.message},
                            error_status(refused))
    return redirect("/workspace/orders")


@router.post("/workspace/orders/{order_id}/amendment", response_class=HTMLResponse)
async def amend_order(request: Request, order_id: str, db: DB, party: Viewer, settings: AppSettings) -> Response:
    me = require(party, request)
    form = await checked_form(request)
    found: dict[str, str] = {}
    price_text, quantity_text = field_text(form, f"price_{order_id}"), field_text(form, f"quantity_{order_id}")
    price = yuan_field(request, price_text, found, f"amend_{order_id}") if price_text else None
    quantity = tonnes_field(request, quantity_text, found) if quantity_text else None
    if "quantity" in found:
        found[f"amend_{order_id}"] = found.pop("quantity")
    if not found and price is None and quantity is None:
        found[f"amend_{order_id}"] = translate(request, N_("Give a new price or a new quantity."))
    if found:
        return _orders_page(request, db, settings, me, None, found, 422)
    refused = await refusal_of(lambda session: book.amend_order(session, me, order_id, price, quantity, _fees(settings),
                                                             settings.market_now()), db)
    if refused:
        return _orders_page(request, db, settings, me, None, {f"amend_{order_id}": refused.message},
                            error_status(refused))
    return redirect(f"/workspace/orders?placed={order_id}")
