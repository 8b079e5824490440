"""The market's foundation: cash accounts and the settlement bank's confirmations, bilateral offers
settled delivery versus payment, the public tape, and pledges."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import or_, select
from sqlmodel import Session, col

from api.commands import Write
from api.deps import DB, AppSettings, Caller
from api.listing import CSV_RESPONSE, Cursor, Format, Limit, list_response
from registry.db import Database
from registry.models import Party, Role
from registry.queries import page
from registry.schemas import Page
from registry.settings import Settings
from trading import cash, market, offers, pledges, queries, schemas
from trading.errors import UnknownOffer
from trading.models import Offer, OfferStatus, Pledge, PledgeStatus, Trade, TradeLine, Withdrawal, WithdrawalStatus
from trading.settlement import Fees

router = APIRouter(prefix="/api/v1")


def _fees(settings: Settings) -> Fees:
    return Fees(settings.market_fee_buyer_bp, settings.market_fee_seller_bp)


def _expire_offers(db: Database) -> None:
    """Offers past their expiry release their credits before anyone lists or reads offers. (An
    expired offer cannot be accepted anyway; rejecting or withdrawing it releases it too.)"""
    with db.write() as s:
        offers.expire_due_offers(s)


# --- cash ---------------------------------------------------------------------------------------


@router.post("/cash-accounts", status_code=201, response_model=schemas.CashAccountOut, tags=["cash"],
             summary="Open your market cash account (one per party)")
def open_cash_account(write: Write) -> Response:
    return write(None, _open_cash_account)


def _open_cash_account(s: Session, caller: Party) -> schemas.CashAccountOut:
    return queries.cash_account_out(s, cash.open_cash_account(s, caller))


@router.get("/cash-accounts/mine", response_model=schemas.CashAccountOut, tags=["cash"],
            summary="Your market cash account: free and held balances")
def my_cash_account(db: DB, caller: Caller) -> schemas.CashAccountOut:
    with db.read() as s:
        return queries.cash_account_out(s, cash.cash_account_of(s, caller))


@router.post("/cash-accounts/mine/closure", status_code=200, response_model=schemas.CashAccountOut, tags=["cash"],
             summary="Close your cash account once it holds nothing")
def close_cash_account(write: Write) -> Response:
    return write(None, _close_cash_account)


def _close_cash_account(s: Session, caller: Party) -> schemas.CashAccountOut:
    return queries.cash_account_out(s, cash.close_cash_account(s, caller))


@router.get("/cash-accounts/{account_id}", response_model=schemas.CashAccountOut, tags=["cash"],
            summary="A cash account (its holder, the bank, the registrar, auditors)")
def get_cash_account(account_id: str, db: DB, caller: Caller) -> schemas.CashAccountOut:
    with db.read() as s:
        return queries.cash_account_out(s, cash.get_readable_cash_account(s, caller, account_id))


@router.get("/cash-accounts/{account_id}/statement", response_model=list[schemas.CashLineOut], tags=["cash"],
            summary="Every journal line of a cash account, newest first (the last 500)")
def cash_statement(account_id: str, db: DB, caller: Caller) -> list[schemas.CashLineOut]:
    with db.read() as s:
        return queries.statement(s, cash.get_readable_cash_account(s, caller, account_id))


@router.post("/cash/deposits", status_code=201, response_model=schemas.CashEntryOut, tags=["cash"],
             summary="Confirm a deposit with the bank's reference (settlement bank); a reference is used once")
def confirm_deposit(body: schemas.DepositIn, write: Write) -> Response:
    return write(body, _deposit, body)


def _deposit(s: Session, caller: Party, body: schemas.DepositIn) -> schemas.CashEntryOut:
    return queries.cash_entry_out(cash.confirm_deposit(s, caller, body.account, body.amount_fen,
                                                       body.bank_reference))


@router.post("/cash/withdrawals", status_code=201, response_model=schemas.WithdrawalOut, tags=["cash"],
             summary="Ask for free cash to be paid out: it is held until the bank pays")
def request_withdrawal(body: schemas.WithdrawalIn, write: Write) -> Response:
    return write(body, _request_withdrawal, body.amount_fen)


def _request_withdrawal(s: Session, caller: Party, amount_fen: int) -> schemas.WithdrawalOut:
    return queries.withdrawal_out(s, cash.request_withdrawal(s, caller, amount_fen))


@router.get("/cash/withdrawals", response_model=Page[schemas.WithdrawalOut], tags=["cash"],
            summary="Withdrawals: yours, or every one for the settlement bank (its queue: status=requested)")
def list_withdrawals(db: DB, caller: Caller, status: WithdrawalStatus | None = None, cursor: Cursor = None,
                     limit: Limit = 50) -> Page[schemas.WithdrawalOut]:
    query = select(Withdrawal)
    if status is not None:
        query = query.where(col(Withdrawal.status) == status.value)
    with db.read() as s:
        if Role.BANK.value not in caller.role_set:
            query = query.where(col(Withdrawal.account_id) == cash.cash_account_of(s, caller).id)
        rows, next_cursor = page(s, query, col(Withdrawal.id), cursor, limit)
        return Page(items=[queries.withdrawal_out(s, row[0]) for row in rows], next_cursor=next_cursor)


@router.post("/cash/withdrawals/{withdrawal_id}/payment", status_code=200, response_model=schemas.WithdrawalOut,
             tags=["cash"], summary="Confirm a withdrawal paid, with the bank's reference (settlement bank)")
def pay_withdrawal(withdrawal_id: str, body: schemas.WithdrawalPayment, write: Write) -> Response:
    return write(body, _pay_withdrawal, withdrawal_id, body.bank_reference)


def _pay_withdrawal(s: Session, caller: Party, withdrawal_id: str, reference: str) -> schemas.WithdrawalOut:
    return queries.withdrawal_out(s, cash.pay_withdrawal(s, caller, cash.get_withdrawal(s, withdrawal_id),
                                                         reference))


@router.post("/cash/withdrawals/{withdrawal_id}/cancellation", status_code=200, response_model=schemas.WithdrawalOut,
             tags=["cash"], summary="Cancel a withdrawal not paid yet (its holder, or the bank declining it)")
def cancel_withdrawal(withdrawal_id: str, body: schemas.WithdrawalCancellation, write: Write) -> Response:
    return write(body, _cancel_withdrawal, withdrawal_id, body.reason)


def _cancel_withdrawal(s: Session, caller: Party, withdrawal_id: str, reason: str) -> schemas.WithdrawalOut:
    return queries.withdrawal_out(s, cash.cancel_withdrawal(s, caller, cash.get_withdrawal(s, withdrawal_id),
                                                            reason))


# --- bilateral offers -----------------------------------------------------------------------------


@router.post("/market/offers", status_code=201, response_model=schemas.OfferOut, tags=["market"],
             summary="Offer credits to a named buyer at a price (协议转让): they are locked until it is decided",
             description="A serial range, or quantity_kg oldest first (optionally of a project, vintage or "
                         "methodology). Prices outside the band around the reference price are refused.")
def make_offer(body: schemas.OfferIn, write: Write, settings: AppSettings) -> Response:
    return write(body, _make_offer, body, settings.bilateral_band_pct)


def _make_offer(s: Session, caller: Party, body: schemas.OfferIn, band_pct: int) -> schemas.OfferOut:
    terms = offers.OfferTerms(body.buyer, body.from_account, body.quantity_kg, body.to_selection(),
                              body.price_fen_per_t, body.expires_at, body.note)
    return queries.offer_out(s, offers.make_offer(s, caller, terms, band_pct))


@router.get("/market/offers", response_model=Page[schemas.OfferOut], tags=["market"],
            summary="Your offers: as seller, as buyer (your inbox), or both")
def list_offers(db: DB, caller: Caller,
                role: Annotated[Literal["seller", "buyer"] | None, Query(description="Which side")] = None,
                status: OfferStatus | None = None, cursor: Cursor = None, limit: Limit = 50) -> Page[schemas.OfferOut]:
    _expire_offers(db)
    with db.read() as s:
        rows, next_cursor = page(s, offers.offers_of(caller, role, status), col(Offer.id), cursor, limit)
        return Page(items=[queries.offer_out(s, row[0]) for row in rows], next_cursor=next_cursor)


@router.get("/market/offers/{offer_id}", response_model=schemas.OfferOut, tags=["market"])
def get_offer(offer_id: str, db: DB, caller: Caller) -> schemas.OfferOut:
    _expire_offers(db)
    with db.read() as s:
        return queries.offer_out(s, offers.get_readable_offer(s, caller, offer_id))


@router.post("/market/offers/{offer_id}/acceptance", status_code=201, response_model=schemas.TradeOut, tags=["market"],
             summary="Accept an offer made to you: credits and cash move at once (delivery versus payment)")
def accept_offer(offer_id: str, body: schemas.Acceptance, write: Write, settings: AppSettings) -> Response:
    return write(body, _accept, offer_id, body.to_account, _fees(settings))


def _accept(s: Session, caller: Party, offer_id: str, to_account: str, fees: Fees) -> schemas.TradeOut:
    return queries.trade_out(s, offers.accept_offer(s, caller, _readable(s, caller, offer_id), to_account, fees))


def _readable(s: Session, caller: Party, offer_id: str) -> Offer:
    try:
        return offers.get_readable_offer(s, caller, offer_id)
    except UnknownOffer:
        raise UnknownOffer(f"no offer {offer_id} made to or by you") from None


@router.post("/market/offers/{offer_id}/rejection", status_code=200, response_model=schemas.OfferOut, tags=["market"],
             summary="Reject an offer made to you: its credits are released")
def reject_offer(offer_id: str, body: schemas.Rejection, write: Write) -> Response:
    return write(body, _reject, offer_id, body.reason)


def _reject(s: Session, caller: Party, offer_id: str, reason: str) -> schemas.OfferOut:
    return queries.offer_out(s, offers.reject_offer(s, caller, _readable(s, caller, offer_id), reason))


@router.post("/market/offers/{offer_id}/withdrawal", status_code=200, response_model=schemas.OfferOut, tags=["market"],
             summary="Withdraw your offer before it is accepted: its credits are released")
def withdraw_offer(offer_id: str, write: Write) -> Response:
    return write(None, _withdraw, offer_id)


def _withdraw(s: Session, caller: Party, offer_id: str) -> schemas.OfferOut:
    return queries.offer_out(s, offers.withdraw_offer(s, caller, _readable(s, caller, offer_id)))


# --- trades -------------------------------------------------------------------------------------


@router.get("/market/trades", response_model=Page[schemas.TapeRow], responses=CSV_RESPONSE, tags=["market"],
            summary="The public tape: every trade without the parties' names; ?format=csv exports it")
def tape(request: Request, db: DB, mode: Literal["bilateral", "book", "auction"] | None = None,
         methodology: str | None = None, region: Annotated[str | None, Query(max_length=6)] = None,
         vintage: Annotated[int | None, Query(ge=2000, le=2100)] = None,
         product: Annotated[str | None, Query(max_length=24, description="A product's code")] = None,
         cursor: Cursor = None, limit: Limit = 50, format: Format = None) -> Response:
    query = market.tape_query(market.TapeFilter(mode, methodology, region, vintage, product=product))
    return list_response(request, db, query, col(TradeLine.id), queries.tape_row_out, schemas.TapeRow, cursor,
                         limit, format, "trades.csv")


@router.get("/market/my-trades", response_model=Page[schemas.TradeOut], tags=["market"],
            summary="Your trades, with their counterparties")
def my_trades(db: DB, caller: Caller, cursor: Cursor = None, limit: Limit = 50) -> Page[schemas.TradeOut]:
    query = select(Trade).where(or_(col(Trade.seller_party_id) == caller.id, col(Trade.buyer_party_id) == caller.id))
    with db.read() as s:
        rows, next_cursor = page(s, query, col(Trade.id), cursor, limit)
        return Page(items=[queries.trade_out(s, row[0]) for row in rows], next_cursor=next_cursor)


# --- pledges ------------------------------------------------------------------------------------


@router.post("/pledges", status_code=201, response_model=schemas.PledgeOut, tags=["pledges"],
             summary="Pledge credits to a bank for a loan (质押): locked under the pledge, a public fact")
def pledge(body: schemas.PledgeIn, write: Write) -> Response:
    return write(body, _pledge, body)


def _pledge(s: Session, caller: Party, body: schemas.PledgeIn) -> schemas.PledgeOut:
    terms = pledges.PledgeTerms(body.pledgee, body.from_account, body.quantity_kg, body.to_selection(),
                                body.loan_reference, body.maturity)
    return queries.pledge_out(s, pledges.pledge_credits(s, caller, terms))


@router.get("/pledges", response_model=Page[schemas.PledgeOut], tags=["pledges"],
            summary="Pledges on credits (public): by party (holder or pledgee), account, status")
def list_pledges(db: DB, party: str | None = None, account: str | None = None, status: PledgeStatus | None = None,
                 cursor: Cursor = None, limit: Limit = 50) -> Page[schemas.PledgeOut]:
    with db.read() as s:
        rows, next_cursor = page(s, pledges.pledges_query(party, account, status), col(Pledge.id), cursor, limit)
        return Page(items=[queries.pledge_out(s, row[0]) for row in rows], next_cursor=next_cursor)


@router.post("/pledges/{pledge_id}/release", status_code=200, response_model=schemas.PledgeOut, tags=["pledges"],
             summary="Release a pledge (its pledgee): the credits are the holder's to move again")
def release_pledge(pledge_id: str, write: Write) -> Response:
    return write(None, _release, pledge_id)


def _release(s: Session, caller: Party, pledge_id: str) -> schemas.PledgeOut:
    return queries.pledge_out(s, pledges.release_pledge(s, caller, pledges.get_pledge(s, pledge_id)))


@router.post("/pledges/{pledge_id}/enforcement", status_code=200, response_model=schemas.PledgeOut,
             tags=["pledges"], summary="Enforce a matured pledge (its pledgee): take the credits into your account")
def enforce_pledge(pledge_id: str, body: schemas.Enforcement, write: Write) -> Response:
    return write(body, _enforce, pledge_id, body.to_account)


def _enforce(s: Session, caller: Party, pledge_id: str, to_account: str) -> schemas.PledgeOut:
    return queries.pledge_out(s, pledges.enforce_pledge(s, caller, pledges.get_pledge(s, pledge_id), to_account))
