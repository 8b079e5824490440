"""Request and response shapes of the net-zero API. Quantities are integer kg CO2e; shares are
basis points (1/100 of a per cent)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from registry.schemas import CreditSelection, Name, Strict

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class FacilityCreate(Strict):
    name: Name
    region: str = Field(max_length=6, description="ISO 3166-2, e.g. CN-GD")
    address: str = Field(min_length=1, max_length=300)
    industry: str = Field(min_length=1, max_length=120, description="e.g. Ready-mix concrete")
    boundary: Literal["I", "II"] = Field(description="I: scope 1 and 2; II: scope 1, 2 and 3 (T/CECA-G 0171-2022)")


class FacilityOut(BaseModel):
    id: str
    name: str
    region: str
    address: str
    industry: str
    boundary: str
    party: str
    created_at: datetime


class InventoryCreate(Strict):
    period_start: date = Field(description="The first day of a 12-month reporting period that is over")
    period_end: date = Field(description="Its last day, e.g. 2025-12-31 for a period starting 2025-01-01")
    data_sha256: Sha256 = Field(description="The activity data file (CSV or XLSX), uploaded first: PUT /api/v1/uploads")
    data_filename: str = Field(min_length=5, max_length=200, pattern=r"(?i)\.(csv|xlsx)$")


class EmissionsOut(BaseModel):
    scope1: int
    scope2_location: int
    scope2_market: int
    scope3: int
    total_location: int
    total_market: int
    residual: int = Field(description="What offsets must cover: scope 1 + scope 2 market-based (+ scope 3 for II)")


class InventoryOut(BaseModel):
    id: str
    facility: str
    facility_name: str
    region: str
    boundary: str
    period_start: date
    period_end: date
    version: int
    status: str
    data_sha256: str
    data_filename: str
    emissions_kg: EmissionsOut
    renewable_electricity_share_bp: int
    verified_residual_kg: int | None = Field(description="Set once verified: the figure a claim must cover")
    statement_sha256: str | None
    verifier: str | None
    comment: str
    flags: list[str] = Field(description="Green electricity certificates claimed here that a PV project of this "
                                         "registry has not deducted: no certificate is issued while any stands")
    calculation: dict[str, Any] = Field(description="Every line: category, scope, amount, factor and its source, kg")
    created_at: datetime


class InventoryApproval(Strict):
    statement: dict[str, Any]
    signature: str = Field(max_length=200, description="Base64 Ed25519 signature over the statement's RFC 8785 bytes")


class InventoryNote(Strict):
    note: str = Field(min_length=1, max_length=4000)


class ClaimCreate(Strict):
    facility: str
    period_start: date


class ClaimRetirementCreate(CreditSelection):
    """Retire credits for the claim: from one of your accounts, a serial range or a quantity."""

    from_account: str
    public_note: str = Field("", max_length=2000)


class ClaimAttach(Strict):
    """An earlier retirement of yours, for the reporting period, to back the claim."""

    retirement: str


class OffsetLineOut(BaseModel):
    retirement: str
    serial: str
    issuance: str
    first_unit: int
    last_unit: int
    project: dict[str, str]
    methodology: dict[str, str]
    kind: Literal["reduction", "removal"]
    region: str
    vintage: int
    quantity_kg: int
    cross_regional: bool
    share_bp: int


class ClaimOut(BaseModel):
    id: str
    facility: str
    facility_name: str
    region: str
    period_start: date
    period_end: date
    retire_by: date = Field(description="Retirements for the claim are made by this day (12 months after the period)")
    inventory: str | None
    residual_kg: int
    covered_kg: int
    remaining_kg: int
    reductions_kg: int
    removals_kg: int
    cross_regional_kg: int
    offsets: list[OffsetLineOut]
    certificate: str | None = Field(description="The claim's current (not revoked) certificate")


class CertificateOut(BaseModel):
    id: str
    number: str
    status: Literal["valid", "expired", "insufficient", "revoked"]
    status_reason: str
    facility: str
    facility_name: str
    party: str
    party_name: str
    region: str
    period_start: date
    period_end: date
    residual_kg: int
    covered_kg: int
    valid_from: date
    valid_until: date
    issued_at: datetime


class CertificateDetailOut(CertificateOut):
    document: dict[str, Any] = Field(description="The certificate exactly as its ledger entry states it")
    current_residual_kg: int | None = Field(description="The verified residual of the latest inventory version")


class CertificateRevocation(Strict):
    reason: Name
