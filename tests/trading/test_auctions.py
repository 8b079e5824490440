"""One-sided auctions on both databases: uniform and pay-as-bid allocation worked by hand, ties by
time, a partly filled last bid, an unsold rest, a reserve not met, a pledge sold for its pledgee;
sealed bids; every refusal changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from registry import errors as registry_errors
from registry.credits import OldestFirstSelection
from registry.db import Database
from registry.errors import InvalidRequest, RegistryError
from registry.models import CreditBlock, Party
from tests.trading.book_world import CODE, FEES, MONDAY_10, Book, make_book
from tests.trading.test_trading import snapshot
from trading import auctions, cash, errors, pledges
from trading.models import Auction, AuctionBid, AuctionRule, Trade

CLOSES = MONDAY_10 + timedelta(hours=1)
AFTER = CLOSES + timedelta(minutes=1)


@pytest.fixture
def bk(db: Database) -> Book:
    built = make_book(db)
    world = built.market.base
    with db.write() as s:
        cash.confirm_deposit(s, built.market.bank, built.market.factory_cash, 5_000_000, "BOS-FACTORY")
    assert world.factory_account
    return built


def announce(db: Database, bk: Book, quantity_kg: int = 10_000, reserve: int = 5_000,
             rule: AuctionRule = AuctionRule.UNIFORM, **lot: object) -> Auction:
    with db.write() as s:
        return auctions.announce(s, bk.traders["a"].party, auctions.Lot(
            "Suzhou household PV 2025, 10 t", quantity_kg, reserve, CLOSES, rule, product=CODE,
            from_account=bk.traders["a"].account, **lot), MONDAY_10)  # type: ignore[arg-type]


def bid(db: Database, bk: Book, auction: Auction, who: str, kg: int, price: int,
        now: datetime = MONDAY_10) -> AuctionBid:
    party, account = _bidder(bk, who)
    with db.write() as s:
        return auctions.place_bid(s, party, auction.public_id, account, kg, price, FEES, now)


def _bidder(bk: Book, who: str) -> tuple[Party, str]:
    if who == "factory":
        return bk.market.base.factory, bk.market.base.factory_account
    return bk.traders[who].party, bk.traders[who].account


def clear(db: Database, auction: Auction, now: datetime = AFTER) -> Auction:
    with db.write() as s:
        return auctions.clear(s, auction.public_id, FEES, now)


def results(db: Database, bk: Book, auction: Auction) -> list[tuple[str, int, int, int]]:
    names = {trader.party.id: name for name, trader in bk.traders.items()} | {bk.market.base.factory.id: "factory"}
    with db.read() as s:
        trades = s.execute(select(Trade).where(col(Trade.sell_ref) == auction.public_id)
                           .order_by(col(Trade.id))).scalars().all()
        return [(names[t.buyer_party_id], t.quantity_kg, t.price_fen_per_t, t.amount_fen) for t in trades]


def _hand_worked_bids(db: Database, bk: Book, auction: Auction) -> list[AuctionBid]:
    return [bid(db, bk, auction, "b", 4000, 5600), bid(db, bk, auction, "c", 3000, 5400),
            bid(db, bk, auction, "factory", 5000, 5400), bid(db, bk, auction, "b", 2000, 5000)]


def test_uniform_price_worked_by_hand(db: Database, bk: Book) -> None:
    """10 t offered; bids b 4 t @ 56, c 3 t @ 54, factory 5 t @ 54 (after c), b 2 t @ 50 yuan. By price
    then time: b 4, c 3, and the factory's bid partly, 3 of 5 t; b's 50-yuan bid loses. Everyone pays
    the lowest accepted price, 5,400 fen a tonne."""
    auction = announce(db, bk)
    bids = _hand_worked_bids(db, bk, auction)
    cleared = clear(db, auction)
    assert (cleared.status, cleared.clearing_price_fen, cleared.sold_kg, cleared.bidders) == ("settled", 5400,
                                                                                              10_000, 3)
    assert results(db, bk, auction) == [("b", 4000, 5400, 21_600), ("c", 3000, 5400, 16_200),
                                        ("factory", 3000, 5400, 16_200)]
    with db.read() as s:
        assert [(b.status, b.allocated_kg) for b in (s.get(AuctionBid, b.id) for b in bids) if b] == [
            ("won", 4000), ("won", 3000), ("partly_won", 3000), ("lost", 0)]
        assert auctions.demand_curve(s, cleared) == [(5600, 4000), (5400, 12_000), (5000, 14_000)]
        # Each buyer paid amount + 0.3 % fee from its hold; the rest of every hold came back.
        factory = cash.get_cash_account(s, bk.market.factory_cash)
        assert (factory.available_fen, factory.held_fen) == (5_000_000 - 16_200 - 48, 0)
        b = cash.get_cash_account(s, bk.traders["b"].cash)
        assert (b.available_fen, b.held_fen) == (5_000_000 - 21_600 - 64, 0)
        a = cash.get_cash_account(s, bk.traders["a"].cash)
        assert a.available_fen == 5_000_000 + 54_000 - (43 + 32 + 32)
        locked = s.execute(select(func.count()).select_from(CreditBlock).where(
            col(CreditBlock.lock_ref) == auction.public_id)).scalar_one()
        assert locked == 0


def test_pay_as_bid_worked_by_hand(db: Database, bk: Book) -> None:
    auction = announce(db, bk, rule=AuctionRule.PAY_AS_BID)
    _hand_worked_bids(db, bk, auction)
    cleared = clear(db, auction)
    assert results(db, bk, auction) == [("b", 4000, 5600, 22_400), ("c", 3000, 5400, 16_200),
                                        ("factory", 3000, 5400, 16_200)]
    assert cleared.clearing_price_fen == 5400  # published as the lowest accepted price


def test_ties_go_to_the_earlier_bid_and_an_unsold_rest_returns_to_the_seller(db: Database, bk: Book) -> None:
    auction = announce(db, bk, quantity_kg=6000)
    later_first = [bid(db, bk, auction, "c", 3000, 5200), bid(db, bk, auction, "b", 3000, 5200),
                   bid(db, bk, auction, "factory", 3000, 5200)]
    clear(db, auction)
    assert [r[0] for r in results(db, bk, auction)] == ["c", "b"]
    with db.read() as s:
        assert s.get(AuctionBid, later_first[2].id).status == "lost"  # type: ignore[union-attr]
    small = announce(db, bk, quantity_kg=5000)
    bid(db, bk, small, "b", 2000, 5000)
    cleared = clear(db, small)
    assert (cleared.status, cleared.sold_kg) == ("settled", 2000)
    with db.read() as s:
        assert s.execute(select(func.count()).select_from(CreditBlock).where(
            col(CreditBlock.status) == "locked")).scalar_one() == 0


def test_a_reserve_not_met_fails_the_auction_and_releases_the_lot(db: Database, bk: Book) -> None:
    auction = announce(db, bk, reserve=6000)
    with pytest.raises(errors.BidBelowReserve, match="below the reserve price of 6,000"):
        bid(db, bk, auction, "b", 1000, 5900)
    cleared = clear(db, auction)
    assert (cleared.status, cleared.sold_kg, cleared.clearing_price_fen, cleared.bidders) == ("failed", 0, None, 0)
    with db.read() as s:
        assert auctions.demand_curve(s, cleared) == []
        assert s.execute(select(func.count()).select_from(CreditBlock).where(
            col(CreditBlock.status) == "locked")).scalar_one() == 0


def test_bids_are_sealed_until_the_close(db: Database, bk: Book) -> None:
    auction = announce(db, bk)
    mine = bid(db, bk, auction, "b", 1000, 5000)
    bid(db, bk, auction, "c", 1000, 5100)
    with db.read() as s:
        found = auctions.get_auction(s, auction.public_id)
        assert [b.public_id for b in auctions.bids_of(s, bk.traders["b"].party, found)] == [mine.public_id]
        assert auctions.bids_of(s, bk.traders["a"].party, found) == []  # the seller sees none
        assert auctions.demand_curve(s, found) == []
    with pytest.raises(errors.AuctionStillOpen):
        clear(db, auction, now=CLOSES - timedelta(seconds=1))


def test_a_pledgee_auctions_a_matured_pledge_and_is_paid_first(db: Database, bk: Book) -> None:
    bank = bk.market.bank
    a = bk.traders["a"]
    with db.write() as s:
        cash.open_cash_account(s, bank)
        pledge = pledges.pledge_credits(s, a.party, pledges.PledgeTerms(
            bank.public_id, a.account, 5000, OldestFirstSelection(), "BOS-LOAN-9", date.today() + timedelta(days=30)))
    matured = MONDAY_10.replace(year=date.today().year + 1)
    early = datetime.combine(date.today(), MONDAY_10.timetz())
    with db.write() as s, pytest.raises(errors.PledgeNotMatured):
        auctions.announce(s, bank, auctions.Lot("Pledged PV credits", 5000, 5000, early + timedelta(hours=1),
                                                pledge=pledge.public_id, secured_amount_fen=10_000), early)
    with db.write() as s:
        auction = auctions.announce(s, bank, auctions.Lot("Pledged PV credits", 5000, 5000,
                                                          matured + timedelta(hours=1), pledge=pledge.public_id,
                                                          secured_amount_fen=10_000), matured)
    with db.write() as s, pytest.raises(errors.PledgeNotActive, match="being auctioned"):
        pledges.release_pledge(s, bank, pledges.get_pledge(s, pledge.public_id))
    with db.write() as s:
        auctions.place_bid(s, bk.traders["c"].party, auction.public_id, bk.traders["c"].account, 5000, 5000, FEES,
                           matured)
    with db.write() as s:
        auctions.clear(s, auction.public_id, FEES, matured + timedelta(hours=2))
    with db.read() as s:
        # 5 t at 50 yuan = 25,000 fen less the seller's 0.2 % (50): the bank keeps the 10,000 the loan
        # secures and passes 14,950 to the holder.
        assert cash.get_cash_account(s, cash.cash_account_of(s, bank).public_id).available_fen == 10_000
        assert cash.get_cash_account(s, a.cash).available_fen == 5_000_000 + 14_950
        assert pledges.get_pledge(s, pledge.public_id).status == "enforced"
        [trade] = s.execute(select(Trade).where(col(Trade.sell_ref) == auction.public_id)).scalars().all()
        assert (trade.seller_party_id, trade.mode) == (a.party.id, "auction")


def _bid_on_no_auction(db: Database, bk: Book) -> object:
    with db.write() as s:
        return auctions.place_bid(s, bk.traders["b"].party, "auc_nope", bk.traders["b"].account, 1000, 5000, FEES,
                                  MONDAY_10)


@dataclass(frozen=True)
class Refusal:
    name: str
    error: type[RegistryError]
    act: Callable[[Database, Book, Auction], object]


REFUSALS = [
    Refusal("a bid after the window", errors.AuctionNotOpen,
            lambda db, bk, auc: bid(db, bk, auc, "b", 1000, 5000, now=CLOSES)),
    Refusal("a bid before the window", errors.AuctionNotOpen,
            lambda db, bk, auc: bid(db, bk, auc, "b", 1000, 5000, now=MONDAY_10 - timedelta(minutes=5))),
    Refusal("a bid below the reserve", errors.BidBelowReserve, lambda db, bk, auc: bid(db, bk, auc, "b", 1000, 4990)),
    Refusal("a bid off the tick", errors.PriceOffTick, lambda db, bk, auc: bid(db, bk, auc, "b", 1000, 5005)),
    Refusal("a bid off the lot", errors.QuantityOffLot, lambda db, bk, auc: bid(db, bk, auc, "b", 1500, 5000)),
    Refusal("a bid over the lot", errors.QuantityOffLot, lambda db, bk, auc: bid(db, bk, auc, "b", 11_000, 5000)),
    Refusal("a bid beyond the cash", errors.InsufficientCash,
            lambda db, bk, auc: bid(db, bk, auc, "b", 10_000, 600_000)),
    Refusal("the seller bids", InvalidRequest, lambda db, bk, auc: bid(db, bk, auc, "a", 1000, 5000)),
    Refusal("an unknown auction", errors.UnknownAuction, lambda db, bk, auc: _bid_on_no_auction(db, bk)),
    Refusal("clearing before the close", errors.AuctionStillOpen, lambda db, bk, auc: clear(db, auc, now=MONDAY_10)),
    Refusal("a lot off the product's lot", errors.QuantityOffLot, lambda db, bk, auc: announce(db, bk, 1500)),
    Refusal("a reserve off the tick", errors.PriceOffTick, lambda db, bk, auc: announce(db, bk, reserve=5005)),
    Refusal("a lot beyond the credits", registry_errors.InsufficientCredits,
            lambda db, bk, auc: announce(db, bk, 50_000)),
    Refusal("a window closing before it opens", InvalidRequest,
            lambda db, bk, auc: announce(db, bk, opens_at=CLOSES + timedelta(hours=1))),
]


@pytest.mark.parametrize("refusal", REFUSALS, ids=[r.name for r in REFUSALS])
def test_bad_auction_input_is_refused_and_changes_nothing(db: Database, bk: Book, refusal: Refusal) -> None:
    auction = announce(db, bk)
    bid(db, bk, auction, "c", 1000, 5100)
    before = snapshot(db)
    with db.read() as s:
        bids_before = s.execute(select(func.count()).select_from(AuctionBid)).scalar_one()
        auctions_before = s.execute(select(func.count()).select_from(Auction)).scalar_one()
    with pytest.raises(refusal.error):
        refusal.act(db, bk, auction)
    assert snapshot(db) == before
    with db.read() as s:
        assert s.execute(select(func.count()).select_from(AuctionBid)).scalar_one() == bids_before
        assert s.execute(select(func.count()).select_from(Auction)).scalar_one() == auctions_before
    cleared = clear(db, auction)
    assert cleared.status == "settled"
    with pytest.raises(errors.AuctionNotOpen):
        clear(db, auction)
