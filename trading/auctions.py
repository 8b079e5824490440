"""One-sided auctions (单向竞价): a seller announces a lot (a product's qualifying credits or named
serials), a reserve price, a bid window and an allocation rule; a pledgee may auction the credits of
a matured pledge, paid first up to what the loan secures.

Bids are sealed (only the bidder sees its own) and hold their cash. At the close the bids rank by
price, then time; the last accepted bid may be partly filled; every winner settles delivery versus
payment in the one clearing transaction, at the lowest accepted price (uniform) or its own
(pay-as-bid). Then the results are public: clearing price, volume, bidders and the anonymous demand
curve. The auction's row is locked by bids and by the clearing, so no bid slips in while it clears.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlmodel import Session, col

from registry import credits
from registry.accounts import get_accounts
from registry.errors import InvalidRequest, PermissionDenied
from registry.ids import new_public_id
from registry.models import Account, Party, PartyStatus, get_by_public_id, get_existing, pk
from trading import book, cash, pledges, products, settlement
from trading.errors import (
    AuctionNotOpen,
    AuctionStillOpen,
    BidBelowReserve,
    PledgeNotActive,
    PledgeNotMatured,
    PriceOffTick,
    QuantityOffLot,
    UnknownAuction,
)
from trading.models import (
    Auction,
    AuctionBid,
    AuctionRule,
    AuctionStatus,
    BidStatus,
    Pledge,
    PledgeStatus,
    Product,
    Trade,
)

# A bid window stands for at most this long.
MAX_WINDOW_DAYS = 30
# Auctions without a product take bids in whole kilograms; the day of their trades is Beijing time.
MARKET_TIMEZONE = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Lot:
    title: str
    quantity_kg: int
    reserve_price_fen: int
    closes_at: datetime
    rule: AuctionRule = AuctionRule.UNIFORM
    min_bid_kg: int | None = None  # default: one product lot, or 1 t
    opens_at: datetime | None = None  # default: at once
    product: str | None = None  # a product's code: its qualifying credits, its lot and tick
    from_account: str | None = None  # the seller's holding account
    selection: credits.Selection | None = None  # named serials instead of oldest-first
    pledge: str | None = None  # a pledgee auctions this matured pledge's credits
    secured_amount_fen: int | None = None  # what the pledgee is paid first


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def announce(session: Session, party: Party, lot: Lot, now: datetime) -> Auction:
    """Lock the lot's credits under a new auction and open its bid window."""
    if party.status != PartyStatus.ACTIVE:
        raise InvalidRequest(f"{party.name} is suspended and cannot trade")
    if not lot.title.strip():
        raise InvalidRequest("an auction has a title")
    opens_at, closes_at = _aware(lot.opens_at or now), _aware(lot.closes_at)
    if not (opens_at >= now - timedelta(minutes=1) and opens_at < closes_at
            and closes_at <= now + timedelta(days=MAX_WINDOW_DAYS)):
        raise InvalidRequest(f"the bid window opens now or later and closes after it opens, within "
                             f"{MAX_WINDOW_DAYS} days")
    product = products.get_product(session, lot.product) if lot.product else None
    lot_kg, tick = (product.lot_kg, product.tick_fen) if product else (1, 1)
    quantity = lot.quantity_kg
    if quantity <= 0 or quantity % lot_kg:
        raise QuantityOffLot(f"the lot is a positive whole number of {lot_kg:,}-kg lots")
    min_bid = lot.min_bid_kg if lot.min_bid_kg is not None else min(quantity, lot_kg if product else 1000)
    if not 0 < min_bid <= quantity or min_bid % lot_kg:
        raise QuantityOffLot(f"the minimum bid is whole lots of {lot_kg:,} kg, at most the lot")
    if lot.reserve_price_fen <= 0 or lot.reserve_price_fen % tick:
        raise PriceOffTick(f"the reserve price is a positive multiple of {tick} fen per tonne")
    public_id = new_public_id("auc")
    if lot.pledge is not None:
        pledge, seller = _pledge_for_auction(session, party, lot, product, quantity, now)
        account_id, lock_ref = pledge.account_id, pledge.public_id
        cash.cash_account_of(session, seller)  # the rest of the proceeds goes to the holder
    else:
        if lot.from_account is None:
            raise InvalidRequest("name the holding account the lot comes from")
        seller, pledge, lock_ref = party, None, public_id
        account = get_accounts(session, [lot.from_account])[lot.from_account]
        account_id = account.id
        book.lock_qualifying(session, party, product, lot.from_account, quantity, lot.selection, public_id,
                             f"auction lot {public_id}")
    cash.cash_account_of(session, party)  # the proceeds are paid there
    auction = Auction(
        public_id=public_id, announcer_party_id=pk(party), seller_party_id=pk(seller), account_id=account_id,
        product_id=product.id if product else None, pledge_id=pledge.id if pledge else None, lock_ref=lock_ref,
        title=lot.title.strip(), quantity_kg=quantity, lot_kg=lot_kg, min_bid_kg=min_bid,
        reserve_price_fen=lot.reserve_price_fen, tick_fen=tick, rule=AuctionRule(lot.rule).value,
        secured_amount_fen=lot.secured_amount_fen if pledge else None, opens_at=opens_at, closes_at=closes_at,
        created_at=now)
    session.add(auction)
    session.flush()
    return auction


def _pledge_for_auction(session: Session, pledgee: Party, lot: Lot, product: Product | None, quantity: int,
                        now: datetime) -> tuple[Pledge, Party]:
    assert lot.pledge is not None
    pledge = pledges.get_pledge(session, lot.pledge)
    if pledge.pledgee_party_id != pledgee.id:
        raise PermissionDenied(f"pledge {pledge.public_id} is held by another pledgee")
    if pledge.status != PledgeStatus.ACTIVE:
        raise PledgeNotActive(f"pledge {pledge.public_id} is {pledge.status}")
    if now.date() <= pledge.maturity:
        raise PledgeNotMatured(f"pledge {pledge.public_id} matures on {pledge.maturity}: it can be auctioned after")
    if product is not None or lot.selection is not None or lot.from_account is not None:
        raise InvalidRequest("a pledge's auction sells the pledged credits: name no product, account or serials")
    if quantity > pledge.quantity_kg:
        raise QuantityOffLot(f"pledge {pledge.public_id} holds {pledge.quantity_kg:,} kg")
    if lot.secured_amount_fen is None or lot.secured_amount_fen <= 0:
        raise InvalidRequest("state the amount the pledge secures: the pledgee is paid first, up to it")
    if pledges.auction_of(session, pledge) is not None:
        raise PledgeNotActive(f"pledge {pledge.public_id} is already being auctioned")
    holder = session.get(Party, pledge.holder_party_id)
    assert holder is not None
    return pledge, holder


def get_auction(session: Session, public_id: str) -> Auction:
    return get_by_public_id(session, Auction, public_id, lambda: UnknownAuction(f"no auction {public_id}"))


def _locked(session: Session, public_id: str) -> Auction:
    """The auction's row, locked until the transaction ends: bids and the clearing take turns."""
    auction = session.execute(select(Auction).where(col(Auction.public_id) == public_id).with_for_update()
                              ).scalar_one_or_none()
    if auction is None:
        raise UnknownAuction(f"no auction {public_id}")
    session.refresh(auction)
    return auction


def place_bid(session: Session, party: Party, auction_id: str, to_account: str, quantity_kg: int,
              price_fen_per_t: int, fees: settlement.Fees, now: datetime) -> AuctionBid:
    """A sealed bid inside the window, at or above the reserve; its cash is held until the close."""
    auction = _locked(session, auction_id)
    if auction.status != AuctionStatus.OPEN or not _aware(auction.opens_at) <= now < _aware(auction.closes_at):
        raise AuctionNotOpen(f"auction {auction.public_id} takes bids from {_aware(auction.opens_at):%Y-%m-%d %H:%M} "
                             f"to {_aware(auction.closes_at):%Y-%m-%d %H:%M} UTC")
    if party.status != PartyStatus.ACTIVE:
        raise InvalidRequest(f"{party.name} is suspended and cannot trade")
    if party.id in (auction.seller_party_id, auction.announcer_party_id):
        raise InvalidRequest("the seller does not bid in its own auction")
    if price_fen_per_t % auction.tick_fen:
        raise PriceOffTick(f"bids are multiples of {auction.tick_fen} fen per tonne")
    if price_fen_per_t < auction.reserve_price_fen:
        raise BidBelowReserve(f"{price_fen_per_t:,} fen per tonne is below the reserve price of "
                              f"{auction.reserve_price_fen:,}")
    if quantity_kg % auction.lot_kg or not auction.min_bid_kg <= quantity_kg <= auction.quantity_kg:
        raise QuantityOffLot(f"a bid is {auction.min_bid_kg:,} to {auction.quantity_kg:,} kg in whole lots of "
                             f"{auction.lot_kg:,} kg")
    account = book.holding_account_of(session, party, to_account)
    bid = AuctionBid(public_id=new_public_id("bid"), auction_id=pk(auction), party_id=pk(party),
                     account_id=pk(account), price_fen_per_t=price_fen_per_t, quantity_kg=quantity_kg, created_at=now)
    session.add(bid)
    session.flush()
    cash.hold_cash(session, cash.cash_account_of(session, party), bid.public_id,
                   book.hold_for(quantity_kg, price_fen_per_t, fees))
    return bid


def bids_of(session: Session, party: Party, auction: Auction) -> list[AuctionBid]:
    """A bidder's own bids: the only bids anyone sees before the close."""
    return list(session.execute(select(AuctionBid).where(col(AuctionBid.auction_id) == auction.id,
                                                         col(AuctionBid.party_id) == party.id)
                                .order_by(col(AuctionBid.id))).scalars())


@dataclass(frozen=True)
class Allocation:
    bid: AuctionBid
    quantity_kg: int
    price_fen_per_t: int


def allocate(auction: Auction, ranked: list[AuctionBid]) -> list[Allocation]:
    """Fill the lot from the best bid down (price, then time); the last accepted bid may be partly
    filled. Uniform: everyone pays the lowest accepted price; pay-as-bid: its own."""
    remaining, taken = auction.quantity_kg, []
    for bid in ranked:
        if remaining == 0:
            break
        quantity = min(bid.quantity_kg, remaining)
        taken.append((bid, quantity))
        remaining -= quantity
    if not taken:
        return []
    lowest = min(bid.price_fen_per_t for bid, _ in taken)
    return [Allocation(bid, quantity, lowest if auction.rule == AuctionRule.UNIFORM else bid.price_fen_per_t)
            for bid, quantity in taken]


def clear(session: Session, auction_id: str, fees: settlement.Fees, now: datetime) -> Auction:
    """Close the auction after its window: allocate, settle every winner, release the rest."""
    auction = _locked(session, auction_id)
    if auction.status != AuctionStatus.OPEN:
        raise AuctionNotOpen(f"auction {auction.public_id} was cleared: {auction.status}")
    if now < _aware(auction.closes_at):
        raise AuctionStillOpen(f"auction {auction.public_id} takes bids until "
                               f"{_aware(auction.closes_at):%Y-%m-%d %H:%M} UTC")
    ranked = list(session.execute(select(AuctionBid).where(col(AuctionBid.auction_id) == auction.id)
                                  .order_by(col(AuctionBid.price_fen_per_t).desc(), col(AuctionBid.id))).scalars())
    allocations = allocate(auction, ranked)
    seller = get_existing(session, Party, auction.seller_party_id)
    account = get_existing(session, Account, auction.account_id)
    pledgee = get_existing(session, Party, auction.announcer_party_id) if auction.pledge_id is not None else None
    product = session.get(Product, auction.product_id) if auction.product_id is not None else None
    day = products.trading_day(product, now) if product else now.astimezone(MARKET_TIMEZONE).date()
    trades: list[Trade] = []
    for allocation in allocations:
        bid = allocation.bid
        trades.append(settlement.settle(
            session, mode="auction", seller=seller, seller_account=account.public_id,
            buyer=get_existing(session, Party, bid.party_id),
            buyer_account=get_existing(session, Account, bid.account_id).public_id,
            lock_ref=auction.lock_ref, price_fen_per_t=allocation.price_fen_per_t, fees=fees,
            quantity_kg=allocation.quantity_kg, buyer_hold=bid.public_id, proceeds_to=pledgee,
            venue=settlement.Venue(auction.product_id, day, bid.public_id, auction.public_id, now)))
    won = {allocation.bid.id: allocation.quantity_kg for allocation in allocations}
    for bid in ranked:
        quantity = won.get(bid.id, 0)
        if not quantity:  # a winner's settlement already freed what its bid held beyond the price
            cash.release_hold(session, bid.public_id)
        bid.allocated_kg = quantity
        bid.status = (BidStatus.WON if quantity == bid.quantity_kg else BidStatus.PARTLY_WON if quantity
                      else BidStatus.LOST).value
    sold = sum(won.values())
    if auction.pledge_id is None and sold < auction.quantity_kg:
        credits.release_lock(session, account.public_id, auction.lock_ref, "auction lot unsold")
    if auction.pledge_id is not None and pledgee is not None and sold:
        _settle_pledge(session, auction, seller, pledgee, sold, trades)
    auction.status = (AuctionStatus.SETTLED if sold else AuctionStatus.FAILED).value
    auction.sold_kg, auction.bidders = sold, len({bid.party_id for bid in ranked})
    auction.clearing_price_fen = min((a.price_fen_per_t for a in allocations), default=None)
    auction.settled_at = now  # the market clock's time, as the trades'
    session.flush()
    return auction


def _settle_pledge(session: Session, auction: Auction, holder: Party, pledgee: Party, sold: int,
                   trades: list[Trade]) -> None:
    """The pledgee keeps the proceeds up to what the loan secures and passes the rest to the holder;
    the pledge shrinks by what was sold, and is enforced once nothing is left under it."""
    pledge = session.get(Pledge, auction.pledge_id)
    assert pledge is not None
    proceeds = sum(trade.amount_fen - trade.seller_fee_fen for trade in trades)
    excess = proceeds - min(proceeds, auction.secured_amount_fen or 0)
    if excess:
        cash.post(session, "pledge_surplus", auction.public_id, [
            cash.Line(pk(cash.cash_account_of(session, pledgee)), cash.AVAILABLE, -excess),
            cash.Line(pk(cash.cash_account_of(session, holder)), cash.AVAILABLE, excess)])
    if sold == pledge.quantity_kg:
        session.execute(update(Pledge).where(col(Pledge.id) == pledge.id).values(
            status=PledgeStatus.ENFORCED.value, closed_at=datetime.now(UTC)))
    else:
        session.execute(update(Pledge).where(col(Pledge.id) == pledge.id).values(
            quantity_kg=col(Pledge.quantity_kg) - sold))
    session.refresh(pledge)


def due_auctions(session: Session, now: datetime) -> list[str]:
    """Open auctions whose window has closed: cleared before anyone reads them."""
    return list(session.execute(select(col(Auction.public_id)).where(
        col(Auction.status) == AuctionStatus.OPEN.value, col(Auction.closes_at) <= now)).scalars())


def demand_curve(session: Session, auction: Auction) -> list[tuple[int, int]]:
    """After the close: (price, total kg bid at that price or higher), highest price first, with no
    bidder named. Empty while bids are sealed."""
    if auction.status == AuctionStatus.OPEN:
        return []
    by_price: Counter[int] = Counter()
    for price, quantity in session.execute(select(col(AuctionBid.price_fen_per_t), col(AuctionBid.quantity_kg))
                                           .where(col(AuctionBid.auction_id) == auction.id)):
        by_price[int(price)] += int(quantity)
    curve, total = [], 0
    for price in sorted(by_price, reverse=True):
        total += by_price[price]
        curve.append((price, total))
    return curve


def auctions_query(status: AuctionStatus | None = None) -> Any:
    query = select(Auction)
    if status is not None:
        query = query.where(col(Auction.status) == status.value)
    return query.order_by(col(Auction.id).desc())
