"""A factory with a facility in Guangzhou, an inventory verifier, and credits to retire: the world the
net-zero tests walk from activity data to a certificate."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlmodel import Session

from netzero import claims, facilities, inventories
from netzero.models import Claim, Inventory
from registry import credits
from registry.credits import OldestFirstSelection
from registry.db import Database
from tests.verification_world import Verifier, accredit
from tests.world import World, issue, make_world

HEADER = "source_id,category,description,amount,unit,factor_id,factor_value,factor_unit,factor_source,reference," \
         "generator_project,evidence\n"


def last_year() -> int:
    """Reporting periods are over and their 12-month retirement window still open, whatever today is."""
    return datetime.now(UTC).year - 1


def period(year: int | None = None) -> tuple[date, date]:
    year = year or last_year()
    return date(year, 1, 1), date(year, 12, 31)


def activity_csv(diesel_t: str = "10", electricity_kwh: str = "100000", extra: str = "") -> bytes:
    return (HEADER
            + f"TRUCKS,mobile_combustion,Diesel for the mixer trucks,{diesel_t},t,DIESEL,,,,,,fuel cards\n"
            + f"GRID,purchased_electricity,Electricity from the grid,{electricity_kwh},kWh,,,,,,,bills\n"
            + extra).encode()


@dataclass
class NetZeroWorld:
    base: World
    verifier: Verifier  # accredited for inventories in CN-GD
    facility: str


def make_netzero_world(db: Database) -> NetZeroWorld:
    world = make_world(db)
    verifier = accredit(db, world, "China Quality Certification Centre (inventories)", ["inventories"], ["CN-GD"])
    with db.write() as s:
        facility = facilities.register_facility(s, world.factory, "Guangzhou Ready-Mix Plant No. 2", "CN-GD",
                                                "Huangpu District, Guangzhou", "Ready-mix concrete", "I")
        return NetZeroWorld(world, verifier, facility.public_id)


def file(db: Database, nz: NetZeroWorld, content: bytes | None = None, year: int | None = None) -> str:
    content = content if content is not None else activity_csv()
    start, end = period(year)
    with db.write() as s:
        return inventories.file_inventory(s, nz.base.factory, nz.facility, start, end, content,
                                          hashlib.sha256(content).hexdigest(), "activity.csv").public_id


def verify(db: Database, nz: NetZeroWorld, inventory_id: str, raise_to_kg: int | None = None) -> Inventory:
    with db.write() as s:
        inventory = inventories.get_inventory(s, inventory_id)
        inventories.start_verification(s, nz.verifier.party, inventory)
        statement = inventories.statement_template(s, nz.verifier.party, inventory)
    statement["opinion"] = "Reasonable assurance: fuel cards and grid bills reconcile."
    if raise_to_kg is not None:
        statement["verified_residual_kg"] = raise_to_kg
    with db.write() as s:
        inventory = inventories.get_inventory(s, inventory_id)
        inventories.approve_inventory(s, nz.verifier.party, inventory, statement, nz.verifier.sign(statement))
        return inventory


def verified_claim(db: Database, nz: NetZeroWorld, content: bytes | None = None, year: int | None = None) -> str:
    verify(db, nz, file(db, nz, content, year))
    with db.write() as s:
        return claims.open_claim(s, nz.base.factory, nz.facility, period(year)[0]).public_id


def give_factory(db: Database, nz: NetZeroWorld, quantity_kg: int, vintage: int | None = None) -> None:
    """Issue PV credits (CN-JS: cross-regional for the Guangzhou facility) and move them to the factory."""
    issue(db, nz.base, quantity_kg, vintage or last_year())
    with db.write() as s:
        credits.transfer_credits(s, nz.base.owner, nz.base.owner_account, nz.base.factory_account, quantity_kg,
                                 OldestFirstSelection())


def claim_row(s: Session, public_id: str) -> Claim:
    return claims.get_claim(s, public_id)
