"""Verification tables: accredited verifiers, project assets, monitoring reports, signed
statements, and the trail of every workflow step."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, Index, LargeBinary, String, UniqueConstraint, text
from sqlmodel import Field, Relationship, SQLModel

from registry.models import big_int, utcnow


class ReportStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    UNDER_VERIFICATION = "under_verification"
    CHANGES_REQUESTED = "changes_requested"
    VERIFIED = "verified"
    ISSUED = "issued"
    REJECTED = "rejected"


class AccreditationStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # may neither take nor approve until reinstated
    REVOKED = "revoked"  # for good


class VerifierAccreditation(SQLModel, table=True):
    """The registrar's accreditation of a verification body: its key, scope and validity."""

    __tablename__ = "verifier_accreditation"

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    party_id: int = Field(foreign_key="party.id", index=True)
    public_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # raw 32-byte Ed25519
    key_id: str = Field(sa_column=Column(String(16), unique=True, nullable=False))
    valid_from: date
    valid_until: date
    status: str = Field(default=AccreditationStatus.ACTIVE.value, sa_column=Column(String(12), nullable=False))
    status_reason: str = ""
    status_changed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    scopes: list["AccreditationScope"] = Relationship(sa_relationship_kwargs={"lazy": "selectin"})

    __table_args__ = (
        CheckConstraint("valid_until >= valid_from", name="accreditation_period_ordered"),
        CheckConstraint("status IN ('active', 'suspended', 'revoked')", name="accreditation_status"),
    )

    def covers(self, methodology_id: str, region: str, methodology_version: str | None = None) -> bool:
        return any(scope.covers(methodology_id, region, methodology_version) for scope in self.scopes)


class AccreditationScope(SQLModel, table=True):
    """One methodology (or `*`, any; optionally one version) in one region (or `*`) that an
    accreditation covers: rows, not a string, so that "who may verify this?" is one query."""

    __tablename__ = "accreditation_scope"

    id: int | None = Field(default=None, primary_key=True)
    accreditation_id: int = Field(foreign_key="verifier_accreditation.id", index=True)
    methodology_id: str = Field(sa_column=Column(String(40), nullable=False))
    methodology_version: str | None = Field(default=None, sa_column=Column(String(20)))  # None: every version
    region: str = Field(sa_column=Column(String(6), nullable=False))

    def covers(self, methodology_id: str, region: str, methodology_version: str | None = None) -> bool:
        return (self.methodology_id in ("*", methodology_id) and self.region in ("*", region)
                and (self.methodology_version is None or self.methodology_version == methodology_version))


class Affiliation(SQLModel, table=True):
    """A verifier's declared tie to another party: it may not verify that party's projects."""

    __tablename__ = "verifier_affiliation"

    id: int | None = Field(default=None, primary_key=True)
    verifier_party_id: int = Field(foreign_key="party.id")
    party_id: int = Field(foreign_key="party.id")
    created_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (UniqueConstraint("verifier_party_id", "party_id", name="affiliation_once"),)


class ProjectAsset(SQLModel, table=True):
    """A meter, charger or land parcel of a project. While the project is active the asset
    belongs to it alone: a partial unique index refuses it to any other active project."""

    __tablename__ = "project_asset"

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    kind: str = Field(sa_column=Column(String(12), nullable=False))
    identifier: str  # as the owner typed it, for display
    # NFKC, trimmed, case-folded (`verification.assets.identifier_key`): what uniqueness compares.
    identifier_key: str = Field(sa_column=Column(String(120), nullable=False))
    area_m2: int | None = None  # parcels
    # Parcels: a GeoJSON polygon (WGS 84 lon/lat) and its bounding box, so that overlap checks
    # only test the parcels whose boxes meet.
    geometry: str | None = None
    min_lon: float | None = None
    min_lat: float | None = None
    max_lon: float | None = None
    max_lat: float | None = None
    active: bool = True

    __table_args__ = (
        CheckConstraint("kind IN ('meter', 'charger', 'parcel')", name="asset_kind"),
        Index(
            "ux_asset_active_once",
            "kind",
            "identifier_key",
            unique=True,
            postgresql_where=text("active"),
            sqlite_where=text("active"),
        ),
    )


class ExternalRegistration(SQLModel, table=True):
    """A registration in another programme (CCER, green electricity certificates, VCS …).

    Declared by a project (`project_id` set), or imported by the registrar as a list of what other
    programmes already credit (`project_id` empty, `asset_kind` naming what the identifier is).
    """

    __tablename__ = "external_registration"

    id: int | None = Field(default=None, primary_key=True)
    scheme: str = Field(sa_column=Column(String(20), nullable=False))
    identifier: str
    identifier_key: str = Field(sa_column=Column(String(120), nullable=False))
    asset_kind: str | None = Field(default=None, sa_column=Column(String(12)))  # imported: project/meter/…
    project_id: int | None = Field(default=None, foreign_key="project.id", index=True)
    note: str = ""
    created_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (Index("ix_external_registration_lookup", "scheme", "identifier_key"),)


class DocumentKind(StrEnum):
    DESIGN = "design"  # the project design document
    PERMIT = "permit"  # grid connection, land use, …
    VALIDATION_REPORT = "validation_report"  # the validator's: required before a project is registered
    OTHER = "other"


class ProjectDocument(SQLModel, table=True):
    """A document filed with a project (design document, permits …), stored by its SHA-256."""

    __tablename__ = "project_document"

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    kind: str = Field(default=DocumentKind.OTHER.value, sa_column=Column(String(24), nullable=False))
    title: str
    filename: str
    sha256: str = Field(sa_column=Column(String(64), nullable=False))
    bytes: int = Field(sa_column=big_int(nullable=False))
    filed_by_party_id: int | None = Field(default=None, foreign_key="party.id")
    created_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (
        CheckConstraint("kind IN ('design', 'permit', 'validation_report', 'other')", name="document_kind"),
    )


class MonitoringReport(SQLModel, table=True):
    """One monitoring period of a project: its raw data (content-addressed), the methodology's
    quantification of it, and where it stands in verification."""

    __tablename__ = "monitoring_report"

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    project_id: int = Field(foreign_key="project.id", index=True)
    period_start: date
    period_end: date  # inclusive
    status: str = Field(sa_column=Column(String(24), nullable=False))
    revision: int = 1
    data_sha256: str
    data_filename: str
    data_bytes: int = Field(sa_column=big_int(nullable=False))
    params_json: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    quantification_json: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    net_reduction_kg: int = Field(sa_column=big_int(nullable=False))
    rejected_by_qa: bool = False
    issue_to_account_id: int = Field(foreign_key="account.id")  # the owner's holding account
    verifier_party_id: int | None = Field(default=None, foreign_key="party.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (
        CheckConstraint("period_end >= period_start", name="report_period_ordered"),
        CheckConstraint(
            "status IN ('draft', 'submitted', 'under_verification', 'changes_requested', 'verified', "
            "'issued', 'rejected')",
            name="report_status",
        ),
    )


class ReportAsset(SQLModel, table=True):
    """An asset a report's data names: a meter-month is credited by one report only, whichever
    project holds the meter."""

    __tablename__ = "report_asset"

    report_id: int = Field(foreign_key="monitoring_report.id", primary_key=True)
    kind: str = Field(sa_column=Column(String(12), primary_key=True))
    identifier_key: str = Field(sa_column=Column(String(120), primary_key=True))

    __table_args__ = (Index("ix_report_asset_lookup", "kind", "identifier_key"),)


class VerificationStatement(SQLModel, table=True):
    """A verifier's signed statement, exactly as signed: canonical JSON (RFC 8785) bytes."""

    __tablename__ = "verification_statement"

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="monitoring_report.id", index=True)
    accreditation_id: int = Field(foreign_key="verifier_accreditation.id")
    statement: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    signature: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sha256: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    verified_kg: int = Field(sa_column=big_int(nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class WorkflowEvent(SQLModel, table=True):
    """Who did what to which project or report, when, and from which status to which."""

    __tablename__ = "workflow_event"

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(sa_column=Column(String(40), nullable=False, index=True))  # a public id
    actor_party_id: int = Field(foreign_key="party.id")
    action: str
    from_status: str | None = None
    to_status: str | None = None
    note: str = ""
    created_at: datetime = Field(default_factory=utcnow)
