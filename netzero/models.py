"""Net-zero tables: facilities, emission inventories (versioned), green electricity certificates
claimed by them, claims, the retirements behind each claim, and certificates."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from registry.models import big_int, utcnow


class Boundary(StrEnum):
    """T/CECA-G 0171-2022: type I covers scopes 1 and 2; type II adds scope 3."""

    TYPE_I = "I"
    TYPE_II = "II"


class Facility(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    party_id: int = Field(foreign_key="party.id", index=True)
    name: str = Field(sa_column=Column(String(200), nullable=False))
    region: str = Field(sa_column=Column(String(6), nullable=False))  # ISO 3166-2
    address: str = Field(sa_column=Column(String(300), nullable=False))
    industry: str = Field(sa_column=Column(String(120), nullable=False))
    boundary: str = Field(sa_column=Column(String(2), nullable=False))
    created_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (CheckConstraint("boundary IN ('I', 'II')", name="facility_boundary"),)


class InventoryStatus(StrEnum):
    SUBMITTED = "submitted"
    UNDER_VERIFICATION = "under_verification"
    CHANGES_REQUESTED = "changes_requested"
    VERIFIED = "verified"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"  # a newer version was filed before this one was verified


class Inventory(SQLModel, table=True):
    """One version of a facility's emission inventory for one 12-month reporting period.

    A restatement is a new version, verified again; the highest verified version is the one a claim
    must cover. The calculation is stored as computed (`netzero.calculation`), beside the file."""

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    facility_id: int = Field(foreign_key="facility.id", index=True)
    period_start: date
    period_end: date
    version: int
    status: str = Field(default=InventoryStatus.SUBMITTED.value, sa_column=Column(String(20), nullable=False))
    data_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    filename: str = Field(sa_column=Column(String(200), nullable=False))
    calculation_json: str = Field(sa_column=Column(Text, nullable=False))
    residual_kg: int = Field(sa_column=big_int(nullable=False))  # computed: scope 1 + 2 (market) [+ 3]
    verifier_party_id: int | None = Field(default=None, foreign_key="party.id")
    comment: str = ""  # the verifier's last request for changes or reason for rejection
    filed_by_party_id: int = Field(foreign_key="party.id")
    created_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (
        UniqueConstraint("facility_id", "period_start", "version", name="inventory_version_unique"),
        CheckConstraint("period_end > period_start", name="inventory_period_ordered"),
        CheckConstraint("residual_kg >= 0", name="inventory_residual_not_negative"),
        CheckConstraint("version >= 1", name="inventory_version_positive"),
        CheckConstraint("status IN ('submitted', 'under_verification', 'changes_requested', 'verified', "
                        "'rejected', 'superseded')", name="inventory_status"),
    )


class InventoryStatement(SQLModel, table=True):
    """The verifier's signed statement on an inventory, exactly as signed (RFC 8785 bytes)."""

    __tablename__ = "inventory_statement"

    id: int | None = Field(default=None, primary_key=True)
    inventory_id: int = Field(sa_column=Column(ForeignKey("inventory.id"), unique=True, nullable=False))
    accreditation_id: int = Field(foreign_key="verifier_accreditation.id")
    statement: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    signature: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sha256: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    verified_residual_kg: int = Field(sa_column=big_int(nullable=False))
    signed_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (CheckConstraint("verified_residual_kg >= 0", name="inventory_statement_residual"),)


class GreenCertificateClaim(SQLModel, table=True):
    """A green electricity certificate (GEC) used for market-based scope 2. One GEC id is claimed by
    one facility-period in the whole registry: the unique key, not an `if`, enforces it. A restated
    inventory of the same facility and period takes its claims over."""

    __tablename__ = "green_certificate_claim"

    id: int | None = Field(default=None, primary_key=True)
    gec_key: str = Field(sa_column=Column(String(120), unique=True, nullable=False))  # normalised id
    gec_id: str = Field(sa_column=Column(String(120), nullable=False))  # as written
    mwh_milli: int = Field(sa_column=big_int(nullable=False))  # MWh × 1000 = kWh, an integer
    facility_id: int = Field(foreign_key="facility.id", index=True)
    period_start: date
    inventory_id: int = Field(foreign_key="inventory.id", index=True)
    generator_project_id: int | None = Field(default=None, foreign_key="project.id")

    __table_args__ = (CheckConstraint("mwh_milli > 0", name="gec_claim_positive"),)


class Claim(SQLModel, table=True):
    """A factory's net-zero claim for one facility and reporting period: what its verified inventory
    says must be covered, and the retirements made for it."""

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    facility_id: int = Field(foreign_key="facility.id")
    party_id: int = Field(foreign_key="party.id", index=True)
    period_start: date
    period_end: date
    created_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (UniqueConstraint("facility_id", "period_start", name="claim_one_per_facility_period"),)


class ClaimRetirement(SQLModel, table=True):
    """A retirement backing a claim. The unique retirement id is the rule "a retirement backs at
    most one claim", in the database: of two requests racing to use it, one insert fails."""

    __tablename__ = "claim_retirement"

    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = Field(foreign_key="claim.id", index=True)
    retirement_id: int = Field(sa_column=Column(ForeignKey("retirement.id"), unique=True, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class CertificateStatus(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"  # past valid_until
    INSUFFICIENT = "insufficient"  # the inventory was restated upward and not yet topped up
    REVOKED = "revoked"


class Certificate(SQLModel, table=True):
    """A net-zero certificate: the public record of a covered claim and its ledger entry. Only the
    revocation is stored as a status; expired and insufficient follow from the date and the claim."""

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    number: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    claim_id: int = Field(foreign_key="claim.id", index=True)
    inventory_id: int = Field(foreign_key="inventory.id")
    facility_id: int = Field(foreign_key="facility.id", index=True)
    party_id: int = Field(foreign_key="party.id", index=True)
    region: str = Field(sa_column=Column(String(6), nullable=False))
    period_start: date
    period_end: date
    residual_kg: int = Field(sa_column=big_int(nullable=False))
    covered_kg: int = Field(sa_column=big_int(nullable=False))
    valid_from: date
    valid_until: date
    document: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # the entry's canonical JSON
    ledger_entry_id: int = Field(sa_column=big_int(ForeignKey("ledger_entry.id"), nullable=False))
    revoked: bool = False
    revoked_reason: str = ""
    revoked_at: datetime | None = None
    issued_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (
        CheckConstraint("covered_kg >= residual_kg", name="certificate_covered"),
        CheckConstraint("valid_until >= valid_from", name="certificate_validity_ordered"),
        CheckConstraint("NOT revoked OR revoked_reason <> ''", name="certificate_revocation_reason"),
        Index("certificate_claim_current", "claim_id", "revoked"),
    )
