"""One-sided auctions (单向竞价): a seller or a pledgee announces a lot; parties place sealed bids in the
window; after the close the lot clears and settles, and the results are public."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlmodel import Session, col

from api.commands import Write
from api.deps import DB, AppSettings, Caller
from api.listing import Cursor, Limit
from registry import credits
from registry.db import Database
from registry.models import Party
from registry.queries import page
from registry.schemas import Page
from registry.settings import Settings
from trading import auctions, queries, schemas
from trading.errors import AuctionNotOpen
from trading.models import Auction, AuctionRule, AuctionStatus
from trading.settlement import Fees

router = APIRouter(prefix="/api/v1")


def _fees(settings: Settings) -> Fees:
    return Fees(settings.market_fee_buyer_bp, settings.market_fee_seller_bp)


def clear_due_auctions(db: Database, settings: Settings) -> None:
    """Auctions whose window has closed clear before anyone reads them; nothing due, nothing written."""
    now = settings.market_now()
    with db.read() as s:
        due = auctions.due_auctions(s, now)
    for public_id in due:
        try:
            with db.write() as s:
                auctions.clear(s, public_id, _fees(settings), now)
        except AuctionNotOpen:
            pass  # another request cleared it first


@router.post("/auctions", status_code=201, response_model=schemas.AuctionOut, tags=["auctions"],
             summary="Announce an auction (单向竞价): the lot's credits are locked; bids are sealed until the close",
             description="A product's qualifying credits (oldest first) or named serials from your account; or, "
                         "for a pledgee, a matured pledge's credits, paid first up to the amount it secures.")
def announce(body: schemas.AuctionIn, write: Write, settings: AppSettings) -> Response:
    return write(body, _announce, body, settings)


def _announce(s: Session, caller: Party, body: schemas.AuctionIn, settings: Settings) -> schemas.AuctionOut:
    selection = None
    if body.serial_range is not None:
        r = body.serial_range
        selection = credits.SerialRangeSelection(r.issuance, r.first_unit, r.last_unit)
    lot = auctions.Lot(body.title, body.quantity_kg, body.reserve_price_fen, body.closes_at, AuctionRule(body.rule),
                       body.min_bid_kg, body.opens_at, body.product, body.from_account, selection, body.pledge,
                       body.secured_amount_fen)
    return queries.auction_out(s, auctions.announce(s, caller, lot, settings.market_now()))


@router.get("/auctions", response_model=Page[schemas.AuctionOut], tags=["auctions"],
            summary="Auctions, newest first (public): terms, and after the close the results")
def list_auctions(db: DB, settings: AppSettings, status: AuctionStatus | None = None, cursor: Cursor = None,
                  limit: Limit = 50) -> Page[schemas.AuctionOut]:
    clear_due_auctions(db, settings)
    with db.read() as s:
        rows, next_cursor = page(s, auctions.auctions_query(status), col(Auction.id), cursor, limit)
        return Page(items=[queries.auction_out(s, row[0]) for row in rows], next_cursor=next_cursor)


@router.get("/auctions/{auction_id}", response_model=schemas.AuctionOut, tags=["auctions"],
            summary="An auction (public): clearing price, volume, bidders and the demand curve after the close")
def get_auction(auction_id: str, db: DB, settings: AppSettings) -> schemas.AuctionOut:
    clear_due_auctions(db, settings)
    with db.read() as s:
        return queries.auction_out(s, auctions.get_auction(s, auction_id))


@router.post("/auctions/{auction_id}/bids", status_code=201, response_model=schemas.BidOut, tags=["auctions"],
             summary="Place a sealed bid in the window, at or above the reserve: its cash is held until the close")
def place_bid(auction_id: str, body: schemas.BidIn, write: Write, settings: AppSettings) -> Response:
    return write(body, _bid, auction_id, body, settings)


def _bid(s: Session, caller: Party, auction_id: str, body: schemas.BidIn, settings: Settings) -> schemas.BidOut:
    return queries.bid_out(s, auctions.place_bid(s, caller, auction_id, body.to_account, body.quantity_kg,
                                                 body.price_fen_per_t, _fees(settings), settings.market_now()))


@router.get("/auctions/{auction_id}/bids", response_model=list[schemas.BidOut], tags=["auctions"],
            summary="Your own bids in an auction (bids are sealed: nobody sees another's)")
def my_bids(auction_id: str, db: DB, caller: Caller, settings: AppSettings) -> list[schemas.BidOut]:
    clear_due_auctions(db, settings)
    with db.read() as s:
        return [queries.bid_out(s, bid) for bid in auctions.bids_of(s, caller, auctions.get_auction(s, auction_id))]


@router.post("/auctions/{auction_id}/clearing", status_code=200, response_model=schemas.AuctionOut,
             tags=["auctions"], summary="Clear an auction whose window has closed: allocate and settle every winner",
             description="Reading a closed auction clears it too; this makes it explicit.")
def clear(auction_id: str, write: Write, settings: AppSettings) -> Response:
    return write(None, _clear, auction_id, settings)


def _clear(s: Session, caller: Party, auction_id: str, settings: Settings) -> schemas.AuctionOut:
    return queries.auction_out(s, auctions.clear(s, auction_id, _fees(settings), settings.market_now()))
