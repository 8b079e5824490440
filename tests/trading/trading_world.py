"""A market to test against: the registry world (a PV owner with credits, a factory), a settlement
bank, and cash accounts for the owner and the factory."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from registry.credits import OldestFirstSelection, Selection
from registry.db import Database
from registry.models import Party, PartyKind, Role
from registry.parties import create_party
from tests.world import World, issue, make_world
from trading import cash, offers, settlement
from trading.models import Offer

FEES = settlement.Fees(buyer_bp=30, seller_bp=20)
BAND_PCT = 30


@dataclass
class Market:
    base: World
    bank: Party
    owner_cash: str
    factory_cash: str


def make_market(db: Database, owner_kg: int = 100_000, factory_fen: int = 10_000_000) -> Market:
    world = make_world(db)
    issue(db, world, owner_kg, 2025)
    with db.write() as s:
        bank = create_party(s, world.registrar, "Bank of Suzhou (settlement)", PartyKind.ORGANISATION, [Role.BANK])
        owner_cash = cash.open_cash_account(s, world.owner).public_id
        factory_cash = cash.open_cash_account(s, world.factory).public_id
        if factory_fen:
            cash.confirm_deposit(s, bank, factory_cash, factory_fen, f"BOS-DEP-{factory_cash}")
    return Market(world, bank, owner_cash, factory_cash)


def offer(db: Database, market: Market, quantity_kg: int | None = 10_000, price: int = 5_000,
          selection: Selection | None = None, expires_in: timedelta = timedelta(days=7)) -> Offer:
    world = market.base
    with db.write() as s:
        return offers.make_offer(s, world.owner, offers.OfferTerms(
            world.factory.public_id, world.owner_account, quantity_kg, selection or OldestFirstSelection(), price,
            datetime.now(UTC) + expires_in), BAND_PCT)


def balance(s: Session, account: str) -> tuple[int, int]:
    found = cash.get_cash_account(s, account)
    return found.available_fen, found.held_fen
