"""Request and response shapes of the verification workflow."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, RootModel, StringConstraints

from methodologies.plugin import AssetKind
from registry.schemas import ProjectCreate, Strict
from verification.models import AccreditationStatus, DocumentKind

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class UploadOut(BaseModel):
    sha256: str
    bytes: int


class AccreditationCreate(Strict):
    party: str
    public_key_pem: str = Field(max_length=2000,
                                description="The verifier's Ed25519 public key (PEM); it keeps the private key")
    methodologies: list[str] = Field(min_length=1, max_length=50, description=(
        'Installed methodology ids (every version: "CIR-PV-DG"; one version: "CIR-PV-DG@1.0"), or ["*"] for all'))
    regions: list[str] = Field(min_length=1, max_length=50,
                               description='ISO 3166-2 subdivision codes such as "CN-JS", or ["*"] for all')
    valid_from: date
    valid_until: date


class ScopeOut(BaseModel):
    methodology_id: str = Field(description="A methodology id, or * for any")
    methodology_version: str | None = Field(description="null: every version")
    region: str = Field(description="ISO 3166-2, or * for any")


class AccreditationOut(BaseModel):
    id: str
    party: str
    party_name: str
    key_id: str
    public_key_pem: str = Field(description="Check a signed statement with it: `cir verify-statement`")
    scope: list[ScopeOut]
    valid_from: date
    valid_until: date
    status: AccreditationStatus
    status_reason: str


class SignedStatementOut(BaseModel):
    statement: dict[str, Any] = Field(description="As the verifier signed it (its RFC 8785 bytes are what was signed)")
    signature: str = Field(description="Base64 Ed25519 signature")
    sha256: str = Field(description="SHA-256 of the statement's canonical bytes")
    verifier: AccreditationOut = Field(description="The accreditation whose key signed it, with the public key")


class AccreditationStatusChange(Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class AffiliationCreate(Strict):
    party: str = Field(description="A party the verifier is tied to: it will not verify that party's projects")


class AssetIn(Strict):
    kind: AssetKind
    identifier: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    area_m2: int | None = Field(None, gt=0, description="Parcels only")
    geometry: dict[str, Any] | None = Field(
        None, description="Parcels only: the boundary, a GeoJSON Polygon in WGS 84 lon/lat; it may not overlap "
                          "any parcel of another active project")


class ExternalRegistrationIn(Strict):
    scheme: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)] = Field(
        description="CCER, GEC (green electricity certificates), VCS, GS, I-REC …")
    identifier: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class DocumentIn(Strict):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    filename: Annotated[str, StringConstraints(pattern=r"^[^/\\]{1,200}$")]
    sha256: Sha256 = Field(description="From PUT /api/v1/uploads")
    kind: DocumentKind = Field(DocumentKind.OTHER, description=(
        "design, permit or other (the owner's); validation_report (the validator's, while the project is "
        "under validation: it must be filed before the project is registered)"))


class ProjectRegistration(ProjectCreate):
    assets: list[AssetIn] = Field(default_factory=list, description="Meters, chargers or land parcels")
    external_registrations: list[ExternalRegistrationIn] = Field(
        default_factory=list, description="Registrations the project already has in other programmes")
    documents: list[DocumentIn] = Field(default_factory=list, description="Uploaded documents to file with it")


class ImportedRegistration(Strict):
    scheme: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
    identifier: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    asset_kind: Literal["project", "meter", "charger", "parcel"] = Field(
        description="What the identifier names in that programme")
    note: str = Field("", max_length=500)


class ImportOut(BaseModel):
    received: int
    added: int


class DocumentOut(BaseModel):
    kind: str
    title: str
    filename: str
    sha256: str
    bytes: int
    filed_by: str | None = Field(description="The party that filed it")
    url: str


class DocumentList(RootModel[list[DocumentOut]]):
    """A project's documents (a list, as a model the write path can return)."""


class AssetOut(BaseModel):
    kind: str
    identifier: str
    area_m2: int | None
    active: bool


class ReportCreate(Strict):
    period_start: date
    period_end: date = Field(description="Inclusive")
    data_sha256: Sha256 = Field(description="From PUT /api/v1/uploads")
    data_filename: Annotated[str, StringConstraints(pattern=r"^[^/\\]{1,200}\.(csv|xlsx|parquet)$")]
    params: dict[str, Any] = Field(description="The methodology's parameters for this project and period")
    issue_to_account: str = Field(description="The owner's holding account that receives the credits")


class ReportDataReplace(Strict):
    data_sha256: Sha256
    data_filename: Annotated[str, StringConstraints(pattern=r"^[^/\\]{1,200}\.(csv|xlsx|parquet)$")]
    params: dict[str, Any]


class ReportOut(BaseModel):
    id: str
    project: str
    project_name: str
    methodology_id: str
    methodology_version: str
    region: str
    owner: str
    owner_name: str
    period_start: date
    period_end: date
    status: str
    revision: int
    data_sha256: str
    data_filename: str
    data_bytes: int
    net_reduction_kg: int
    rejected_by_qa: bool
    verifier: str | None
    quantification: dict[str, Any] = Field(description="The methodology's result: per vintage, factors, QA findings")
    created_at: datetime
    updated_at: datetime


class Note(Strict):
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class Approval(Strict):
    statement: dict[str, Any] = Field(description="The statement template, with verified_kg, opinion and signed_at")
    signature: str = Field(description="Base64 Ed25519 signature over the statement's RFC 8785 bytes")


class ApprovalOut(BaseModel):
    report: ReportOut
    statement_sha256: str
    issuances: list[str] = Field(description="Empty when the registrar's approval is still required")
    ledger_entries: list[int] = Field(description="Their ledger entries: proofs at /api/v1/ledger-entries/{id}/proof")


class IssuedOut(BaseModel):
    report: ReportOut
    issuances: list[str] = Field(description="The issuances created: one per vintage, plus buffer-pool shares")
    ledger_entries: list[int]


class EventOut(BaseModel):
    subject: str
    actor: str
    actor_name: str
    action: str
    from_status: str | None
    to_status: str | None
    note: str | None = Field(description="Shown to the owner, verifiers, the registrar and auditors only")
    at: datetime
