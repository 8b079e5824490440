"""Net-zero claims: a factory covers a facility's verified residual emissions for a reporting period
with retirements made for the claim. The rules, each with its reason, are in docs/netzero.md:

- coverage ≥ 100 % of the verified residual (the latest verified version of the inventory);
- no credit of a vintage after the reporting period (a reduction cannot offset earlier emissions);
- retirements within 12 months after the period ends (ISO 14068-1 and PAS 2060 practice);
- removals and reductions shown apart; credits from regions other than the facility's allowed and
  disclosed line by line with their share;
- a retirement backs at most one claim (a unique key on `claim_retirement.retirement_id`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from methodologies.registry import get_methodology
from netzero.errors import (
    InventoryNotVerified,
    RetirementNotEligible,
    RetirementWindowClosed,
    UnknownClaim,
)
from netzero.facilities import OVERSIGHT_ROLES, get_own_facility
from netzero.inventories import add_months, current_verified
from netzero.models import Claim, ClaimRetirement, Facility, Inventory, InventoryStatement
from registry import credits, errors
from registry.credits import Selection
from registry.ids import new_public_id
from registry.ledger.models import LedgerEntry
from registry.models import CreditBlock, Issuance, Party, Project, Retirement, get_by_public_id, pk

# Retirements for a claim are made up to this many months after its reporting period ends.
RETIREMENT_WINDOW_MONTHS = 12


def retirement_deadline(period_end: date) -> date:
    return add_months(period_end, RETIREMENT_WINDOW_MONTHS)


def get_claim(session: Session, public_id: str) -> Claim:
    return get_by_public_id(session, Claim, public_id, lambda: UnknownClaim(f"no claim {public_id}"))


def get_readable_claim(session: Session, reader: Party, public_id: str) -> Claim:
    claim = get_claim(session, public_id)
    if claim.party_id != reader.id and not reader.role_set & OVERSIGHT_ROLES:
        raise UnknownClaim(f"no claim {public_id}")
    return claim


def get_own_claim(session: Session, party: Party, public_id: str) -> Claim:
    claim = get_readable_claim(session, party, public_id)
    if claim.party_id != party.id:
        raise errors.PermissionDenied(f"claim {public_id} is not yours: retire for your own claims")
    return claim


def list_claims(session: Session, reader: Party) -> list[Claim]:
    query = select(Claim).order_by(col(Claim.id))
    if not reader.role_set & OVERSIGHT_ROLES:
        query = query.where(col(Claim.party_id) == reader.id)
    return list(session.execute(query).scalars())


def facility_of_claim(session: Session, claim: Claim) -> Facility:
    facility = session.get(Facility, claim.facility_id)
    assert facility is not None
    return facility


def verified_inventory(session: Session, claim: Claim) -> tuple[Inventory, InventoryStatement]:
    found = current_verified(session, claim.facility_id, claim.period_start)
    if found is None:
        raise InventoryNotVerified(f"the inventory for claim {claim.public_id} is not verified yet")
    return found


def open_claim(session: Session, party: Party, facility_public_id: str, period_start: date) -> Claim:
    """Open the claim for a facility's verified inventory of the period starting `period_start`."""
    facility = get_own_facility(session, party, facility_public_id)
    found = current_verified(session, pk(facility), period_start)
    if found is None:
        raise InventoryNotVerified(
            f"facility {facility.public_id} has no verified inventory for the period starting {period_start}: "
            "file one and have it verified first")
    existing = session.execute(select(col(Claim.public_id)).where(
        col(Claim.facility_id) == facility.id, col(Claim.period_start) == period_start)).scalar_one_or_none()
    if existing is not None:
        raise errors.Conflict(f"claim {existing} already covers this facility and period")
    claim = Claim(public_id=new_public_id("clm"), facility_id=pk(facility), party_id=pk(party),
                  period_start=period_start, period_end=found[0].period_end)
    session.add(claim)
    session.flush()
    return claim


def _lock_claim(session: Session, claim: Claim) -> None:
    """Serialise commands on one claim (retire for it, issue its certificate)."""
    session.execute(select(col(Claim.id)).where(col(Claim.id) == claim.id).with_for_update())


def _link(session: Session, claim: Claim, retirement: Retirement) -> None:
    try:
        with session.begin_nested():
            session.add(ClaimRetirement(claim_id=pk(claim), retirement_id=pk(retirement)))
            session.flush()
    except IntegrityError as exc:
        raise RetirementNotEligible(f"retirement {retirement.public_id} already backs a claim") from exc


def retire_for_claim(session: Session, party: Party, claim: Claim, from_account: str, quantity_kg: int | None,
                     selection: Selection, note: str = "", as_of: date | None = None
                     ) -> tuple[Retirement, credits.Movement]:
    """Retire credits for the claim: the retirement names the claim, the facility as beneficiary and
    the reporting period as its claim period, and backs this claim only. `as_of` is the business day
    the window is checked on: today, except where the demo replays the history it shows."""
    if claim.party_id != party.id:
        raise errors.PermissionDenied(f"claim {claim.public_id} is not yours: retire for your own claims")
    _lock_claim(session, claim)
    verified_inventory(session, claim)
    today = as_of or datetime.now(UTC).date()
    if today > retirement_deadline(claim.period_end):
        raise RetirementWindowClosed(
            f"retirements for the period ending {claim.period_end} had to be made by "
            f"{retirement_deadline(claim.period_end)} (12 months after the period)")
    facility = facility_of_claim(session, claim)
    details = credits.RetirementDetails(
        beneficiary_name=facility.name, beneficiary_type="organisation",
        purpose=f"Net-zero claim {claim.public_id}: {facility.name}, residual emissions "
                f"{claim.period_start} to {claim.period_end}",
        claim_period_start=claim.period_start, claim_period_end=claim.period_end, public_note=note,
        claim=claim.public_id)
    retirement, movement = credits.retire_credits(session, party, from_account, quantity_kg, selection, details)
    _link(session, claim, retirement)
    return retirement, movement


def attach_retirement(session: Session, party: Party, claim: Claim, retirement_public_id: str) -> Retirement:
    """Let a retirement the party made earlier back the claim, under the same rules as one made for it."""
    if claim.party_id != party.id:
        raise errors.PermissionDenied(f"claim {claim.public_id} is not yours")
    _lock_claim(session, claim)
    verified_inventory(session, claim)
    retirement = session.execute(select(Retirement).where(col(Retirement.public_id) == retirement_public_id)
                                 ).scalar_one_or_none()
    if retirement is None:
        raise errors.UnknownRetirement(f"no retirement {retirement_public_id}")
    if retirement.party_id != party.id:
        raise RetirementNotEligible(f"retirement {retirement_public_id} was made by another party")
    backing = session.execute(select(col(Claim.public_id)).join(ClaimRetirement, col(ClaimRetirement.claim_id)
                                                                == col(Claim.id))
                              .where(col(ClaimRetirement.retirement_id) == retirement.id)).scalar_one_or_none()
    if backing is not None:
        raise RetirementNotEligible(f"retirement {retirement_public_id} already backs claim {backing}")
    if not claim.period_start <= retirement.claim_period_start <= retirement.claim_period_end <= claim.period_end:
        raise RetirementNotEligible(
            f"retirement {retirement_public_id} claims {retirement.claim_period_start} to "
            f"{retirement.claim_period_end}, outside the reporting period {claim.period_start} to {claim.period_end}")
    retired_on = retirement.retired_at.date()
    if retired_on > retirement_deadline(claim.period_end):
        raise RetirementWindowClosed(
            f"retirement {retirement_public_id} was made on {retired_on}, more than 12 months after the period")
    newest = session.execute(select(func.max(col(CreditBlock.vintage))).where(
        col(CreditBlock.retirement_id) == retirement.id)).scalar_one()
    if newest is not None and newest > claim.period_end.year:
        raise RetirementNotEligible(f"retirement {retirement_public_id} holds credits of vintage {newest}, after "
                                    f"the period ending {claim.period_end}")
    _link(session, claim, retirement)
    return retirement


# --- what covers a claim ------------------------------------------------------------------------


@dataclass
class ClaimCoverage:
    """A claim's offsets line by line (one serial range each), as the certificate discloses them."""

    residual_kg: int
    lines: list[dict[str, Any]] = field(default_factory=list)
    retirements: list[tuple[Retirement, bytes]] = field(default_factory=list)  # with their entries

    @property
    def covered_kg(self) -> int:
        return sum(line["quantity_kg"] for line in self.lines)

    @property
    def removals_kg(self) -> int:
        return sum(line["quantity_kg"] for line in self.lines if line["kind"] == "removal")

    @property
    def reductions_kg(self) -> int:
        return self.covered_kg - self.removals_kg

    @property
    def cross_regional_kg(self) -> int:
        return sum(line["quantity_kg"] for line in self.lines if line["cross_regional"])

    @property
    def remaining_kg(self) -> int:
        return max(0, self.residual_kg - self.covered_kg)


def coverage(session: Session, claim: Claim) -> ClaimCoverage:
    facility = facility_of_claim(session, claim)
    found = current_verified(session, claim.facility_id, claim.period_start)
    result = ClaimCoverage(residual_kg=found[1].verified_residual_kg if found else 0)
    rows = session.execute(
        select(Retirement, col(LedgerEntry.body))
        .join(ClaimRetirement, col(ClaimRetirement.retirement_id) == col(Retirement.id))
        .join(LedgerEntry, col(LedgerEntry.id) == col(Retirement.ledger_entry_id))
        .where(col(ClaimRetirement.claim_id) == claim.id).order_by(col(ClaimRetirement.id))).all()
    issuance_ids = {units["issuance"] for _, body in rows for units in json.loads(body)["units"]}
    issuances = {
        row.public_id: row for row in session.execute(
            select(col(Issuance.public_id), col(Issuance.vintage), col(Project.public_id).label("project"),
                   col(Project.name), col(Project.methodology_id), col(Project.methodology_version),
                   col(Project.region))
            .join(Project, col(Project.id) == col(Issuance.project_id))
            .where(col(Issuance.public_id).in_(issuance_ids)))}
    for retirement, body in rows:
        result.retirements.append((retirement, bytes(body)))
        for units in json.loads(body)["units"]:
            issued = issuances[units["issuance"]]
            removal = get_methodology(issued.methodology_id, issued.methodology_version).removals
            result.lines.append({
                "retirement": retirement.public_id, "serial": units["serial"], "issuance": units["issuance"],
                "first_unit": units["first_unit"], "last_unit": units["last_unit"],
                "project": {"id": issued.project, "name": issued.name},
                "methodology": {"id": issued.methodology_id, "version": issued.methodology_version},
                "kind": "removal" if removal else "reduction", "region": issued.region, "vintage": issued.vintage,
                "quantity_kg": units["last_unit"] - units["first_unit"] + 1,
                "cross_regional": issued.region != facility.region,
            })
    covered = result.covered_kg
    for line in result.lines:
        line["share_bp"] = line["quantity_kg"] * 10_000 // covered
    return result
