"""Issue, transfer, retire, cancel, freeze and unfreeze serial-numbered credits.

Every command here runs inside one write transaction (see `registry.db`) and writes exactly one
ledger entry describing the unit ranges it moved. Blocks are locked in one fixed order
(vintage, issuance, first unit) with `SELECT … FOR UPDATE` on PostgreSQL (SQLite serialises
writers with `BEGIN IMMEDIATE`), and each block change is a conditional update on the holder and
status it was read with, so of two racing commands for the same units exactly one wins.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlmodel import Session, col

from registry import errors
from registry.accounts import (
    CANCELLATION_ACCOUNT,
    RETIREMENT_ACCOUNT,
    AccountRef,
    find_accounts,
    get_accounts,
    require_holder,
)
from registry.db import copies, copy_rows, next_ids
from registry.ids import new_public_id
from registry.ledger.entries import (
    MOVEMENT_RULES,
    EntryType,
    MovementRule,
    NewEntry,
    append_entries,
    append_entry,
)
from registry.models import (
    MAX_QUANTITY_KG,
    AccountKind,
    BlockStatus,
    CreditBlock,
    Issuance,
    Party,
    Project,
    ProjectStatus,
    Retirement,
    Role,
    pk,
    table,
)
from registry.parties import require_role
from registry.projects import get_project
from registry.serials import serial_number, serial_prefix

# Oldest-first selection reads blocks in growing batches; most commands need one or two blocks.
FIRST_BATCH = 8

BLOCKS = table(CreditBlock)
ISSUANCES = table(Issuance)

# Statements on the hot path are built once: building SQL expressions per request costs more
# CPU than the database work they describe. Each block row carries its issuance's serial data.
_BLOCK_SELECT = select(
    BLOCKS.c.id, BLOCKS.c.public_id, BLOCKS.c.issuance_id, BLOCKS.c.first_unit, BLOCKS.c.last_unit,
    BLOCKS.c.account_id, BLOCKS.c.status, BLOCKS.c.project_id, BLOCKS.c.vintage, BLOCKS.c.lock_ref,
    ISSUANCES.c.public_id.label("issuance_public_id"), ISSUANCES.c.serial_prefix,
).join(ISSUANCES, ISSUANCES.c.id == BLOCKS.c.issuance_id)
_GUARD = (
    BLOCKS.c.id == bindparam("b_id"),
    BLOCKS.c.account_id == bindparam("b_account"),
    BLOCKS.c.status == bindparam("b_status"),
    BLOCKS.c.first_unit == bindparam("b_first"),
    BLOCKS.c.last_unit == bindparam("b_last"),
)
_MOVE_WHOLE_BLOCK = update(BLOCKS).where(*_GUARD).values(
    account_id=bindparam("to_account"), status=bindparam("to_status"), retirement_id=bindparam("to_retirement"),
    lock_ref=bindparam("to_lock"),
)
_SHRINK_BLOCK = update(BLOCKS).where(*_GUARD).values(
    first_unit=bindparam("keep_first"), last_unit=bindparam("keep_last"), quantity_kg=bindparam("keep_quantity")
)
# A batch's block whose units all go: it becomes the first of its pieces.
_MOVE_FIRST_PIECE = update(BLOCKS).where(*_GUARD).values(
    account_id=bindparam("to_account"), status=bindparam("to_status"), retirement_id=bindparam("to_retirement"),
    first_unit=bindparam("first"),
    last_unit=bindparam("last"), quantity_kg=bindparam("quantity"),
)
_INSERT_BLOCKS = insert(BLOCKS)


@lru_cache(maxsize=256)
def _oldest_first_statement(statuses: tuple[str, ...], by_project: bool, by_vintage: bool, by_methodology: bool,
                            limit: int | None, basket: tuple[bool, bool, bool, bool] = (False,) * 4,
                            by_issuance: bool = False) -> Any:
    query = _BLOCK_SELECT.where(BLOCKS.c.account_id == bindparam("account_id"), BLOCKS.c.status.in_(statuses))
    if by_issuance:
        query = query.where(BLOCKS.c.issuance_id == bindparam("issuance_id"))
    if by_project:
        query = query.where(BLOCKS.c.project_id == bindparam("project_id"))
    if by_vintage:
        query = query.where(BLOCKS.c.vintage == bindparam("vintage"))
    if by_methodology:
        projects = select(col(Project.id)).where(col(Project.methodology_id) == bindparam("methodology_id"))
        query = query.where(BLOCKS.c.project_id.in_(projects))
    by_methodologies, by_vintage_from, by_vintage_to, by_regions = basket
    if by_methodologies:
        projects = select(col(Project.id)).where(col(Project.methodology_id).in_(
            bindparam("basket_methodologies", expanding=True)))
        query = query.where(BLOCKS.c.project_id.in_(projects))
    if by_regions:
        projects = select(col(Project.id)).where(col(Project.region).in_(bindparam("basket_regions", expanding=True)))
        query = query.where(BLOCKS.c.project_id.in_(projects))
    if by_vintage_from:
        query = query.where(BLOCKS.c.vintage >= bindparam("vintage_from"))
    if by_vintage_to:
        query = query.where(BLOCKS.c.vintage <= bindparam("vintage_to"))
    query = query.order_by(BLOCKS.c.vintage, BLOCKS.c.issuance_id, BLOCKS.c.first_unit)
    if limit is not None:
        query = query.limit(limit)
    # Ignored by SQLite, where BEGIN IMMEDIATE already serialises writers.
    return query.with_for_update(of=BLOCKS)


_SERIAL_RANGE_STATEMENT = (
    _BLOCK_SELECT.where(
        ISSUANCES.c.public_id == bindparam("issuance"),
        BLOCKS.c.first_unit <= bindparam("last"),
        BLOCKS.c.last_unit >= bindparam("first"),
    )
    .order_by(BLOCKS.c.first_unit)
    .with_for_update(of=BLOCKS)
)


@dataclass(frozen=True)
class SerialRangeSelection:
    """Exactly these units of one issuance."""

    issuance_public_id: str
    first_unit: int
    last_unit: int


@dataclass(frozen=True)
class Basket:
    """Rules every unit must meet (a traded product's eligibility): methodologies, a vintage range and
    the regions the credits come from. None means any."""

    methodology_ids: tuple[str, ...] | None = None
    vintage_from: int | None = None
    vintage_to: int | None = None
    regions: tuple[str, ...] | None = None

    def admits(self, methodology_id: str, vintage: int, region: str) -> bool:
        return ((self.methodology_ids is None or methodology_id in self.methodology_ids)
                and (self.vintage_from is None or vintage >= self.vintage_from)
                and (self.vintage_to is None or vintage <= self.vintage_to)
                and (self.regions is None or region in self.regions))


@dataclass(frozen=True)
class OldestFirstSelection:
    """Any units the account holds, oldest vintage first, optionally narrowed."""

    project_public_id: str | None = None
    vintage: int | None = None
    methodology_id: str | None = None
    basket: Basket | None = None
    # Units of this one issuance only (in serial order): an aggregator distributing an issuance.
    issuance_public_id: str | None = None


Selection = SerialRangeSelection | OldestFirstSelection


@dataclass(frozen=True)
class UnitRange:
    issuance_id: int
    issuance_public_id: str
    serial: str
    first_unit: int
    last_unit: int
    block_public_id: str

    @property
    def quantity_kg(self) -> int:
        return self.last_unit - self.first_unit + 1

    def as_entry(self) -> dict[str, Any]:
        return {
            "issuance": self.issuance_public_id,
            "serial": self.serial,
            "first_unit": self.first_unit,
            "last_unit": self.last_unit,
        }


@dataclass
class Movement:
    """What a command did: its public id, the ranges moved and its ledger entry."""

    public_id: str
    kind: EntryType
    from_account: str | None
    to_account: str
    quantity_kg: int
    ranges: list[UnitRange]
    ledger_entry_id: int
    entry: bytes


def validate_quantity(quantity_kg: Any) -> int:
    if isinstance(quantity_kg, bool) or not isinstance(quantity_kg, int):
        raise errors.InvalidQuantity("quantity_kg must be a whole number of kilograms")
    if quantity_kg <= 0:
        raise errors.InvalidQuantity("quantity_kg must be positive")
    if quantity_kg > MAX_QUANTITY_KG:
        raise errors.InvalidQuantity(f"quantity_kg may be at most {MAX_QUANTITY_KG:,} (one gigatonne)")
    return quantity_kg


# --- issuance ---------------------------------------------------------------------------------


def issue_credits(
    session: Session,
    actor: Party,
    project_public_id: str,
    vintage: int,
    quantity_kg: int,
    to_account_public_id: str,
    verification_statement_sha256: str | None = None,
) -> tuple[Issuance, Movement]:
    require_role(actor, Role.REGISTRAR)
    return record_issuance(session, actor, get_project(session, project_public_id), vintage, quantity_kg,
                           to_account_public_id, verification_statement_sha256)


def record_issuance(
    session: Session,
    issued_by: Party,
    project: Project,
    vintage: int,
    quantity_kg: int,
    to_account_public_id: str,
    verification_statement_sha256: str | None = None,
) -> tuple[Issuance, Movement]:
    """Create the issuance, its block and its ledger entry. Authorisation is the caller's: the
    registrar's role (`issue_credits`) or an accepted verification statement (verification/)."""
    validate_quantity(quantity_kg)
    if not 2000 <= vintage <= 2100:
        raise errors.InvalidRequest("vintage must be a calendar year between 2000 and 2100")
    if project.status != ProjectStatus.REGISTERED:
        raise errors.ProjectNotRegistered(f"project {project.public_id} is {project.status}, not registered")
    to_account = get_accounts(session, [to_account_public_id])[to_account_public_id]
    if to_account.kind == AccountKind.HOLDING and to_account.party_id != project.owner_party_id:
        raise errors.InvalidRequest("credits are issued to a holding account of the project's owner")
    if to_account.kind in (AccountKind.RETIREMENT, AccountKind.CANCELLATION):
        raise errors.InvalidRequest("credits cannot be issued into the retirement or cancellation account")
    # Lock the project row so that two issuances for it take distinct numbers.
    session.execute(select(col(Project.id)).where(col(Project.id) == project.id).with_for_update())
    last_number = select(func.coalesce(func.max(col(Issuance.number)), 0)).where(col(Issuance.project_id) == project.id)
    number = session.execute(last_number).scalar_one() + 1
    prefix = serial_prefix(project.region, project.methodology_id, project.methodology_version, pk(project),
                           vintage, number)
    issuance = Issuance(
        public_id=new_public_id("iss"), project_id=pk(project), number=number, vintage=vintage,
        quantity_kg=quantity_kg, serial_prefix=prefix, account_id=to_account.id,
        verification_statement_sha256=verification_statement_sha256, issued_by_party_id=pk(issued_by),
    )
    session.add(issuance)
    session.flush()
    block_public_id = new_public_id("blk")
    session.execute(
        insert(CreditBlock).values(
            public_id=block_public_id, issuance_id=issuance.id, first_unit=1, last_unit=quantity_kg,
            quantity_kg=quantity_kg, account_id=to_account.id, status=BlockStatus.ACTIVE.value,
            project_id=project.id, vintage=vintage,
        )
    )
    unit_range = UnitRange(pk(issuance), issuance.public_id, serial_number(prefix, 1, quantity_kg), 1,
                           quantity_kg, block_public_id)
    body: dict[str, Any] = {
        "id": issuance.public_id,
        "project": project.public_id,
        "methodology": {"id": project.methodology_id, "version": project.methodology_version},
        "region": project.region,
        "vintage": vintage,
        "to": to_account.public_id,
        "quantity_kg": quantity_kg,
        "units": [unit_range.as_entry()],
    }
    if verification_statement_sha256:
        body["verification_statement_sha256"] = verification_statement_sha256
    entry_id, entry = append_entry(session, EntryType.ISSUE, body, None, to_account.id)
    movement = Movement(issuance.public_id, EntryType.ISSUE, None, to_account.public_id, quantity_kg, [unit_range],
                        entry_id, entry)
    return issuance, movement


# --- selecting and locking units --------------------------------------------------------------


@dataclass(frozen=True)
class _Take:
    block: Any  # a row of _BLOCK_SELECT
    first_unit: int
    last_unit: int


def _select_oldest_first(
    session: Session, account: AccountRef, statuses: tuple[str, ...], quantity_kg: int, selection: OldestFirstSelection
) -> list[_Take]:
    params: dict[str, Any] = {"account_id": account.id}
    if selection.project_public_id is not None:
        params["project_id"] = get_project(session, selection.project_public_id).id
    if selection.vintage is not None:
        params["vintage"] = selection.vintage
    if selection.methodology_id is not None:
        params["methodology_id"] = selection.methodology_id
    if selection.issuance_public_id is not None:
        params["issuance_id"] = _issuance_id(session, selection.issuance_public_id)
    basket = selection.basket or Basket()
    basket_params = {"basket_methodologies": basket.methodology_ids, "vintage_from": basket.vintage_from,
                     "vintage_to": basket.vintage_to, "basket_regions": basket.regions}
    params.update((key, value) for key, value in basket_params.items() if value is not None)
    shape = (statuses, "project_id" in params, "vintage" in params, "methodology_id" in params)
    basket_shape = tuple(value is not None for value in basket_params.values())
    connection = session.connection()
    limit: int | None = FIRST_BATCH
    while True:
        rows = connection.execute(_oldest_first_statement(*shape, limit, basket_shape, "issuance_id" in params),
                                  params).all()
        takes, remaining = [], quantity_kg
        for row in rows:
            take = min(remaining, row.last_unit - row.first_unit + 1)
            takes.append(_Take(row, row.first_unit, row.first_unit + take - 1))
            remaining -= take
            if remaining == 0:
                return takes
        if limit is None:
            available = quantity_kg - remaining
            raise errors.InsufficientCredits(
                f"account {account.public_id} holds {available} kg matching this request, not {quantity_kg} kg"
            )
        # Rows may have been skipped because a concurrent command moved them: read on, and read
        # everything (still locked in the same order) before concluding the account is short.
        limit = limit * 8 if len(rows) == limit and limit < 4096 else None


def _issuance_id(session: Session, public_id: str) -> int:
    issuance_id = session.execute(select(col(Issuance.id)).where(col(Issuance.public_id) == public_id)).scalar()
    if issuance_id is None:
        raise errors.UnknownIssuance(f"no issuance {public_id}")
    return issuance_id


def _select_serial_range(
    session: Session, account: AccountRef, statuses: tuple[str, ...], selection: SerialRangeSelection
) -> list[_Take]:
    if not 1 <= selection.first_unit <= selection.last_unit:
        raise errors.InvalidSerialRange("a serial range runs from first_unit >= 1 to last_unit >= first_unit")
    rows = session.connection().execute(
        _SERIAL_RANGE_STATEMENT,
        {"issuance": selection.issuance_public_id, "first": selection.first_unit, "last": selection.last_unit},
    ).all()
    if not rows and session.execute(
        select(col(Issuance.id)).where(col(Issuance.public_id) == selection.issuance_public_id)
    ).first() is None:
        raise errors.UnknownIssuance(f"no issuance {selection.issuance_public_id}")
    expected_next = selection.first_unit
    takes = []
    for row in rows:
        if row.first_unit > expected_next:
            break
        if row.account_id != account.id or row.status not in statuses:
            raise errors.CreditsNotAvailable(
                f"units {max(row.first_unit, selection.first_unit)}–{min(row.last_unit, selection.last_unit)} "
                f"of issuance {selection.issuance_public_id} are {row.status} "
                + ("in another account" if row.account_id != account.id else "")
            )
        last = min(row.last_unit, selection.last_unit)
        takes.append(_Take(row, expected_next, last))
        expected_next = last + 1
    if expected_next <= selection.last_unit:
        raise errors.InvalidSerialRange(
            f"units {expected_next}–{selection.last_unit} of issuance {selection.issuance_public_id} do not exist"
        )
    return takes


def _select(
    session: Session, account: AccountRef, statuses: tuple[str, ...], quantity_kg: int | None, selection: Selection
) -> list[_Take]:
    if isinstance(selection, SerialRangeSelection):
        size = selection.last_unit - selection.first_unit + 1
        if quantity_kg is not None and validate_quantity(quantity_kg) != size:
            raise errors.InvalidQuantity(f"quantity_kg {quantity_kg} differs from the {size} units of the serial range")
        return _select_serial_range(session, account, statuses, selection)
    if quantity_kg is None:
        raise errors.InvalidQuantity("quantity_kg is required unless a serial range is given")
    return _select_oldest_first(session, account, statuses, validate_quantity(quantity_kg), selection)


# --- moving units -----------------------------------------------------------------------------


def _guard_of(block: Any) -> dict[str, Any]:
    """The parameters of _GUARD: a block changes only if it is still exactly as it was read."""
    return {"b_id": block.id, "b_account": block.account_id, "b_status": block.status,
            "b_first": block.first_unit, "b_last": block.last_unit}


def _apply(
    session: Session, takes: list[_Take], to_account_id: int, new_status: str, retirement_id: int | None = None,
    lock_ref: str | None = None,
) -> list[UnitRange]:
    """Move the taken units to the account and status (and lock, for locked units); split blocks
    where only part is taken.

    Each block change is conditional on the block being exactly as it was read.
    """
    connection = session.connection()
    moved: list[UnitRange] = []
    new_blocks: list[dict[str, Any]] = []
    for take in takes:
        block = take.block
        guard = _guard_of(block)
        if take.first_unit == block.first_unit and take.last_unit == block.last_unit:
            statement = _MOVE_WHOLE_BLOCK
            params = {**guard, "to_account": to_account_id, "to_status": new_status, "to_retirement": retirement_id,
                      "to_lock": lock_ref}
            moved_block_id = block.public_id
        else:
            # The original row keeps the lowest remainder; the moved part and any upper remainder
            # become new rows. Shrinking first keeps ranges disjoint at every statement.
            remainders = []
            if block.first_unit < take.first_unit:
                remainders.append((block.first_unit, take.first_unit - 1))
            if take.last_unit < block.last_unit:
                remainders.append((take.last_unit + 1, block.last_unit))
            keep_first, keep_last = remainders[0]
            statement = _SHRINK_BLOCK
            params = {**guard, "keep_first": keep_first, "keep_last": keep_last,
                      "keep_quantity": keep_last - keep_first + 1}
            moved_block_id = new_public_id("blk")
            common = {"issuance_id": block.issuance_id, "project_id": block.project_id, "vintage": block.vintage}
            new_blocks.append({
                **common, "public_id": moved_block_id, "first_unit": take.first_unit, "last_unit": take.last_unit,
                "quantity_kg": take.last_unit - take.first_unit + 1, "account_id": to_account_id,
                "status": new_status, "retirement_id": retirement_id, "lock_ref": lock_ref,
            })
            for first, last in remainders[1:]:
                new_blocks.append({
                    **common, "public_id": new_public_id("blk"), "first_unit": first, "last_unit": last,
                    "quantity_kg": last - first + 1, "account_id": block.account_id, "status": block.status,
                    "retirement_id": None, "lock_ref": block.lock_ref,
                })
        if connection.execute(statement, params).rowcount != 1:
            raise errors.CreditsNotAvailable("these credits changed while the request ran; retry")
        moved.append(UnitRange(block.issuance_id, block.issuance_public_id,
                               serial_number(block.serial_prefix, take.first_unit, take.last_unit),
                               take.first_unit, take.last_unit, moved_block_id))
    if new_blocks:
        connection.execute(_INSERT_BLOCKS, new_blocks)
    return moved


def _holder_accounts(session: Session, actor: Party, from_public_id: str, *others: str) -> dict[str, AccountRef]:
    accounts = get_accounts(session, [from_public_id, *others])
    _require_may_move(actor, accounts[from_public_id])
    return accounts


def _require_may_move(actor: Party, source: AccountRef) -> None:
    """A holding account's units move at its holder's word; the registry's own accounts at the registrar's."""
    if source.kind == AccountKind.HOLDING:
        require_holder(actor, source)
    else:
        require_role(actor, Role.REGISTRAR)


def _take_units(session: Session, kind: EntryType, source: AccountRef, quantity_kg: int | None,
                selection: Selection) -> list[_Take]:
    """Select and lock the units a movement of `kind` may take: those in its rule's statuses."""
    statuses = tuple(s.value for s in MOVEMENT_RULES[kind].from_statuses)
    return _select(session, source, statuses, quantity_kg, selection)


def _record_movement(
    session: Session, kind: EntryType, source: AccountRef, target: AccountRef, takes: list[_Take],
    extra: dict[str, Any] | None = None, public_id: str | None = None, retirement_id: int | None = None,
    lock_ref: str | None = None,
) -> Movement:
    """Move the taken units by the entry type's rule and write the movement's one ledger entry."""
    ranges = _apply(session, takes, target.id, MOVEMENT_RULES[kind].to_status.value, retirement_id, lock_ref)
    return _movement_entry(session, kind, source, target, ranges, extra, public_id)


def _movement_entry(session: Session, kind: EntryType, source: AccountRef, target: AccountRef,
                    ranges: list[UnitRange], extra: dict[str, Any] | None = None, public_id: str | None = None,
                    ) -> Movement:
    """Write the one ledger entry of units already moved."""
    public_id = public_id or new_public_id(MOVEMENT_RULES[kind].id_prefix)
    total = sum(r.quantity_kg for r in ranges)
    entry_id, entry = append_entry(session, kind, {
        "id": public_id, "from": source.public_id, "to": target.public_id, "quantity_kg": total,
        "units": [r.as_entry() for r in ranges], **(extra or {}),
    }, source.id, target.id)
    return Movement(public_id, kind, source.public_id, target.public_id, total, ranges, entry_id, entry)


# PostgreSQL's hot path (DESIGN.md: PostgreSQL-specific SQL behind the same service function). The
# common movement, a quantity of the oldest units that the account's oldest block covers with units
# to spare, in one statement through the driver: lock that block, shrink it, insert the moved part.
# The portable path takes three statements (select, shrink, insert) through SQLAlchemy; it stays the
# reference, and every other case (a serial range, a narrowed selection, a quantity that empties or
# exceeds the oldest block, a vintage the claim period refuses) goes there, where this left nothing
# changed. The blocks are locked in the same order (oldest first) either way.
_SPLIT_OFF_OLDEST = """
WITH picked AS (
    SELECT b.id, b.issuance_id, b.first_unit, b.last_unit, b.project_id, b.vintage,
           i.public_id AS issuance_public_id, i.serial_prefix
    FROM credit_block b JOIN issuance i ON i.id = b.issuance_id
    WHERE b.account_id = %(account)s AND b.status = %(from_status)s
    ORDER BY b.vintage, b.issuance_id, b.first_unit
    LIMIT 1
    FOR UPDATE OF b
), fits AS (
    SELECT * FROM picked WHERE last_unit - first_unit >= %(quantity)s AND vintage <= %(latest_vintage)s
), shrunk AS (
    UPDATE credit_block b SET first_unit = f.first_unit + %(quantity)s, quantity_kg = f.last_unit - f.first_unit
        + 1 - %(quantity)s
    FROM fits f WHERE b.id = f.id AND b.first_unit = f.first_unit AND b.last_unit = f.last_unit
    RETURNING b.id
), moved AS (
    INSERT INTO credit_block (public_id, issuance_id, first_unit, last_unit, quantity_kg, account_id, status,
                              project_id, vintage, retirement_id)
    SELECT %(block)s, f.issuance_id, f.first_unit, f.first_unit + %(quantity)s - 1, %(quantity)s, %(to_account)s,
           %(to_status)s, f.project_id, f.vintage, %(retirement)s
    FROM fits f JOIN shrunk s ON s.id = f.id  -- inserted from the shrink's result: after it, never beside it
    RETURNING id
)
SELECT f.issuance_id, f.issuance_public_id, f.serial_prefix, f.first_unit, (SELECT count(*) FROM moved)
FROM fits f
"""


def _splits_in_one_statement(session: Session, quantity_kg: int | None, selection: Selection) -> bool:
    return (quantity_kg is not None and selection == OldestFirstSelection()
            and session.connection().dialect.name == "postgresql")


def _split_off_oldest(session: Session, kind: EntryType, source: AccountRef, target: AccountRef, quantity_kg: int,
                      retirement_id: int | None = None, latest_vintage: int = 9999) -> list[UnitRange] | None:
    """The moved units, or None (nothing changed) when the case is not the common one."""
    rule = MOVEMENT_RULES[kind]
    (from_status,) = rule.from_statuses
    block_public_id = new_public_id("blk")
    driver = session.connection().connection.driver_connection
    assert driver is not None  # checked out, inside the command's transaction
    with driver.cursor() as cursor:
        row = cursor.execute(_SPLIT_OFF_OLDEST, {
            "account": source.id, "from_status": from_status.value, "quantity": validate_quantity(quantity_kg),
            "latest_vintage": latest_vintage, "block": block_public_id, "to_account": target.id,
            "to_status": rule.to_status.value, "retirement": retirement_id}).fetchone()
    if row is None or row[-1] != 1:
        # Under READ COMMITTED the shrink may see another version of the block than the lock returned
        # (a concurrent command moved units in between): its guard then changes nothing, and the portable
        # path reads the block afresh, under the lock this statement took.
        return None
    issuance_id, issuance_public_id, prefix, first, _ = row
    last = first + quantity_kg - 1
    return [UnitRange(issuance_id, issuance_public_id, serial_number(prefix, first, last), first, last,
                      block_public_id)]


def transfer_credits(
    session: Session,
    actor: Party,
    from_account: str,
    to_account: str,
    quantity_kg: int | None,
    selection: Selection,
) -> Movement:
    accounts = _holder_accounts(session, actor, from_account, to_account)
    source, target = accounts[from_account], accounts[to_account]
    kind = _transfer_kind(source, target)
    if _splits_in_one_statement(session, quantity_kg, selection):
        assert quantity_kg is not None
        ranges = _split_off_oldest(session, kind, source, target, quantity_kg)
        if ranges is not None:
            return _movement_entry(session, kind, source, target, ranges)
    return _record_movement(session, kind, source, target, _take_units(session, kind, source, quantity_kg, selection))


def _transfer_kind(source: AccountRef, target: AccountRef) -> EntryType:
    if source.id == target.id:
        raise errors.InvalidRequest("the source and destination accounts are the same")
    if target.kind in (AccountKind.RETIREMENT, AccountKind.CANCELLATION):
        raise errors.InvalidRequest("use retire or cancel to move credits out of circulation")
    return EntryType.BUFFER_CONTRIBUTION if target.kind == AccountKind.BUFFER else EntryType.TRANSFER


# --- batches: an aggregator moving credits for thousands of households in one command -------------

MAX_BATCH = 10_000


@dataclass(frozen=True)
class BatchTransfer:
    from_account: str
    to_account: str
    quantity_kg: int  # the oldest units of the source account


BATCH_COLUMNS = ("from_account", "to_account", "quantity_kg")


def _batch_rows(text: str, columns: tuple[str, ...], required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """A batch file's lines (numbered as an editor shows them), each a dict of its stripped cells:
    CSV with a header line naming the columns, a UTF-8 byte-order mark accepted."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    missing = [column for column in required if column not in (reader.fieldnames or [])]
    if missing:
        raise errors.InvalidRequest(f"the batch file has no column {', '.join(missing)}: its first line names "
                                    f"the columns {','.join(columns)}")
    return [(line, {column: (row.get(column) or "").strip() for column in columns})
            for line, row in enumerate(reader, 2)]


def _batch_quantity(line: int, text: str) -> int:
    if not text.isdigit():
        raise errors.InvalidQuantity(f"line {line}: quantity_kg {text!r} is not a whole number of kilograms")
    return int(text)


def batch_from_csv(text: str) -> list[BatchTransfer]:
    """A batch file, as the CLI and the web page take it: CSV with a header line naming the columns
    from_account, to_account and quantity_kg (whole kilograms), one transfer a line."""
    return [BatchTransfer(row["from_account"], row["to_account"], _batch_quantity(line, row["quantity_kg"]))
            for line, row in _batch_rows(text, BATCH_COLUMNS, BATCH_COLUMNS)]


def _check_batch_size(size: int, what: str) -> None:
    if not 1 <= size <= MAX_BATCH:
        raise errors.InvalidRequest(f"a batch holds 1 to {MAX_BATCH:,} {what}, not {size:,}")


def _numbered(what: str, number: int, exc: errors.RegistryError) -> errors.RegistryError:
    """The same refusal, naming the batch's line it is about (from 1)."""
    return type(exc)(f"{what} {number}: {exc.message}")


def transfer_batch(session: Session, actor: Party, transfers: list[BatchTransfer],
                   selection: OldestFirstSelection | None = None) -> list[Movement]:
    """Up to MAX_BATCH transfers in one transaction, all or nothing, each with its own ledger entry,
    in the order given, each of its source's oldest units (narrowed by `selection`, e.g. to one
    issuance an aggregator distributes). A refusal names the transfer (from 1)."""
    _check_batch_size(len(transfers), "transfers")
    accounts = find_accounts(session, {t.from_account for t in transfers} | {t.to_account for t in transfers})
    kinds: list[EntryType] = []
    for number, transfer in enumerate(transfers, 1):
        try:
            validate_quantity(transfer.quantity_kg)
            for public_id in (transfer.from_account, transfer.to_account):
                if public_id not in accounts:
                    raise errors.UnknownAccount(f"no account {public_id}")
            source, target = accounts[transfer.from_account], accounts[transfer.to_account]
            _require_may_move(actor, source)
            kinds.append(_transfer_kind(source, target))
        except errors.RegistryError as exc:
            raise _numbered("transfer", number, exc) from None
    rule = MOVEMENT_RULES[EntryType.TRANSFER]  # a buffer contribution moves units by the same rule
    cut = _take_and_cut(session, [accounts[t.from_account] for t in transfers], [t.quantity_kg for t in transfers],
                        [accounts[t.to_account].id for t in transfers], rule, selection or OldestFirstSelection())
    public_ids = [new_public_id(rule.id_prefix) for _ in transfers]
    entries = append_entries(session, [
        NewEntry(kind, {"id": public_id, "from": t.from_account, "to": t.to_account, "quantity_kg": t.quantity_kg,
                        "units": [r.as_entry() for r in pieces]},
                 accounts[t.from_account].id, accounts[t.to_account].id)
        for t, kind, public_id, pieces in zip(transfers, kinds, public_ids, cut.pieces, strict=True)])
    return [Movement(public_id, kind, t.from_account, t.to_account, t.quantity_kg, pieces, entry_id, entry)
            for t, kind, public_id, pieces, (entry_id, entry)
            in zip(transfers, kinds, public_ids, cut.pieces, entries, strict=True)]


@dataclass
class _Cut:
    """Each batch movement's unit ranges, the vintages they come from, and the block changes that make them."""

    pieces: list[list[UnitRange]]
    vintages: list[set[int]]
    moves: list[dict[str, Any]]
    shrinks: list[dict[str, Any]]
    new_blocks: list[dict[str, Any]]


def _take_and_cut(session: Session, sources: list[AccountRef], wanted: list[int], targets: list[int],
                  rule: MovementRule, selection: OldestFirstSelection,
                  retirement_ids: list[int] | None = None, check: Callable[[int, set[int]], None] | None = None,
                  ) -> _Cut:
    """Select each source account's units once for all its movements, sources in account id order (a
    fixed lock order, so two batches never deadlock), cut them oldest first into consecutive pieces
    (movement k gets wanted[k] units, for targets[k]), let `check` refuse a movement by the vintages
    it got, and write the block changes."""
    by_source: dict[int, list[int]] = defaultdict(list)
    for index, source in enumerate(sources):
        by_source[source.id].append(index)
    statuses = tuple(status.value for status in rule.from_statuses)
    cut = _Cut([[] for _ in wanted], [set() for _ in wanted], [], [], [])
    for source_id in sorted(by_source):
        indices = by_source[source_id]
        takes = _select_oldest_first(session, sources[indices[0]], statuses, sum(wanted[i] for i in indices),
                                     selection)
        _plan_cut(cut, takes, indices, wanted, targets, rule.to_status.value, retirement_ids)
    if check is not None:
        for index, vintages in enumerate(cut.vintages):
            check(index, vintages)
    _write_cut(session, cut)
    return cut


def _plan_cut(cut: _Cut, takes: list[_Take], indices: list[int], wanted: list[int], targets: list[int],
              to_status: str, retirement_ids: list[int] | None) -> None:
    """Cut one source's taken units (each take starts at its block's first unit: oldest first) into the
    pieces of movements `indices`, in order. A block whose units are all taken becomes its first piece;
    a block with units left keeps them, and its pieces become new blocks."""
    position, left = 0, wanted[indices[0]]
    for take in takes:
        block, first, first_piece = take.block, take.first_unit, True
        kept, guard = take.last_unit < block.last_unit, _guard_of(block)
        while first <= take.last_unit:
            while left == 0:
                position += 1
                left = wanted[indices[position]]
            k = indices[position]
            last = min(take.last_unit, first + left - 1)
            retirement_id = retirement_ids[k] if retirement_ids else None
            if first_piece and not kept:
                public_id = block.public_id
                cut.moves.append({**guard, "to_account": targets[k], "to_status": to_status,
                                  "to_retirement": retirement_id, "first": first, "last": last,
                                  "quantity": last - first + 1})
            else:
                public_id = new_public_id("blk")
                cut.new_blocks.append({
                    "issuance_id": block.issuance_id, "project_id": block.project_id, "vintage": block.vintage,
                    "public_id": public_id, "first_unit": first, "last_unit": last, "quantity_kg": last - first + 1,
                    "account_id": targets[k], "status": to_status, "retirement_id": retirement_id, "lock_ref": None})
            cut.pieces[k].append(UnitRange(block.issuance_id, block.issuance_public_id,
                                           serial_number(block.serial_prefix, first, last), first, last, public_id))
            cut.vintages[k].add(block.vintage)
            left -= last - first + 1
            first, first_piece = last + 1, False
        if kept:
            cut.shrinks.append({**guard, "keep_first": take.last_unit + 1, "keep_last": block.last_unit,
                                "keep_quantity": block.last_unit - take.last_unit})


def _write_cut(session: Session, cut: _Cut) -> None:
    connection = session.connection()
    for statement, rows in ((_MOVE_FIRST_PIECE, cut.moves), (_SHRINK_BLOCK, cut.shrinks)):
        if rows and connection.execute(statement, rows).rowcount != len(rows):
            raise errors.CreditsNotAvailable("these credits changed while the request ran; retry")
    if copies(connection, len(cut.new_blocks)):
        columns = tuple(cut.new_blocks[0])
        copy_rows(connection, "credit_block", columns, ([block[c] for c in columns] for block in cut.new_blocks))
    elif cut.new_blocks:
        connection.execute(_INSERT_BLOCKS, cut.new_blocks)


@dataclass(frozen=True)
class RetirementDetails:
    beneficiary_name: str
    beneficiary_type: str
    purpose: str
    claim_period_start: date
    claim_period_end: date
    public_note: str = ""
    # The net-zero claim (netzero/) the retirement is made for, named in its ledger entry.
    claim: str | None = None


BENEFICIARY_TYPES = ("organisation", "individual", "product", "event")


def _check_retirement_details(details: RetirementDetails) -> None:
    if details.beneficiary_type not in BENEFICIARY_TYPES:
        raise errors.InvalidRequest(f"beneficiary_type must be one of {', '.join(BENEFICIARY_TYPES)}")
    if not details.beneficiary_name.strip() or not details.purpose.strip():
        raise errors.InvalidRequest("a retirement names its beneficiary and its purpose")
    if details.claim_period_end < details.claim_period_start:
        raise errors.InvalidRequest("the claim period ends before it starts")


def _check_vintages_back_the_claim(vintages: set[int], details: RetirementDetails) -> None:
    too_new = sorted(vintage for vintage in vintages if vintage > details.claim_period_end.year)
    if too_new:
        # A reduction cannot offset emissions of a period that ended before it happened. Oldest-first
        # selection reaches a later vintage only when the older ones ran out.
        raise errors.CreditsNotAvailable(
            f"credits of vintage {', '.join(map(str, too_new))} cannot back a claim period ending "
            f"{details.claim_period_end}: retire credits of vintage {details.claim_period_end.year} or earlier")


def _retirement_entry(details: RetirementDetails) -> dict[str, Any]:
    """What a retirement's ledger entry says besides the units moved."""
    return {
        "beneficiary": {"name": details.beneficiary_name.strip(), "type": details.beneficiary_type},
        "purpose": details.purpose.strip(),
        "claim_period": {"start": details.claim_period_start.isoformat(), "end": details.claim_period_end.isoformat()},
        "note": details.public_note,
        **({"claim": details.claim} if details.claim else {}),
    }


def retire_credits(
    session: Session,
    actor: Party,
    from_account: str,
    quantity_kg: int | None,
    selection: Selection,
    details: RetirementDetails,
) -> tuple[Retirement, Movement]:
    """Retire units for a beneficiary. Retired units sit in the retirement account and never move."""
    _check_retirement_details(details)
    accounts = _holder_accounts(session, actor, from_account, RETIREMENT_ACCOUNT)
    source, retired = accounts[from_account], accounts[RETIREMENT_ACCOUNT]
    retirement, ranges = None, None
    if _splits_in_one_statement(session, quantity_kg, selection):
        assert quantity_kg is not None
        retirement = _new_retirement(session, actor, source, quantity_kg, details)
        ranges = _split_off_oldest(session, EntryType.RETIRE, source, retired, quantity_kg, pk(retirement),
                                   details.claim_period_end.year)
    if ranges is None:
        takes = _take_units(session, EntryType.RETIRE, source, quantity_kg, selection)
        _check_vintages_back_the_claim({t.block.vintage for t in takes}, details)
        retirement = retirement or _new_retirement(session, actor, source,
                                                   sum(t.last_unit - t.first_unit + 1 for t in takes), details)
        ranges = _apply(session, takes, retired.id, BlockStatus.RETIRED.value, pk(retirement))
    assert retirement is not None
    movement = _movement_entry(session, EntryType.RETIRE, source, retired, ranges, _retirement_entry(details),
                               retirement.public_id)
    retirement.ledger_entry_id = movement.ledger_entry_id
    session.flush()
    return retirement, movement


def _new_retirement(session: Session, actor: Party, source: AccountRef, quantity_kg: int,
                    details: RetirementDetails) -> Retirement:
    """The record comes before the move so that the retired blocks can name it."""
    retirement = Retirement(
        public_id=new_public_id(MOVEMENT_RULES[EntryType.RETIRE].id_prefix), account_id=source.id,
        party_id=pk(actor), quantity_kg=quantity_kg, beneficiary_name=details.beneficiary_name.strip(),
        beneficiary_type=details.beneficiary_type, purpose=details.purpose.strip(),
        claim_period_start=details.claim_period_start, claim_period_end=details.claim_period_end,
        public_note=details.public_note,
    )
    session.add(retirement)
    session.flush()
    return retirement


@dataclass(frozen=True)
class BatchRetirement:
    from_account: str
    quantity_kg: int  # the oldest units of the account
    details: RetirementDetails


RETIREMENT_BATCH_COLUMNS = ("from_account", "quantity_kg", "beneficiary_name", "beneficiary_type", "purpose",
                            "claim_period_start", "claim_period_end", "public_note")


def retirement_batch_from_csv(text: str) -> list[BatchRetirement]:
    """A retirement batch file: CSV with a header line naming the columns RETIREMENT_BATCH_COLUMNS
    (public_note may be left out), claim periods' days as YYYY-MM-DD, one retirement a line."""
    batch = []
    for line, row in _batch_rows(text, RETIREMENT_BATCH_COLUMNS, RETIREMENT_BATCH_COLUMNS[:-1]):
        try:
            start, end = date.fromisoformat(row["claim_period_start"]), date.fromisoformat(row["claim_period_end"])
        except ValueError:
            raise errors.InvalidRequest(f"line {line}: claim_period_start and claim_period_end are days written "
                                        "YYYY-MM-DD") from None
        batch.append(BatchRetirement(row["from_account"], _batch_quantity(line, row["quantity_kg"]), RetirementDetails(
            row["beneficiary_name"], row["beneficiary_type"], row["purpose"], start, end, row["public_note"])))
    return batch


RETIREMENTS = table(Retirement)
_INSERT_RETIREMENTS = insert(RETIREMENTS).returning(RETIREMENTS.c.id, sort_by_parameter_order=True)
_SET_RETIREMENT_ENTRY = update(RETIREMENTS).where(RETIREMENTS.c.id == bindparam("r_id")).values(
    ledger_entry_id=bindparam("r_entry"))
_SET_RETIREMENT_ENTRIES_PG = ("UPDATE retirement r SET ledger_entry_id = v.entry "
                              "FROM unnest(%(ids)s::bigint[], %(entries)s::bigint[]) AS v(id, entry) WHERE r.id = v.id")


def retire_batch(session: Session, actor: Party, retirements: list[BatchRetirement]) -> list[Movement]:
    """Up to MAX_BATCH retirements in one transaction, all or nothing, each of its account's oldest
    units, each with its own retirement record and ledger entry, in the order given: a platform
    retiring for each of its users, a factory for each of its products. A refusal names the
    retirement (from 1). The rules are retire_credits' rules."""
    _check_batch_size(len(retirements), "retirements")
    accounts = find_accounts(session, {r.from_account for r in retirements} | {RETIREMENT_ACCOUNT})
    for number, retirement in enumerate(retirements, 1):
        try:
            validate_quantity(retirement.quantity_kg)
            _check_retirement_details(retirement.details)
            if retirement.from_account not in accounts:
                raise errors.UnknownAccount(f"no account {retirement.from_account}")
            _require_may_move(actor, accounts[retirement.from_account])
        except errors.RegistryError as exc:
            raise _numbered("retirement", number, exc) from None
    rule, retired = MOVEMENT_RULES[EntryType.RETIRE], accounts[RETIREMENT_ACCOUNT]
    public_ids = [new_public_id(rule.id_prefix) for _ in retirements]
    retired_at = datetime.now(UTC)
    # The records come before the move so that the retired blocks can name them.
    connection = session.connection()
    records = [
        {"public_id": public_id, "account_id": accounts[r.from_account].id, "party_id": pk(actor),
         "quantity_kg": r.quantity_kg, "beneficiary_name": r.details.beneficiary_name.strip(),
         "beneficiary_type": r.details.beneficiary_type, "purpose": r.details.purpose.strip(),
         "claim_period_start": r.details.claim_period_start, "claim_period_end": r.details.claim_period_end,
         "public_note": r.details.public_note, "retired_at": retired_at}
        for public_id, r in zip(public_ids, retirements, strict=True)]
    by_copy = copies(connection, len(records))
    if by_copy:
        ids = next_ids(connection, "retirement", len(records))
        columns = ("id", *records[0])
        copy_rows(connection, "retirement", columns,
                  ([record_id, *record.values()] for record_id, record in zip(ids, records, strict=True)))
    else:
        ids = list(connection.execute(_INSERT_RETIREMENTS, records).scalars())

    def backs_its_claim(index: int, vintages: set[int]) -> None:
        try:
            _check_vintages_back_the_claim(vintages, retirements[index].details)
        except errors.RegistryError as exc:
            raise _numbered("retirement", index + 1, exc) from None

    cut = _take_and_cut(session, [accounts[r.from_account] for r in retirements],
                        [r.quantity_kg for r in retirements], [retired.id] * len(retirements), rule,
                        OldestFirstSelection(), ids, backs_its_claim)
    entries = append_entries(session, [
        NewEntry(EntryType.RETIRE, {"id": public_id, "from": r.from_account, "to": retired.public_id,
                                    "quantity_kg": r.quantity_kg, "units": [unit.as_entry() for unit in pieces],
                                    **_retirement_entry(r.details)},
                 accounts[r.from_account].id, retired.id)
        for public_id, r, pieces in zip(public_ids, retirements, cut.pieces, strict=True)])
    # The records name their entries, written after them (the foreign key): on PostgreSQL in one statement.
    entry_ids = [entry_id for entry_id, _ in entries]
    if by_copy:
        connection.exec_driver_sql(_SET_RETIREMENT_ENTRIES_PG, {"ids": ids, "entries": entry_ids})
    else:
        connection.execute(_SET_RETIREMENT_ENTRY, [{"r_id": retirement_id, "r_entry": entry_id}
                                                   for retirement_id, entry_id in zip(ids, entry_ids, strict=True)])
    return [Movement(public_id, EntryType.RETIRE, r.from_account, retired.public_id, r.quantity_kg, pieces, entry_id,
                     entry)
            for public_id, r, pieces, (entry_id, entry) in zip(public_ids, retirements, cut.pieces, entries,
                                                                strict=True)]


def cancel_credits(
    session: Session, actor: Party, from_account: str, quantity_kg: int | None, selection: Selection, reason: str
) -> Movement:
    """Registrar only: take units out of circulation for good (error, fraud, reversal cover)."""
    require_role(actor, Role.REGISTRAR)
    if not reason.strip():
        raise errors.InvalidRequest("a cancellation states its reason")
    accounts = get_accounts(session, [from_account, CANCELLATION_ACCOUNT])
    source = accounts[from_account]
    takes = _take_units(session, EntryType.CANCEL, source, quantity_kg, selection)
    return _record_movement(session, EntryType.CANCEL, source, accounts[CANCELLATION_ACCOUNT], takes,
                            {"reason": reason.strip()})


def set_frozen(
    session: Session, actor: Party, account: str, quantity_kg: int | None, selection: Selection, reason: str,
    frozen: bool,
) -> Movement:
    """Registrar only: freeze units (they stay with the holder but cannot move) or release them."""
    require_role(actor, Role.REGISTRAR)
    if not reason.strip():
        raise errors.InvalidRequest("a freeze or unfreeze states its reason")
    holder = get_accounts(session, [account])[account]
    kind = EntryType.FREEZE if frozen else EntryType.UNFREEZE
    takes = _take_units(session, kind, holder, quantity_kg, selection)
    return _record_movement(session, kind, holder, holder, takes, {"reason": reason.strip()})


# --- locks: units held for an offer, an order or a pledge (trading/) -----------------------------

_LOCKED_BY = (
    _BLOCK_SELECT.where(BLOCKS.c.account_id == bindparam("account_id"), BLOCKS.c.status == BlockStatus.LOCKED.value,
                        BLOCKS.c.lock_ref == bindparam("lock_ref"))
    .order_by(BLOCKS.c.vintage, BLOCKS.c.issuance_id, BLOCKS.c.first_unit)
    .with_for_update(of=BLOCKS)
)


def lock_credits(session: Session, holder: Party, account: str, quantity_kg: int | None, selection: Selection,
                 lock_ref: str, reason: str) -> Movement:
    """Hold the holder's units for `lock_ref` (an offer, an order, a pledge): they stay in its
    account but cannot be moved, retired or locked again until released or delivered."""
    source = _holder_accounts(session, holder, account)[account]
    takes = _take_units(session, EntryType.LOCK, source, quantity_kg, selection)
    return _record_movement(session, EntryType.LOCK, source, source, takes, {"lock": lock_ref, "reason": reason},
                            lock_ref=lock_ref)


def _locked_takes(session: Session, account: AccountRef, lock_ref: str, quantity_kg: int | None) -> list[_Take]:
    """The units held for `lock_ref`, oldest vintage first: all of them, or the first `quantity_kg`."""
    rows = session.connection().execute(_LOCKED_BY, {"account_id": account.id, "lock_ref": lock_ref}).all()
    if not rows:
        raise errors.CreditsNotAvailable(f"no units of account {account.public_id} are held for {lock_ref}")
    held = sum(row.last_unit - row.first_unit + 1 for row in rows)
    if quantity_kg is not None and quantity_kg > held:
        raise errors.InsufficientCredits(f"only {held} kg are held for {lock_ref}, not {quantity_kg} kg")
    takes, remaining = [], held if quantity_kg is None else quantity_kg
    for row in rows:
        take = min(remaining, row.last_unit - row.first_unit + 1)
        takes.append(_Take(row, row.first_unit, row.first_unit + take - 1))
        remaining -= take
        if remaining == 0:
            break
    return takes


def release_lock(session: Session, account: str, lock_ref: str, reason: str, quantity_kg: int | None = None,
                 ) -> Movement:
    """Return the units held for `lock_ref` (all, or the first `quantity_kg`) to the holder's free
    units. Authorisation is the caller's (trading/ decides who may withdraw an offer or release a
    pledge)."""
    source = get_accounts(session, [account])[account]
    return _record_movement(session, EntryType.UNLOCK, source, source,
                            _locked_takes(session, source, lock_ref, quantity_kg), {"lock": lock_ref, "reason": reason})


def deliver_locked(session: Session, account: str, lock_ref: str, to_account: str,
                   extra: dict[str, Any], quantity_kg: int | None = None) -> Movement:
    """Move the units held for `lock_ref` (all, or the first `quantity_kg`, oldest vintage first) to
    `to_account`, free: a trade's delivery or a pledge's enforcement, named in `extra`.
    Authorisation is the caller's."""
    accounts = get_accounts(session, [account, to_account])
    source, target = accounts[account], accounts[to_account]
    if target.kind != AccountKind.HOLDING or source.id == target.id:
        raise errors.InvalidRequest("locked units are delivered to another holding account")
    return _record_movement(session, EntryType.DELIVER, source, target,
                            _locked_takes(session, source, lock_ref, quantity_kg), {"lock": lock_ref, **extra})


# --- balances ---------------------------------------------------------------------------------

BALANCE_GROUPS = {
    "project": col(Project.public_id),
    "vintage": col(CreditBlock.vintage),
    "methodology": col(Project.methodology_id),
}


def account_balances(session: Session, account_id: int, group_by: str | None = None) -> list[dict[str, Any]]:
    """Quantities by status, optionally per project, vintage or methodology."""
    columns: list[Any] = [col(CreditBlock.status), func.sum(col(CreditBlock.quantity_kg)).label("quantity_kg")]
    query_group: list[Any] = [col(CreditBlock.status)]
    if group_by is not None:
        if group_by not in BALANCE_GROUPS:
            raise errors.InvalidRequest(f"group_by must be one of {', '.join(BALANCE_GROUPS)}")
        columns.insert(0, BALANCE_GROUPS[group_by].label("group"))
        query_group.insert(0, BALANCE_GROUPS[group_by])
    query = select(*columns).where(col(CreditBlock.account_id) == account_id)
    if group_by in ("project", "methodology"):
        query = query.join(Project, col(Project.id) == col(CreditBlock.project_id))
    rows = session.execute(query.group_by(*query_group).order_by(*query_group)).all()
    grouped: dict[Any, dict[str, Any]] = {}
    for row in rows:
        key = row.group if group_by else None
        item = grouped.setdefault(key, {"group": key, "active_kg": 0, "frozen_kg": 0, "locked_kg": 0, "retired_kg": 0,
                                        "cancelled_kg": 0})
        item[f"{row.status}_kg"] = int(row.quantity_kg)
    return list(grouped.values())
