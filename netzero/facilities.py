"""Facilities: the factories (sites) a party reports emissions for, each with its boundary."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session, col

from netzero.errors import UnknownFacility
from netzero.models import Boundary, Facility
from registry import errors
from registry.ids import new_public_id
from registry.models import Party, Role, get_by_public_id, pk
from registry.parties import require_role
from registry.regions import check_region

# Roles that may read any facility and its inventories besides its holder.
OVERSIGHT_ROLES = frozenset({Role.REGISTRAR.value, Role.AUDITOR.value})


def register_facility(session: Session, party: Party, name: str, region: str, address: str, industry: str,
                      boundary: str) -> Facility:
    """A factory (a party with the buyer role) registers one of its sites."""
    require_role(party, Role.BUYER)
    fields = {"name": name.strip(), "address": address.strip(), "industry": industry.strip()}
    missing = [field for field, value in fields.items() if not value]
    if missing:
        raise errors.InvalidRequest(f"a facility needs its {', '.join(missing)}")
    if boundary not in {b.value for b in Boundary}:
        raise errors.InvalidRequest("boundary is 'I' (scope 1 and 2) or 'II' (scope 1, 2 and 3), "
                                    "as T/CECA-G 0171-2022 defines them")
    facility = Facility(public_id=new_public_id("fac"), party_id=pk(party), region=check_region(region),
                        boundary=boundary, name=fields["name"], address=fields["address"], industry=fields["industry"])
    session.add(facility)
    session.flush()
    return facility


def get_facility(session: Session, public_id: str) -> Facility:
    return get_by_public_id(session, Facility, public_id, lambda: UnknownFacility(f"no facility {public_id}"))


def get_readable_facility(session: Session, reader: Party, public_id: str) -> Facility:
    """Its holder, the registrar and auditors read a facility; to anyone else it does not exist."""
    facility = get_facility(session, public_id)
    if facility.party_id != reader.id and not reader.role_set & OVERSIGHT_ROLES:
        raise UnknownFacility(f"no facility {public_id}")
    return facility


def get_own_facility(session: Session, party: Party, public_id: str) -> Facility:
    facility = get_readable_facility(session, party, public_id)
    if facility.party_id != party.id:
        raise errors.PermissionDenied(f"facility {public_id} is not yours")
    return facility


def list_facilities(session: Session, reader: Party) -> list[Facility]:
    query = select(Facility).order_by(col(Facility.id))
    if not reader.role_set & OVERSIGHT_ROLES:
        query = query.where(col(Facility.party_id) == reader.id)
    return list(session.execute(query).scalars())
