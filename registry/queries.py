"""Read models: what the registry shows, with cursor pagination and authorization in the query.

Each public list is a query (`*_query(filters)`, rows of a fixed shape) and a function turning a
row into its response model (`*_row_out`): the API pages the query for JSON and streams all of
it for CSV, so both show the same rows.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import Row, Select, exists, func, or_, select
from sqlmodel import Session, col

from registry import credits, errors, schemas
from registry.accounts import BUFFER_POOL_ACCOUNT, readable_accounts_query
from registry.ledger.models import LedgerEntry
from registry.models import (
    MAX_INT64,
    Account,
    CreditBlock,
    Issuance,
    Party,
    PartyKind,
    PartyStatus,
    Project,
    Retirement,
    Role,
    get_by_public_id,
)
from registry.serials import parse_serial, serial_number

MAX_PAGE = 500
STREAM_BATCH = 500
T = TypeVar("T")
AnySelect = Select[*tuple[Any, ...]]
AnyRow = Row[*tuple[Any, ...]]


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"after:{last_id}".encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        prefix, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        position = int(value)
        if prefix != "after" or not 0 <= position <= MAX_INT64:
            raise ValueError
        return position
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise errors.InvalidRequest("the cursor is not one this API returned") from exc


def page(
    session: Session, query: AnySelect, id_column: Any, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    """One page of `query` after the cursor (keyset pagination), in `id_column` order; a query ordered
    newest first (its first ORDER BY is `id_column` descending) pages downwards."""
    if not 1 <= limit <= MAX_PAGE:
        raise errors.InvalidRequest(f"limit must be between 1 and {MAX_PAGE}")
    first_order = query._order_by_clauses[:1]  # no public accessor for a Select's ORDER BY
    descending = bool(first_order) and first_order[0].compare(id_column.desc())
    after = decode_cursor(cursor)
    if descending:
        query = query.where(id_column < after) if cursor else query
    else:
        query = query.where(id_column > after).order_by(id_column)
    rows = list(session.execute(query.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1][0].id) if more else None


def stream(session: Session, query: AnySelect, id_column: Any,
           row_out: Callable[[AnyRow], T]) -> Iterator[T]:
    """Every row of `query`, read a batch at a time in `id_column` order: for exports of any size."""
    after = 0
    while True:
        rows = session.execute(query.where(id_column > after).order_by(id_column).limit(STREAM_BATCH)).all()
        yield from (row_out(row) for row in rows)
        if len(rows) < STREAM_BATCH:
            return
        after = rows[-1][0].id


def public_name(name: str, kind: str) -> str:
    """An individual's name as the public sees it: its first character, the rest starred (PIPL)."""
    if kind != PartyKind.INDIVIDUAL:
        return name
    return name[:1] + "*" * max(1, len(name) - 1)


# --- parties and accounts ---------------------------------------------------------------------


def party_out(party: Party) -> schemas.PartyOut:
    return schemas.PartyOut(id=party.public_id, name=party.name, kind=party.kind, roles=sorted(party.role_set),
                            region=party.region, status=PartyStatus(party.status),
                            status_reason=party.status_reason, created_at=party.created_at)


def public_party_out(session: Session, party: Party) -> schemas.PublicPartyOut:
    projects = session.execute(select(Project).where(col(Project.owner_party_id) == party.id)
                               .order_by(col(Project.id))).scalars().all()
    return schemas.PublicPartyOut(
        id=party.public_id, name=public_name(party.name, party.kind), kind=party.kind, roles=sorted(party.role_set),
        region=party.region,
        projects=[schemas.ProjectSummary(id=p.public_id, name=p.name, methodology_id=p.methodology_id,
                                         region=p.region, status=p.status) for p in projects])


@dataclass(frozen=True)
class PartyFilters:
    q: str | None = None  # a case-insensitive substring of the name
    role: str | None = None
    status: str | None = None
    kind: str | None = None
    region: str | None = None


def list_parties(session: Session, actor: Party, filters: PartyFilters, cursor: str | None,
                 limit: int) -> schemas.Page[schemas.PartyOut]:
    """Every party with its status: for the registrar and auditors."""
    if not actor.role_set & {Role.REGISTRAR.value, Role.AUDITOR.value}:
        raise errors.RoleRequired("listing parties needs the registrar or auditor role")
    query = select(Party)
    if filters.q:
        query = query.where(func.lower(col(Party.name)).contains(filters.q.lower(), autoescape=True))
    if filters.role:
        query = query.where((" " + col(Party.roles) + " ").contains(f" {filters.role} ", autoescape=True))
    for column, value in ((Party.status, filters.status), (Party.kind, filters.kind), (Party.region, filters.region)):
        if value is not None:
            query = query.where(col(column) == value)
    rows, next_cursor = page(session, query, col(Party.id), cursor, limit)
    return schemas.Page(items=[party_out(r[0]) for r in rows], next_cursor=next_cursor)


def account_out(session: Session, account: Account) -> schemas.AccountOut:
    party = session.get(Party, account.party_id) if account.party_id else None
    return schemas.AccountOut(id=account.public_id, kind=account.kind, name=account.name,
                              party=party.public_id if party else None, created_at=account.created_at)


def list_accounts(session: Session, actor: Party, cursor: str | None, limit: int) -> schemas.Page[schemas.AccountOut]:
    rows, next_cursor = page(session, readable_accounts_query(actor), col(Account.id), cursor, limit)
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
    rows, next_cursor = page(session, query, col(CreditBlock.id), cursor, limit)
    items = [
        schemas.BlockOut(id=b.public_id, issuance=iss, serial=serial_number(prefix, b.first_unit, b.last_unit),
                         first_unit=b.first_unit, last_unit=b.last_unit, quantity_kg=b.quantity_kg, status=b.status,
                         project=prj, vintage=b.vintage)
        for b, iss, prefix, prj in rows
    ]
    return schemas.Page(items=items, next_cursor=next_cursor)


def account_history(session: Session, account: Account, cursor: str | None,
                    limit: int) -> schemas.Page[schemas.HistoryLine]:
    """Every ledger entry into or out of the account, oldest first."""
    query = select(LedgerEntry).where(or_(col(LedgerEntry.from_account_id) == account.id,
                                          col(LedgerEntry.to_account_id) == account.id))
    rows, next_cursor = page(session, query, col(LedgerEntry.id), cursor, limit)
    return schemas.Page(items=[_history_line(r[0], account.public_id) for r in rows], next_cursor=next_cursor)


def _history_line(entry: LedgerEntry, account: str) -> schemas.HistoryLine:
    body = json.loads(entry.body)
    source, target = body.get("from"), body.get("to")
    direction: Literal["in", "out", "in place", "opened"]
    if entry.kind == "open_account":
        direction, counterparty = "opened", None
    elif source == target:
        direction, counterparty = "in place", None
    elif target == account:
        direction, counterparty = "in", source
    else:
        direction, counterparty = "out", target
    return schemas.HistoryLine(entry=entry.id, leaf_index=entry.leaf_index, type=entry.kind, id=body["id"],
                               direction=direction, counterparty=counterparty,
                               quantity_kg=body.get("quantity_kg", 0),
                               serials=[u["serial"] for u in body.get("units", [])], at=body["time"])


# --- projects ---------------------------------------------------------------------------------


def project_out(session: Session, project: Project) -> schemas.ProjectOut:
    owner = session.get(Party, project.owner_party_id)
    if owner is None:
        raise errors.UnknownParty(f"project {project.public_id} names no owner")
    return _project_out(project, owner.public_id, owner.name, owner.kind)


def _project_out(project: Project, owner: str, owner_name: str, owner_kind: str) -> schemas.ProjectOut:
    return schemas.ProjectOut(
        id=project.public_id, name=project.name, owner=owner, owner_name=public_name(owner_name, owner_kind),
        methodology_id=project.methodology_id, methodology_version=project.methodology_version,
        region=project.region, location=project.location, latitude=project.latitude, longitude=project.longitude,
        capacity=project.capacity, capacity_unit=project.capacity_unit,
        crediting_period_start=project.crediting_period_start, crediting_period_end=project.crediting_period_end,
        status=project.status, created_at=project.created_at,
    )


@dataclass(frozen=True)
class ProjectFilters:
    methodology_id: str | None = None
    region: str | None = None
    status: str | None = None
    owner: str | None = None
    q: str | None = None  # a case-insensitive substring of the name or the location


def projects_query(filters: ProjectFilters) -> AnySelect:
    query = select(Project, col(Party.public_id), col(Party.name), col(Party.kind)).join(
        Party, col(Party.id) == col(Project.owner_party_id))
    if filters.q:
        words = filters.q.lower()
        query = query.where(or_(func.lower(col(Project.name)).contains(words, autoescape=True),
                                func.lower(col(Project.location)).contains(words, autoescape=True)))
    for column, value in ((Project.methodology_id, filters.methodology_id), (Project.region, filters.region),
                          (Project.status, filters.status), (Party.public_id, filters.owner)):
        if value is not None:
            query = query.where(col(column) == value)
    return query


def project_row_out(row: AnyRow) -> schemas.ProjectOut:
    project, owner, owner_name, owner_kind = row
    return _project_out(project, owner, owner_name, owner_kind)


# --- issuances and blocks ---------------------------------------------------------------------


@dataclass(frozen=True)
class IssuanceFilters:
    project: str | None = None
    vintage: int | None = None
    methodology_id: str | None = None
    region: str | None = None


def issuances_query(filters: IssuanceFilters) -> AnySelect:
    buffer_pool = select(col(Account.id)).where(col(Account.public_id) == BUFFER_POOL_ACCOUNT).scalar_subquery()
    query = select(Issuance, col(Project.public_id), col(Project.name), col(Project.methodology_id),
                   col(Project.methodology_version), col(Project.region),
                   (col(Issuance.account_id) == buffer_pool).label("to_buffer_pool")).join(
        Project, col(Project.id) == col(Issuance.project_id))
    for column, value in ((Project.public_id, filters.project), (Issuance.vintage, filters.vintage),
                          (Project.methodology_id, filters.methodology_id), (Project.region, filters.region)):
        if value is not None:
            query = query.where(col(column) == value)
    return query


def issuance_row_out(row: AnyRow) -> schemas.IssuanceOut:
    iss, project, name, methodology_id, methodology_version, region, to_buffer_pool = row
    return schemas.IssuanceOut(
        id=iss.public_id, project=project, project_name=name, methodology_id=methodology_id,
        methodology_version=methodology_version, region=region, number=iss.number, vintage=iss.vintage,
        quantity_kg=iss.quantity_kg, serial=serial_number(iss.serial_prefix, 1, iss.quantity_kg),
        to_buffer_pool=bool(to_buffer_pool), verification_statement_sha256=iss.verification_statement_sha256,
        issued_at=iss.issued_at,
    )


def issuance_out(session: Session, public_id: str) -> schemas.IssuanceOut:
    row = session.execute(issuances_query(IssuanceFilters()).where(col(Issuance.public_id) == public_id)).first()
    if row is None:
        raise errors.UnknownIssuance(f"no issuance {public_id}")
    return issuance_row_out(row)


def public_blocks_query(serial: str | None, issuance: str | None) -> AnySelect:
    """The blocks that make up a serial range (or an issuance): where each unit stands now."""
    query = (select(CreditBlock, col(Issuance.public_id), col(Issuance.serial_prefix), col(Project.public_id),
                    col(Retirement.public_id))
             .join(Issuance, col(Issuance.id) == col(CreditBlock.issuance_id))
             .join(Project, col(Project.id) == col(CreditBlock.project_id))
             .outerjoin(Retirement, col(Retirement.id) == col(CreditBlock.retirement_id)))
    if serial is None and issuance is None:
        raise errors.InvalidRequest("give a serial (a range of units) or an issuance")
    if serial is not None:
        try:
            wanted = parse_serial(serial)
        except ValueError as exc:
            raise errors.InvalidSerialRange(str(exc)) from exc
        query = query.where(col(Issuance.serial_prefix) == wanted.prefix,
                            col(CreditBlock.last_unit) >= wanted.first_unit,
                            col(CreditBlock.first_unit) <= wanted.last_unit)
    if issuance is not None:
        query = query.where(col(Issuance.public_id) == issuance)
    return query


def public_block_row_out(row: AnyRow) -> schemas.PublicBlockOut:
    b, issuance, prefix, project, retirement = row
    return schemas.PublicBlockOut(
        id=b.public_id, issuance=issuance, serial=serial_number(prefix, b.first_unit, b.last_unit),
        first_unit=b.first_unit, last_unit=b.last_unit, quantity_kg=b.quantity_kg, status=b.status,
        project=project, vintage=b.vintage, retirement=retirement)


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
    retirement = get_by_public_id(session, Retirement, public_id,
                                  lambda: errors.UnknownRetirement(f"no retirement {public_id}"))
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


def retirement_made_out(retirement: Retirement, movement: credits.Movement) -> schemas.RetirementOut:
    """A retirement just made, from what the command returned: the same answer as `retirement_out`
    without reading it back."""
    units = [schemas.UnitRangeOut(issuance=r.issuance_public_id, serial=r.serial, first_unit=r.first_unit,
                                  last_unit=r.last_unit, quantity_kg=r.quantity_kg, block=r.block_public_id)
             for r in sorted(movement.ranges, key=lambda r: (r.issuance_id, r.first_unit))]
    return _retirement_out(retirement, units)


@dataclass(frozen=True)
class RetirementFilters:
    project: str | None = None
    vintage: int | None = None
    beneficiary: str | None = None  # a case-insensitive substring
    account: str | None = None
    claim_period_start: date | None = None  # claim periods that overlap [start, end]
    claim_period_end: date | None = None
    retired_from: datetime | None = None
    retired_until: datetime | None = None


def retirements_query(filters: RetirementFilters) -> AnySelect:
    query = select(Retirement)
    if filters.project is not None or filters.vintage is not None:
        blocks = select(col(CreditBlock.id)).where(col(CreditBlock.retirement_id) == col(Retirement.id))
        if filters.project is not None:
            blocks = blocks.join(Project, col(Project.id) == col(CreditBlock.project_id)).where(
                col(Project.public_id) == filters.project)
        if filters.vintage is not None:
            blocks = blocks.where(col(CreditBlock.vintage) == filters.vintage)
        query = query.where(exists(blocks))
    if filters.beneficiary:
        query = query.where(func.lower(col(Retirement.beneficiary_name)).contains(filters.beneficiary.lower(),
                                                                                autoescape=True))
    if filters.account is not None:
        query = query.join(Account, col(Account.id) == col(Retirement.account_id)).where(
            col(Account.public_id) == filters.account)
    if filters.claim_period_start is not None:
        query = query.where(col(Retirement.claim_period_end) >= filters.claim_period_start)
    if filters.claim_period_end is not None:
        query = query.where(col(Retirement.claim_period_start) <= filters.claim_period_end)
    if filters.retired_from is not None:
        query = query.where(col(Retirement.retired_at) >= filters.retired_from)
    if filters.retired_until is not None:
        query = query.where(col(Retirement.retired_at) <= filters.retired_until)
    return query


def retirement_row_out(row: AnyRow) -> schemas.RetirementOut:
    return _retirement_out(row[0], [])


def ledger_entry_out(session: Session, entry_id: int) -> schemas.LedgerEntryOut:
    """Public, like the log itself: entries name accounts only by their opaque ids."""
    entry = session.get(LedgerEntry, entry_id)
    if entry is None:
        raise errors.UnknownLogEntry(f"no ledger entry {entry_id}")
    return schemas.LedgerEntryOut(id=entry_id, type=entry.kind, leaf_index=entry.leaf_index,
                                  entry=bytes(entry.body).decode())
