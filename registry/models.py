"""Registry tables: parties, keys, accounts, projects, issuances, credit blocks, retirements.

Quantities are integer kg CO2e. A credit block is a contiguous unit range [first_unit, last_unit]
of one issuance; blocks are never deleted: a partial move shrinks the block and inserts a new one
for the part that moved, so the parts keep the serial ranges they cover.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlmodel import Field, Session, SQLModel, select

# The largest quantity any one command handles, in kg: a million tonnes beyond a gigatonne would be
# no carbon-inclusion registry's business. It keeps unit numbers far inside 64 bits and every
# quantity inside the integers JSON carries exactly (±2^53, RFC 8785 / I-JSON).
MAX_QUANTITY_KG = 10**12
# Database ids and leaf indexes are 64-bit signed integers.
MAX_INT64 = 2**63 - 1


def utcnow() -> datetime:
    return datetime.now(UTC)


def table(model: type[SQLModel]) -> Table:
    """A model's Core table, for statements built once (SQLModel leaves `__table__` untyped)."""
    return cast(Table, getattr(model, "__table__"))  # noqa: B009  (typed access would need an ignore)


class HasId(Protocol):
    @property
    def id(self) -> int | None: ...


def pk(row: HasId) -> int:
    """The primary key of a stored row. SQLModel types it optional because it is unset until the
    INSERT; past a flush it is always there."""
    if row.id is None:
        raise RuntimeError(f"{type(row).__name__} has no primary key yet: flush it first")
    return row.id


M = TypeVar("M", bound=SQLModel)


def get_by_public_id(session: Session, model: type[M], public_id: str, missing: Callable[[], Exception]) -> M:
    """The row with this public id, else `missing()` raised: the one way rows are found by public id."""
    public_id_column = table(model).c.public_id
    row = session.execute(select(model).where(public_id_column == public_id)).scalar_one_or_none()
    if row is None:
        raise missing()
    return row


def get_existing(session: Session, model: type[M], row_id: int) -> M:
    """The row a foreign key names: it exists (the key's constraint says so)."""
    row = session.get(model, row_id)
    if row is None:
        raise AssertionError(f"no {model.__name__} {row_id}")
    return row


def rows_changed(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE matched: how a conditional update learns whether it won."""
    return cast(CursorResult[Any], result).rowcount


def refresh_loaded(session: Session, model: type[SQLModel], row_id: int, values: Mapping[str, Any]) -> None:
    """After an UPDATE … RETURNING run with `synchronize_session=False`: bring the session's loaded copy
    of the row, if it has one, up to the returned values. The ORM's own synchronisation scans every
    object in the session for each statement, quadratic over a long transaction (an auction's clearing)."""
    row = session.identity_map.get(identity_key(model, row_id))
    if row is not None:
        for name, value in values.items():
            set_committed_value(row, name, value)


def big_int(*args: Any, **kwargs: Any) -> Column[int]:
    """64-bit integers: kg units and log positions outgrow 32 bits; SQLite integers are 64-bit."""
    return Column(BigInteger().with_variant(Integer, "sqlite"), *args, **kwargs)


class Role(StrEnum):
    REGISTRAR = "registrar"
    PROJECT_OWNER = "project_owner"
    VERIFIER = "verifier"
    BUYER = "buyer"
    AUDITOR = "auditor"
    BANK = "bank"  # the market's settlement bank (deposits, withdrawals), and pledgees


class PartyStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # by the registrar: its keys stop working until it is reactivated


class PartyKind(StrEnum):
    ORGANISATION = "organisation"
    INDIVIDUAL = "individual"


class AccountKind(StrEnum):
    HOLDING = "holding"
    BUFFER = "buffer"
    RETIREMENT = "retirement"
    CANCELLATION = "cancellation"


class ProjectStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    UNDER_VALIDATION = "under_validation"
    CHANGES_REQUESTED = "changes_requested"
    REGISTERED = "registered"
    REJECTED = "rejected"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"
    COMPLETED = "completed"


class BlockStatus(StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"
    LOCKED = "locked"  # held for a trade, an offer or a pledge (trading/): `lock_ref` names which
    RETIRED = "retired"
    CANCELLED = "cancelled"


class Party(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    name: str
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    # Space-separated `Role` values; a party has few roles and every request reads them.
    roles: str
    # Where the party is (ISO 3166-2): a retirement of credits from another region is cross-regional.
    region: str | None = Field(default=None, sa_column=Column(String(6)))
    status: str = Field(default=PartyStatus.ACTIVE.value, sa_column=Column(String(12), nullable=False))
    status_reason: str = ""
    created_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (
        CheckConstraint("kind IN ('organisation', 'individual')", name="party_kind"),
        CheckConstraint("status IN ('active', 'suspended')", name="party_status"),
    )

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(self.roles.split())


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    party_id: int = Field(foreign_key="party.id", index=True)
    # SHA-256 of the key: keys are 160 random bits, so a fast hash is enough and lookups stay O(1).
    key_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    prefix: str
    label: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class Account(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    party_id: int | None = Field(default=None, foreign_key="party.id", index=True)
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    name: str
    created_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (
        CheckConstraint(
            "kind IN ('holding', 'buffer', 'retirement', 'cancellation')", name="account_kind"
        ),
        # Holding accounts belong to a party; system accounts belong to the registry itself.
        CheckConstraint(
            "(kind = 'holding') = (party_id IS NOT NULL)", name="account_holder_matches_kind"
        ),
    )


class Project(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    owner_party_id: int = Field(foreign_key="party.id", index=True)
    name: str
    methodology_id: str
    methodology_version: str
    region: str = Field(index=True)  # ISO 3166-2, e.g. CN-JS
    location: str
    latitude: float | None = None
    longitude: float | None = None
    capacity: float | None = None
    capacity_unit: str | None = None
    crediting_period_start: date | None = None
    crediting_period_end: date | None = None
    status: str = Field(default=ProjectStatus.DRAFT.value, index=True)
    created_at: datetime = Field(default_factory=utcnow)


class Issuance(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    project_id: int = Field(foreign_key="project.id", index=True)
    number: int  # 1, 2, 3 … within the project
    vintage: int
    quantity_kg: int = Field(sa_column=big_int(nullable=False))
    # Fixed at issuance: region, methodology and version, project, vintage and number.
    serial_prefix: str = Field(sa_column=Column(String(120), unique=True, nullable=False))
    account_id: int = Field(foreign_key="account.id")
    verification_statement_sha256: str | None = None
    issued_by_party_id: int = Field(foreign_key="party.id")
    issued_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (
        UniqueConstraint("project_id", "number", name="issuance_number_per_project"),
        CheckConstraint("quantity_kg > 0", name="issuance_quantity_positive"),
        CheckConstraint("vintage BETWEEN 2000 AND 2100", name="issuance_vintage_plausible"),
    )


class CreditBlock(SQLModel, table=True):
    __tablename__ = "credit_block"

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    issuance_id: int = Field(foreign_key="issuance.id")
    first_unit: int = Field(sa_column=big_int(nullable=False))
    last_unit: int = Field(sa_column=big_int(nullable=False))
    quantity_kg: int = Field(sa_column=big_int(nullable=False))
    account_id: int = Field(foreign_key="account.id")
    status: str = Field(sa_column=Column(String(12), nullable=False))
    # Copies of immutable issuance facts, so that oldest-first selection and balances by
    # project and vintage read one indexed table.
    project_id: int = Field(foreign_key="project.id")
    vintage: int
    retirement_id: int | None = Field(default=None, foreign_key="retirement.id")
    # The offer, order, auction lot or pledge (its public id) that holds locked units.
    lock_ref: str | None = Field(default=None, sa_column=Column(String(40), index=True))

    __table_args__ = (
        CheckConstraint("first_unit >= 1", name="block_first_unit_positive"),
        CheckConstraint("last_unit >= first_unit", name="block_range_ordered"),
        CheckConstraint("quantity_kg = last_unit - first_unit + 1", name="block_quantity_matches_range"),
        CheckConstraint(
            "status IN ('active', 'frozen', 'locked', 'retired', 'cancelled')", name="block_status"
        ),
        CheckConstraint("(status = 'locked') = (lock_ref IS NOT NULL)", name="block_locked_has_lock"),
        CheckConstraint(
            "(status = 'retired') = (retirement_id IS NOT NULL)", name="block_retired_has_retirement"
        ),
        Index("ix_block_holdings", "account_id", "status", "vintage", "issuance_id", "first_unit"),
        Index("ix_block_issuance_range", "issuance_id", "first_unit"),
    )


class Retirement(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    account_id: int = Field(foreign_key="account.id", index=True)
    party_id: int = Field(foreign_key="party.id")
    quantity_kg: int = Field(sa_column=big_int(nullable=False))
    beneficiary_name: str
    beneficiary_type: str
    purpose: str
    claim_period_start: date
    claim_period_end: date
    public_note: str = ""
    ledger_entry_id: int | None = Field(default=None, sa_column=big_int(ForeignKey("ledger_entry.id")))
    retired_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (
        CheckConstraint("quantity_kg > 0", name="retirement_quantity_positive"),
        CheckConstraint("claim_period_end >= claim_period_start", name="retirement_period_ordered"),
    )


class ApplicationStatus(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


class PartyApplication(SQLModel, table=True):
    """A household's (or an organisation's) request for an account, and the registrar's decision.

    Contact details are personal data (PIPL): only the registrar reads them. The claim code that
    lets the applicant collect its API key is stored as its SHA-256 only.
    """

    __tablename__ = "party_application"

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    region: str = Field(sa_column=Column(String(6), nullable=False))
    address: str = Field(sa_column=Column(String(300), nullable=False))
    phone: str | None = Field(default=None, sa_column=Column(String(20)))
    email: str | None = Field(default=None, sa_column=Column(String(254)))
    role: str = Field(sa_column=Column(String(20), nullable=False))
    description: str = Field(sa_column=Column(String(500), nullable=False))
    consented_at: datetime  # when the applicant agreed to the processing of its personal data
    status: str = Field(default=ApplicationStatus.SUBMITTED.value,
                        sa_column=Column(String(12), nullable=False, index=True))
    reason: str = Field(default="", sa_column=Column(String(2000), nullable=False))
    party_id: int | None = Field(default=None, foreign_key="party.id")
    decided_by_party_id: int | None = Field(default=None, foreign_key="party.id")
    decided_at: datetime | None = None
    claim_code_hash: str = Field(sa_column=Column(String(64), nullable=False))
    claimed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (
        CheckConstraint("kind IN ('organisation', 'individual')", name="application_kind"),
        CheckConstraint("role IN ('project_owner', 'buyer')", name="application_role"),
        CheckConstraint("status IN ('submitted', 'approved', 'rejected')", name="application_status"),
        CheckConstraint("phone IS NOT NULL OR email IS NOT NULL", name="application_has_contact"),
        CheckConstraint("(status = 'approved') = (party_id IS NOT NULL)", name="application_approved_has_party"),
        CheckConstraint("claimed_at IS NULL OR status = 'approved'", name="application_claimed_once_approved"),
    )
