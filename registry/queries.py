"""Read models: what the registry shows, with cursor pagination and authorization in the query."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sqlalchemy import Select, select
from sqlmodel import Session, col

from registry import errors, schemas
from registry.ledger.models import LedgerEntry
from registry.models import Account, CreditBlock, Issuance, Party, Project, Retirement
from registry.serials import serial_number
from registry.service import get_account, readable_accounts_query, sees_every_account

MAX_PAGE = 500


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"after:{last_id}".encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        prefix, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if prefix != "after":
            raise ValueError
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise errors.InvalidRequest("the cursor is not one this API returned") from exc


def _page(
    session: Session, query: Select[Any, *tuple[Any, ...]], id_column: Any, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    if not 1 <= limit <= MAX_PAGE:
        raise errors.InvalidRequest(f"limit must be between 1 and {MAX_PAGE}")
    rows = list(session.execute(query.where(id_column > decode_cursor(cursor)).order_by(id_column).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1][0].id) if more else None


# --- parties and accounts ---------------------------------------------------------------------


def party_out(party: Party) -> schemas.PartyOut:
    return schemas.PartyOut(id=party.public_id, name=party.name, kind=party.kind, roles=sorted(party.role_set),
                            created_at=party.created_at)


def account_out(session: Session, account: Account) -> schemas.AccountOut:
    party = session.get(Party, account.party_id) if account.party_id else None
    return schemas.AccountOut(id=account.public_id, kind=account.kind, name=account.name,
                              party=party.public_id if party else None, created_at=account.created_at)


def readable_account(session: Session, actor: Party, public_id: str) -> Account:
    account = get_account(session, public_id)
    if account.party_id != actor.id and not sees_every_account(actor):
        raise errors.NotAccountHolder(f"account {public_id} is not yours")
    return account


def list_accounts(session: Session, actor: Party, cursor: str | None, limit: int) -> schemas.Page[schemas.AccountOut]:
    rows, next_cursor = _page(session, readable_accounts_query(actor), col(Account.id), cursor, limit)
    return schemas.Page(items=[account_out(session, r[0]) for r in rows], next_cursor=next_cursor)


def list_blocks(
    session: Session, account: Account, status: str | None, cursor: str | None, limit: int
) -> schemas.Page[schemas.BlockOut]:
    query = (
        select(CreditBlock, col(Issuance.public_id), col(Issuance.serial_prefix), col(Project.public_id))
        .join(Issuance, col(Issuance.id) == col(CreditBlock.issuance_id))
        .join(Project, col(Project.id) == col(CreditBlock.project_id))
        .where(col(CreditBlock.account_id) == account.id)
    )
    if status is not None:
        query = query.where(col(CreditBlock.status) == status)
    rows, next_cursor = _page(session, query, col(CreditBlock.id), cursor, limit)
    items = [
        schemas.BlockOut(id=b.public_id, issuance=iss, serial=serial_number(prefix, b.first_unit, b.last_unit),
                         first_unit=b.first_unit, last_unit=b.last_unit, quantity_kg=b.quantity_kg, status=b.status,
                         project=prj, vintage=b.vintage)
        for b, iss, prefix, prj in rows
    ]
    return schemas.Page(items=items, next_cursor=next_cursor)


# --- projects and issuances -------------------------------------------------------------------


def project_out(session: Session, project: Project) -> schemas.ProjectOut:
    owner = session.get(Party, project.owner_party_id)
    assert owner is not None
    return schemas.ProjectOut(
        id=project.public_id, name=project.name, owner=owner.public_id, methodology_id=project.methodology_id,
        methodology_version=project.methodology_version, region=project.region, location=project.location,
        latitude=project.latitude, longitude=project.longitude, capacity=project.capacity,
        capacity_unit=project.capacity_unit, crediting_period_start=project.crediting_period_start,
        crediting_period_end=project.crediting_period_end, status=project.status, created_at=project.created_at,
    )


def list_projects(
    session: Session, filters: dict[str, str | None], cursor: str | None, limit: int
) -> schemas.Page[schemas.ProjectOut]:
    query = select(Project)
    for column in ("region", "methodology_id", "status"):
        if filters.get(column) is not None:
            query = query.where(getattr(Project, column) == filters[column])
    if filters.get("owner") is not None:
        owner_id = select(col(Party.id)).where(col(Party.public_id) == filters["owner"]).scalar_subquery()
        query = query.where(col(Project.owner_party_id) == owner_id)
    rows, next_cursor = _page(session, query, col(Project.id), cursor, limit)
    return schemas.Page(items=[project_out(session, r[0]) for r in rows], next_cursor=next_cursor)


def issuance_out(session: Session, public_id: str) -> schemas.IssuanceOut:
    row = session.execute(
        select(Issuance, col(Project.public_id))
        .join(Project, col(Project.id) == col(Issuance.project_id))
        .where(col(Issuance.public_id) == public_id)
    ).first()
    if row is None:
        raise errors.UnknownIssuance(f"no issuance {public_id}")
    iss, project = row
    return schemas.IssuanceOut(
        id=iss.public_id, project=project, number=iss.number, vintage=iss.vintage, quantity_kg=iss.quantity_kg,
        serial=serial_number(iss.serial_prefix, 1, iss.quantity_kg),
        verification_statement_sha256=iss.verification_statement_sha256, issued_at=iss.issued_at,
    )


# --- retirements (public) ---------------------------------------------------------------------


def _retirement_out(retirement: Retirement, units: list[schemas.UnitRangeOut]) -> schemas.RetirementOut:
    return schemas.RetirementOut(
        id=retirement.public_id, quantity_kg=retirement.quantity_kg, beneficiary_name=retirement.beneficiary_name,
        beneficiary_type=retirement.beneficiary_type, purpose=retirement.purpose,
        claim_period_start=retirement.claim_period_start, claim_period_end=retirement.claim_period_end,
        public_note=retirement.public_note, retired_at=retirement.retired_at, units=units,
        proof_url=f"/api/v1/retirements/{retirement.public_id}/proof",
    )


def retirement_out(session: Session, public_id: str) -> schemas.RetirementOut:
    retirement = session.execute(select(Retirement).where(col(Retirement.public_id) == public_id)).scalar_one_or_none()
    if retirement is None:
        raise errors.UnknownRetirement(f"no retirement {public_id}")
    blocks = session.execute(
        select(CreditBlock, col(Issuance.public_id), col(Issuance.serial_prefix))
        .join(Issuance, col(Issuance.id) == col(CreditBlock.issuance_id))
        .where(col(CreditBlock.retirement_id) == retirement.id)
        .order_by(col(CreditBlock.issuance_id), col(CreditBlock.first_unit))
    ).all()
    units = [
        schemas.UnitRangeOut(issuance=iss, serial=serial_number(prefix, b.first_unit, b.last_unit),
                             first_unit=b.first_unit, last_unit=b.last_unit, quantity_kg=b.quantity_kg,
                             block=b.public_id)
        for b, iss, prefix in blocks
    ]
    return _retirement_out(retirement, units)


def list_retirements(
    session: Session, beneficiary: str | None, cursor: str | None, limit: int
) -> schemas.Page[schemas.RetirementOut]:
    query = select(Retirement)
    if beneficiary:
        query = query.where(col(Retirement.beneficiary_name) == beneficiary)
    rows, next_cursor = _page(session, query, col(Retirement.id), cursor, limit)
    return schemas.Page(items=[_retirement_out(r[0], []) for r in rows], next_cursor=next_cursor)


def ledger_entry_out(session: Session, entry_id: int) -> schemas.LedgerEntryOut:
    """Public, like the log itself: entries name accounts only by their opaque ids."""
    entry = session.get(LedgerEntry, entry_id)
    if entry is None:
        raise errors.UnknownLogEntry(f"no ledger entry {entry_id}")
    return schemas.LedgerEntryOut(id=entry_id, type=entry.kind, leaf_index=entry.leaf_index,
                                  entry=bytes(entry.body).decode())
