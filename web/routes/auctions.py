"""Auction pages (单向竞价): the list, announcing a lot, bidding sealed, and after the close the results
with the anonymous demand curve. Each action calls the service the JSON API calls, as the signed-in
party; a refusal is the service's own sentence, next to its field. A page that reads auctions first
clears those whose window has closed, as the API does, so nobody reads a stale "open".

Times are shown and entered in Beijing time (Asia/Shanghai), the market's own clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col

from api.deps import DB, AppSettings
from api.routes.auctions import clear_due_auctions
from registry.models import Party
from registry.queries import page, public_name
from registry.settings import Settings
from trading import auctions, products, queries
from trading.auctions import MARKET_TIMEZONE
from trading.models import Auction, AuctionRule, AuctionStatus, Product
from trading.schemas import AuctionOut
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
from web.routes.workspace import day_field, field_of, holding_accounts, tonnes_field

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Text = Annotated[str | None, Query(max_length=200)]
LIST_PAGE = 25
TITLE_MAX = 200  # as the API's AuctionIn.title

# The field a refusal of the service is about, by a word of its sentence (the first match wins).
ANNOUNCE_FIELDS = [("suspended", "_"), ("open one first", "_"), ("title", "title"), ("window", "closes_on"),
                   ("minimum bid", "min_bid"), ("reserve", "reserve"), ("holds", "quantity"), ("admit", "product"),
                   ("account", "from_account"), ("lot", "quantity"), ("product", "product")]
BID_FIELDS = [("suspended", "_"), ("open one first", "_"), ("reserve", "price"), ("fen per tonne", "price"),
              ("cash", "price"), ("kg", "quantity"), ("account", "to_account")]


def _fees(settings: Settings) -> Fees:
    return Fees(settings.market_fee_buyer_bp, settings.market_fee_seller_bp)


def _beijing(at: datetime) -> datetime:
    """A stored instant (naive UTC on SQLite) in the market's time zone."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(MARKET_TIMEZONE)


def _auction_view(out: AuctionOut) -> AuctionOut:
    return out.model_copy(update={"opens_at": _beijing(out.opens_at), "closes_at": _beijing(out.closes_at)})


# --- the list ----------------------------------------------------------------------------------------


@router.get("/auctions", response_class=HTMLResponse)
def auction_list(request: Request, db: DB, party: Viewer, settings: AppSettings, cursor: Text = None,
                 open_cursor: Text = None) -> HTMLResponse:
    clear_due_auctions(db, settings)
    with db.read() as session:
        running, next_open = page(session, auctions.auctions_query(AuctionStatus.OPEN), col(Auction.id),
                                  open_cursor or None, LIST_PAGE)
        finished, next_finished = page(
            session, auctions.auctions_query().where(col(Auction.status) != AuctionStatus.OPEN.value),
            col(Auction.id), cursor or None, LIST_PAGE)
        open_out = [_auction_view(queries.auction_out(session, row[0])) for row in running]
        finished_out = [_auction_view(queries.auction_out(session, row[0])) for row in finished]
        can_announce = party is not None and bool(holding_accounts(session, party))
    kept = {"open_cursor": open_cursor or None, "cursor": cursor or None}

    def next_url(**changed: str | None) -> str | None:
        query = {name: value for name, value in {**kept, **changed}.items() if value}
        return f"/auctions?{urlencode(query)}"

    return render(request, "auctions/list.html", party, translate(request, N_("Auctions")), {
        "open": open_out, "finished": finished_out, "can_announce": can_announce,
        "next_open_url": next_url(open_cursor=next_open) if next_open else None,
        "next_finished_url": next_url(cursor=next_finished) if next_finished else None})


# --- announcing a lot --------------------------------------------------------------------------------


def _announce_page(request: Request, db: DB, settings: Settings, me: Party, errors_: dict[str, str] | None = None,
                   values: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    with db.read() as session:
        accounts = [(a.public_id, f"{a.name} ({a.public_id})") for a in holding_accounts(session, me)]
        product_options = [(p.code, f"{p.name} ({p.code})")
                           for p in session.execute(products.products_query()).scalars()]
    tomorrow = _beijing(settings.market_now()).date() + timedelta(days=1)
    return render(request, "auctions/new.html", me, translate(request, N_("Announce an auction")), {
        "accounts": accounts, "products": product_options, "errors": errors_ or {},
        "values": values or {"closes_on": tomorrow.isoformat(), "closes_time": "15:00",
                             "rule": AuctionRule.UNIFORM.value}}, status_code)


@router.get("/auctions/new", response_class=HTMLResponse)
def announce_page(request: Request, db: DB, party: Viewer, settings: AppSettings) -> HTMLResponse:
    return _announce_page(request, db, settings, require(party, request))


def _time_field(request: Request, text: str, found: dict[str, str], name: str) -> time | None:
    try:
        return time.fromisoformat(text)
    except ValueError:
        found[name] = translate(request, N_("Enter a time of day, like 15:00."))
        return None


@router.post("/auctions", response_class=HTMLResponse)
async def announce(request: Request, db: DB, party: Viewer, settings: AppSettings) -> Response:
    me = require(party, request)
    form = await checked_form(request)
    values = entered_values(form)
    found: dict[str, str] = {}
    title = field_text(form, "title")
    if not title:
        found["title"] = translate(request, N_("Give the auction a title."))
    elif len(title) > TITLE_MAX:
        found["title"] = translate(request, N_("Keep the title to 200 characters."))
    if not field_text(form, "from_account"):
        found["from_account"] = translate(request, N_("Choose the account the lot comes from."))
    quantity = tonnes_field(request, field_text(form, "quantity"), found)
    reserve = yuan_field(request, field_text(form, "reserve"), found, "reserve")
    closes_on = day_field(request, field_text(form, "closes_on"), found, "closes_on")
    closes_time = _time_field(request, field_text(form, "closes_time"), found, "closes_time")
    rule = field_text(form, "rule")
    if rule not in {r.value for r in AuctionRule}:
        found["rule"] = translate(request, N_("Choose how the winners pay."))
    min_bid = None
    if field_text(form, "min_bid"):
        checked: dict[str, str] = {}  # tonnes_field names its refusal "quantity"
        min_bid = tonnes_field(request, field_text(form, "min_bid"), checked)
        if checked:
            found["min_bid"] = checked["quantity"]
    if found or quantity is None or reserve is None or closes_on is None or closes_time is None:
        return _announce_page(request, db, settings, me, found, values, 422)
    lot = auctions.Lot(title, quantity, reserve, datetime.combine(closes_on, closes_time, tzinfo=MARKET_TIMEZONE),
                       AuctionRule(rule), min_bid, product=field_text(form, "product") or None,
                       from_account=field_text(form, "from_account"))
    announced: list[str] = []
    refused = await refusal_of(lambda session: announced.append(
        auctions.announce(session, me, lot, settings.market_now()).public_id), db)
    if refused:
        return _announce_page(request, db, settings, me,
                              {field_of(refused.message, ANNOUNCE_FIELDS, "_"): refused.message}, values,
                              error_status(refused))
    return redirect(f"/auctions/{announced[0]}")


# --- an auction: its terms, sealed bids, and the results ---------------------------------------------


def _seller_name(session: Session, auction: Auction) -> str:
    seller = session.get(Party, auction.seller_party_id)
    assert seller is not None
    return public_name(seller.name, seller.kind)


def _demand_rows(curve: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(price, kg bid at exactly that price, kg bid at it or higher), highest price first."""
    return [(price, cumulative - (curve[i - 1][1] if i else 0), cumulative)
            for i, (price, cumulative) in enumerate(curve)]


def _auction_page(request: Request, db: DB, settings: Settings, party: Party | None, auction_id: str,
                  errors_: dict[str, str] | None = None, values: dict[str, str] | None = None,
                  status_code: int = 200) -> HTMLResponse:
    clear_due_auctions(db, settings)
    now = _beijing(settings.market_now())
    with db.read() as session:
        auction = auctions.get_auction(session, auction_id)
        out = queries.auction_out(session, auction)
        seller = _seller_name(session, auction)
        product = session.get(Product, auction.product_id) if auction.product_id is not None else None
        is_seller = party is not None and party.id in (auction.seller_party_id, auction.announcer_party_id)
        mine = [queries.bid_out(session, bid) for bid in auctions.bids_of(session, party, auction)] \
            if party and not is_seller else []
        accounts = [(a.public_id, f"{a.name} ({a.public_id})") for a in holding_accounts(session, party)] \
            if party and not is_seller else []
    view = _auction_view(out)
    taking_bids = out.status == AuctionStatus.OPEN and view.opens_at <= now < view.closes_at
    curve = [(point.price_fen_per_t, point.cumulative_kg) for point in out.demand_curve]
    chart = charts.demand_chart(
        translate(request, N_("Demand curve: tonnes bid at each price or higher")), curve, out.quantity_kg,
        out.clearing_price_fen, translate(request, N_("yuan/t")), translate(request, N_("t")),
        translate(request, N_("Quantity offered")), translate(request, N_("Clearing price"))) if curve else None
    return render(request, "auctions/auction.html", party, out.title, {
        "auction": view, "seller": seller, "product_name": product.name if product else None,
        "is_seller": is_seller, "taking_bids": taking_bids, "not_yet_open": now < view.opens_at,
        "mine": mine, "accounts": accounts, "chart": chart, "demand": _demand_rows(curve),
        "errors": errors_ or {}, "values": values or {}}, status_code)


@router.get("/auctions/{auction_id}", response_class=HTMLResponse)
def auction_page(request: Request, auction_id: str, db: DB, party: Viewer, settings: AppSettings) -> HTMLResponse:
    return _auction_page(request, db, settings, party, auction_id)


@router.post("/auctions/{auction_id}/bids", response_class=HTMLResponse)
async def place_bid(request: Request, auction_id: str, db: DB, party: Viewer, settings: AppSettings) -> Response:
    me = require(party, request)
    form = await checked_form(request)
    values = entered_values(form)
    found: dict[str, str] = {}
    if not field_text(form, "to_account"):
        found["to_account"] = translate(request, N_("Choose the account that receives the credits."))
    quantity = tonnes_field(request, field_text(form, "quantity"), found)
    price = yuan_field(request, field_text(form, "price"), found, "price")
    if found or quantity is None or price is None:
        return _auction_page(request, db, settings, me, auction_id, found, values, 422)
    refused = await refusal_of(lambda session: auctions.place_bid(
        session, me, auction_id, field_text(form, "to_account"), quantity, price, _fees(settings),
        settings.market_now()), db)
    if refused:
        return _auction_page(request, db, settings, me, auction_id,
                             {field_of(refused.message, BID_FIELDS, "_"): refused.message}, values,
                             error_status(refused))
    return redirect(f"/auctions/{auction_id}#bids-heading")
