"""Market pages: the public tape; a party's cash account, its offers (made and received) and its
pledges; the settlement bank's confirmations. Each action calls the service the JSON API calls,
as the signed-in party; a refusal is the service's own sentence, next to its field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import or_, select
from sqlmodel import col
from starlette.concurrency import run_in_threadpool

from api.deps import DB, AppSettings
from registry import errors
from registry.credits import OldestFirstSelection
from registry.errors import RegistryError
from registry.models import Party, PartyStatus, Role
from registry.queries import page
from registry.settings import Settings
from trading import cash, market, offers, pledges, products, queries
from trading.errors import UnknownOffer, UnknownPledge, UnknownWithdrawal
from trading.models import Offer, Pledge, TradeLine, Withdrawal, WithdrawalStatus
from trading.settlement import Fees
from web.i18n import N_
from web.pages import PageRoute, Viewer, checked_form, error_status, redirect, render, require, translate
from web.reports_view import entered_values, field_text
from web.routes.workspace import day_field, field_of, holding_accounts, tonnes_field

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Text = Annotated[str | None, Query(max_length=200)]
LIST_PAGE = 50


def yuan_field(request: Request, text: str, found: dict[str, str], name: str) -> int | None:
    """Yuan with up to two decimals, as integer fen; the refusal goes next to field `name`."""
    try:
        value = Decimal(text.replace(",", "").strip())
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")) or value > 10**10:
        found[name] = translate(request, N_("Give an amount in yuan, with at most two decimals."))
        return None
    return int(value * 100)


async def _run(request: Request, command: Callable[[], object], on_refusal: Callable[[dict[str, str], int], Response],
               field: Callable[[str], str]) -> Response | None:
    """Run a command; on a refusal show the page again with the service's sentence next to a field.
    An offer, pledge or withdrawal that does not exist is the not-found page instead."""
    try:
        await run_in_threadpool(command)
    except (UnknownOffer, UnknownPledge, UnknownWithdrawal):
        raise
    except RegistryError as exc:
        return on_refusal({field(exc.message): exc.message}, error_status(exc))
    return None


# --- the public tape ---------------------------------------------------------------------------------


@router.get("/market", response_class=HTMLResponse)
def tape(request: Request, db: DB, party: Viewer, settings: AppSettings, methodology: Text = None,
         region: Text = None, cursor: Text = None) -> HTMLResponse:
    filters = {"methodology": methodology or None, "region": region or None}
    with db.read() as session:
        listed = [queries.product_out(session, product, settings.market_now())
                  for product in session.execute(products.products_query()).scalars()]
        rows, next_cursor = page(session, market.tape_query(market.TapeFilter(
            methodology_id=filters["methodology"], region=filters["region"])), col(TradeLine.id), cursor or None,
            LIST_PAGE)
        trades = [queries.tape_row_out(row) for row in rows]
    kept = {name: value for name, value in filters.items() if value}
    return render(request, "market/tape.html", party, translate(request, N_("Market")), {
        "trades": trades, "filters": filters, "products": listed,
        "is_registrar": party is not None and Role.REGISTRAR.value in party.role_set,
        "next_url": f"/market?{urlencode({**kept, 'cursor': next_cursor})}" if next_cursor else None,
        "csv_url": f"/api/v1/market/trades?{urlencode({**kept, 'format': 'csv'})}"})


# --- cash --------------------------------------------------------------------------------------------


def _cash_page(request: Request, db: DB, me: Party, errors_: dict[str, str] | None = None,
               values: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    with db.read() as session:
        account = session.execute(select(cash.CashAccount).where(col(cash.CashAccount.party_id) == me.id)
                                  ).scalar_one_or_none()
        statement = queries.statement(session, account, 100) if account else []
        withdrawals = [queries.withdrawal_out(session, w) for w in session.execute(
            select(Withdrawal).where(col(Withdrawal.account_id) == (account.id if account else -1))
            .order_by(col(Withdrawal.id).desc()).limit(20)).scalars()]
        account_out = queries.cash_account_out(session, account) if account else None
    return render(request, "market/cash.html", me, translate(request, N_("Cash")), {
        "account": account_out, "statement": statement, "withdrawals": withdrawals, "errors": errors_ or {},
        "values": values or {}}, status_code)


@router.get("/workspace/cash", response_class=HTMLResponse)
def cash_page(request: Request, db: DB, party: Viewer) -> HTMLResponse:
    return _cash_page(request, db, require(party, request))


@router.post("/workspace/cash", response_class=HTMLResponse)
async def open_cash(request: Request, db: DB, party: Viewer) -> Response:
    me = require(party, request)
    await checked_form(request)

    def run() -> None:
        with db.write() as session:
            cash.open_cash_account(session, me)

    refused = await _run(request, run, lambda e, s: _cash_page(request, db, me, e, None, s), lambda _: "_")
    return refused or redirect("/workspace/cash")


@router.post("/workspace/cash/withdrawals", response_class=HTMLResponse)
async def withdraw(request: Request, db: DB, party: Viewer) -> Response:
    me = require(party, request)
    form = await checked_form(request)
    values = entered_values(form)
    found: dict[str, str] = {}
    amount = yuan_field(request, field_text(form, "amount"), found, "amount")
    if amount is None:
        return _cash_page(request, db, me, found, values, 422)

    def run() -> None:
        with db.write() as session:
            cash.request_withdrawal(session, me, amount)

    refused = await _run(request, run, lambda e, s: _cash_page(request, db, me, e, values, s), lambda _: "amount")
    return refused or redirect("/workspace/cash")


@router.post("/workspace/cash/withdrawals/{withdrawal_id}/cancellation", response_class=HTMLResponse)
async def cancel_withdrawal(request: Request, withdrawal_id: str, db: DB, party: Viewer) -> Response:
    me = require(party, request)
    await checked_form(request)

    def run() -> None:
        with db.write() as session:
            cash.cancel_withdrawal(session, me, cash.get_withdrawal(session, withdrawal_id), "cancelled by the party")

    refused = await _run(request, run, lambda e, s: _cash_page(request, db, me, e, None, s), lambda _: "_")
    return refused or redirect("/workspace/cash")


# --- offers ------------------------------------------------------------------------------------------


def _offers_page(request: Request, db: DB, me: Party, errors_: dict[str, str] | None = None,
                 values: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    with db.write() as session:
        offers.expire_due_offers(session)
    with db.read() as session:
        made = [queries.offer_out(session, o) for o in session.execute(
            select(Offer).where(col(Offer.seller_party_id) == me.id).order_by(col(Offer.id).desc()).limit(50)
        ).scalars()]
        received = [queries.offer_out(session, o) for o in session.execute(
            select(Offer).where(col(Offer.buyer_party_id) == me.id).order_by(col(Offer.id).desc()).limit(50)
        ).scalars()]
        accounts = [(a.public_id, f"{a.name} ({a.public_id})") for a in holding_accounts(session, me)]
        buyers = [(p.public_id, f"{p.name} ({p.public_id})") for p in session.execute(
            select(Party).where(col(Party.id) != me.id, col(Party.status) == PartyStatus.ACTIVE.value,
                                or_(col(Party.roles).contains(Role.BUYER.value),
                                    col(Party.roles).contains(Role.PROJECT_OWNER.value)))
            .order_by(col(Party.name))).scalars()]
    expires = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    return render(request, "market/offers.html", me, translate(request, N_("Offers")), {
        "made": made, "received": received, "accounts": accounts, "buyers": buyers, "errors": errors_ or {},
        "values": values or {"expires_on": expires}}, status_code)


@router.get("/workspace/offers", response_class=HTMLResponse)
def offers_page(request: Request, db: DB, party: Viewer) -> HTMLResponse:
    return _offers_page(request, db, require(party, request))


OFFER_FIELDS = [("price", "price"), ("band", "price"), ("expire", "expires_on"), ("holds", "quantity"),
                ("quantity", "quantity"), ("account", "account"), ("buyer", "buyer"), ("party", "buyer")]


@router.post("/workspace/offers", response_class=HTMLResponse)
async def make_offer(request: Request, db: DB, party: Viewer, settings: AppSettings) -> Response:
    me = require(party, request)
    form = await checked_form(request)
    values = entered_values(form)
    found: dict[str, str] = {}
    quantity = tonnes_field(request, field_text(form, "quantity"), found)
    price = yuan_field(request, field_text(form, "price"), found, "price")
    expires_on = day_field(request, field_text(form, "expires_on"), found, "expires_on")
    for name, message in (("buyer", N_("Choose the buyer.")), ("account", N_("Choose the account to sell from."))):
        if not field_text(form, name):
            found[name] = translate(request, message)
    if found or quantity is None or price is None or expires_on is None:
        return _offers_page(request, db, me, found, values, 422)
    expires_at = datetime.combine(expires_on, datetime.max.time().replace(microsecond=0), tzinfo=UTC)

    def run() -> None:
        with db.write() as session:
            offers.make_offer(session, me, offers.OfferTerms(
                field_text(form, "buyer"), field_text(form, "account"), quantity, OldestFirstSelection(), price,
                expires_at, field_text(form, "note")), settings.bilateral_band_pct)

    refused = await _run(request, run, lambda e, s: _offers_page(request, db, me, e, values, s),
                         lambda message: field_of(message, OFFER_FIELDS, "_"))
    return refused or redirect("/workspace/offers")


def _fees(settings: Settings) -> Fees:
    return Fees(settings.market_fee_buyer_bp, settings.market_fee_seller_bp)


@router.post("/workspace/offers/{offer_id}/decision", response_class=HTMLResponse)
async def decide_offer(request: Request, offer_id: str, db: DB, party: Viewer, settings: AppSettings) -> Response:
    me = require(party, request)
    form = await checked_form(request)
    decision = field_text(form, "decision")
    if decision not in ("accept", "reject", "withdraw"):
        raise errors.InvalidRequest("decide accept, reject or withdraw")

    def run() -> None:
        with db.write() as session:
            offer = offers.get_readable_offer(session, me, offer_id)
            if decision == "accept":
                offers.accept_offer(session, me, offer, field_text(form, f"to_{offer_id}"), _fees(settings))
            elif decision == "reject":
                offers.reject_offer(session, me, offer)
            else:
                offers.withdraw_offer(session, me, offer)

    refused = await _run(request, run, lambda e, s: _offers_page(request, db, me, e, None, s),
                         lambda _: f"to_{offer_id}")
    return refused or redirect("/workspace/offers")


# --- pledges -----------------------------------------------------------------------------------------


def _pledges_page(request: Request, db: DB, me: Party, errors_: dict[str, str] | None = None,
                  values: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    with db.read() as session:
        mine = [queries.pledge_out(session, p) for p in session.execute(
            select(Pledge).where(or_(col(Pledge.holder_party_id) == me.id, col(Pledge.pledgee_party_id) == me.id))
            .order_by(col(Pledge.id).desc()).limit(50)).scalars()]
        accounts = [(a.public_id, f"{a.name} ({a.public_id})") for a in holding_accounts(session, me)]
        banks = [(p.public_id, p.name) for p in session.execute(
            select(Party).where(col(Party.roles).contains(Role.BANK.value), col(Party.id) != me.id)).scalars()]
    maturity = (date.today() + timedelta(days=180)).isoformat()
    return render(request, "market/pledges.html", me, translate(request, N_("Pledges")), {
        "pledges": mine, "accounts": accounts, "banks": banks, "me": me.public_id,
        "today": date.today(), "errors": errors_ or {}, "values": values or {"maturity": maturity}}, status_code)


@router.get("/workspace/pledges", response_class=HTMLResponse)
def pledges_page(request: Request, db: DB, party: Viewer) -> HTMLResponse:
    return _pledges_page(request, db, require(party, request))


@router.post("/workspace/pledges", response_class=HTMLResponse)
async def make_pledge(request: Request, db: DB, party: Viewer) -> Response:
    me = require(party, request)
    form = await checked_form(request)
    values = entered_values(form)
    found: dict[str, str] = {}
    quantity = tonnes_field(request, field_text(form, "quantity"), found)
    maturity = day_field(request, field_text(form, "maturity"), found, "maturity")
    for name, message in (("pledgee", N_("Choose the bank.")), ("account", N_("Choose the account to pledge from.")),
                          ("loan_reference", N_("Give the bank's loan reference."))):
        if not field_text(form, name):
            found[name] = translate(request, message)
    if found or quantity is None or maturity is None:
        return _pledges_page(request, db, me, found, values, 422)

    def run() -> None:
        with db.write() as session:
            pledges.pledge_credits(session, me, pledges.PledgeTerms(
                field_text(form, "pledgee"), field_text(form, "account"), quantity, OldestFirstSelection(),
                field_text(form, "loan_reference"), maturity))

    refused = await _run(request, run, lambda e, s: _pledges_page(request, db, me, e, values, s),
                         lambda message: field_of(message, [("maturity", "maturity"), ("holds", "quantity"),
                                                            ("quantity", "quantity"), ("account", "account")], "_"))
    return refused or redirect("/workspace/pledges")


@router.post("/workspace/pledges/{pledge_id}/decision", response_class=HTMLResponse)
async def decide_pledge(request: Request, pledge_id: str, db: DB, party: Viewer) -> Response:
    me = require(party, request, Role.BANK)
    form = await checked_form(request)
    decision = field_text(form, "decision")

    def run() -> None:
        with db.write() as session:
            pledge = pledges.get_pledge(session, pledge_id)
            if decision == "enforce":
                pledges.enforce_pledge(session, me, pledge, field_text(form, f"to_{pledge_id}"))
            else:
                pledges.release_pledge(session, me, pledge)

    refused = await _run(request, run, lambda e, s: _pledges_page(request, db, me, e, None, s),
                         lambda _: f"to_{pledge_id}")
    return refused or redirect("/workspace/pledges")


# --- the settlement bank -----------------------------------------------------------------------------


def _bank_page(request: Request, db: DB, me: Party, errors_: dict[str, str] | None = None,
               values: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    with db.read() as session:
        waiting = [queries.withdrawal_out(session, w) for w in session.execute(
            select(Withdrawal).where(col(Withdrawal.status) == WithdrawalStatus.REQUESTED.value)
            .order_by(col(Withdrawal.id))).scalars()]
        accounts: list[tuple[str, str]] = [
            (a.public_id, f"{p.name} ({a.public_id})") for a, p in session.execute(
                select(cash.CashAccount, Party).join(Party, col(Party.id) == col(cash.CashAccount.party_id))
                .order_by(col(Party.name))).all()]
        recent = queries.statement(session, cash.system_account(session, cash.CLEARING_ACCOUNT), 20)
    return render(request, "market/bank.html", me, translate(request, N_("Settlement bank")), {
        "waiting": waiting, "accounts": accounts, "recent": recent, "errors": errors_ or {},
        "values": values or {}}, status_code)


@router.get("/bank", response_class=HTMLResponse)
def bank_page(request: Request, db: DB, party: Viewer) -> HTMLResponse:
    return _bank_page(request, db, require(party, request, Role.BANK))


@router.post("/bank/deposits", response_class=HTMLResponse)
async def confirm_deposit(request: Request, db: DB, party: Viewer) -> Response:
    me = require(party, request, Role.BANK)
    form = await checked_form(request)
    values = entered_values(form)
    found: dict[str, str] = {}
    amount = yuan_field(request, field_text(form, "amount"), found, "amount")
    if not field_text(form, "account"):
        found["account"] = translate(request, N_("Choose the account the money is for."))
    if amount is None or found:
        return _bank_page(request, db, me, found, values, 422)

    def run() -> None:
        with db.write() as session:
            cash.confirm_deposit(session, me, field_text(form, "account"), amount, field_text(form, "bank_reference"))

    refused = await _run(request, run, lambda e, s: _bank_page(request, db, me, e, values, s),
                         lambda message: "bank_reference" if "reference" in message else "amount")
    return refused or redirect("/bank")


@router.post("/bank/withdrawals/{withdrawal_id}/decision", response_class=HTMLResponse)
async def decide_withdrawal(request: Request, withdrawal_id: str, db: DB, party: Viewer) -> Response:
    me = require(party, request, Role.BANK)
    form = await checked_form(request)
    decision = field_text(form, "decision")
    field = f"reference_{withdrawal_id}"

    def run() -> None:
        with db.write() as session:
            withdrawal = cash.get_withdrawal(session, withdrawal_id)
            if decision == "pay":
                cash.pay_withdrawal(session, me, withdrawal, field_text(form, field))
            else:
                cash.cancel_withdrawal(session, me, withdrawal, "declined by the bank")

    refused = await _run(request, run, lambda e, s: _bank_page(request, db, me, e, None, s), lambda _: field)
    return refused or redirect("/bank")

