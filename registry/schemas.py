"""Request and response shapes of the registry. Quantities are integer kg; no floats in credits."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from registry import credits
from registry.models import PartyKind, ProjectStatus, Role

PositiveKg = Annotated[int, Field(strict=True, gt=0, description="Kilograms of CO2e; 1 credit = 1,000 kg")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Region = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}-[A-Z0-9]{1,3}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- parties, keys, accounts ------------------------------------------------------------------


class PartyCreate(Strict):
    name: Name
    kind: PartyKind
    roles: list[Role] = Field(min_length=1)


class PartyOut(BaseModel):
    id: str
    name: str
    kind: str
    roles: list[str]
    created_at: datetime


class ApiKeyCreate(Strict):
    label: str = Field("", max_length=100)


class ApiKeyOut(BaseModel):
    prefix: str
    label: str
    api_key: str = Field(description="Shown once. Send it as `Authorization: Bearer <api_key>`.")


class AccountCreate(Strict):
    name: Name
    party: str | None = Field(None, description="Registrar only: open the account for this party")


class AccountOut(BaseModel):
    id: str
    kind: str
    name: str
    party: str | None
    created_at: datetime


class Balance(BaseModel):
    group: str | int | None = Field(description="The project, vintage or methodology; null when not grouped")
    active_kg: int
    frozen_kg: int
    retired_kg: int
    cancelled_kg: int


# --- projects ---------------------------------------------------------------------------------


class ProjectCreate(Strict):
    name: Name
    methodology_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.\-]{1,40}$")]
    methodology_version: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.\-]{1,20}$")]
    region: Region = Field(description="ISO 3166-2 subdivision, e.g. CN-JS")
    location: Name
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    capacity: float | None = Field(None, gt=0)
    capacity_unit: str | None = Field(None, max_length=10, description="kWp, kW, ha …")
    crediting_period_start: date
    crediting_period_end: date = Field(description="At most the methodology's limit: 10 years, 30 for wetland sinks")
    owner: str | None = Field(None, description="Registrar only: register on behalf of this party")


class ProjectStatusChange(Strict):
    status: ProjectStatus
    note: str = Field("", max_length=4000, description="Why: shown in the trail to insiders")


class ProjectOut(BaseModel):
    id: str
    name: str
    owner: str
    methodology_id: str
    methodology_version: str
    region: str
    location: str
    latitude: float | None
    longitude: float | None
    capacity: float | None
    capacity_unit: str | None
    crediting_period_start: date | None
    crediting_period_end: date | None
    status: str
    created_at: datetime


# --- credits ----------------------------------------------------------------------------------


class SerialRangeIn(Strict):
    issuance: str
    first_unit: int = Field(strict=True, ge=1)
    last_unit: int = Field(strict=True, ge=1)


class CreditSelection(Strict):
    """Which units: an exact serial range, or `quantity_kg` taken oldest vintage first."""

    quantity_kg: PositiveKg | None = None
    serial_range: SerialRangeIn | None = None
    project: str | None = Field(None, description="Oldest-first only: units of this project")
    vintage: int | None = Field(None, description="Oldest-first only: units of this vintage")
    methodology_id: str | None = Field(None, description="Oldest-first only: units of this methodology")

    @model_validator(mode="after")
    def _one_way_of_choosing(self) -> CreditSelection:
        filters = (self.project, self.vintage, self.methodology_id)
        if self.serial_range is None and self.quantity_kg is None:
            raise ValueError("give quantity_kg (oldest first) or serial_range")
        if self.serial_range is not None and any(f is not None for f in filters):
            raise ValueError("project, vintage and methodology_id narrow oldest-first selection, not a serial range")
        return self

    def to_selection(self) -> credits.Selection:
        if self.serial_range is not None:
            r = self.serial_range
            return credits.SerialRangeSelection(r.issuance, r.first_unit, r.last_unit)
        return credits.OldestFirstSelection(self.project, self.vintage, self.methodology_id)


class TransferCreate(CreditSelection):
    from_account: str
    to_account: str


class RetirementCreate(CreditSelection):
    from_account: str
    beneficiary_name: Name
    beneficiary_type: Literal["organisation", "individual", "product", "event"]
    purpose: Name
    claim_period_start: date
    claim_period_end: date
    public_note: str = Field("", max_length=2000)


class CancellationCreate(CreditSelection):
    from_account: str
    reason: Name


class FreezeCreate(CreditSelection):
    account: str
    reason: Name


class IssuanceCreate(Strict):
    project: str
    vintage: int = Field(strict=True, ge=2000, le=2100)
    quantity_kg: PositiveKg
    to_account: str
    verification_statement_sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None


class UnitRangeOut(BaseModel):
    issuance: str
    serial: str
    first_unit: int
    last_unit: int
    quantity_kg: int
    block: str


class MovementOut(BaseModel):
    id: str
    type: str
    from_account: str | None
    to_account: str
    quantity_kg: int
    units: list[UnitRangeOut]
    ledger_entry: int = Field(description="Look it up at /api/v1/ledger-entries/{id} for its leaf index")

    @classmethod
    def of(cls, m: credits.Movement) -> MovementOut:
        return cls(
            id=m.public_id, type=m.kind, from_account=m.from_account, to_account=m.to_account,
            quantity_kg=m.quantity_kg, ledger_entry=m.ledger_entry_id,
            units=[UnitRangeOut(issuance=r.issuance_public_id, serial=r.serial, first_unit=r.first_unit,
                                last_unit=r.last_unit, quantity_kg=r.quantity_kg, block=r.block_public_id)
                   for r in m.ranges],
        )


class IssuanceOut(BaseModel):
    id: str
    project: str
    number: int
    vintage: int
    quantity_kg: int
    serial: str
    verification_statement_sha256: str | None
    issued_at: datetime


class BlockOut(BaseModel):
    id: str
    issuance: str
    serial: str
    first_unit: int
    last_unit: int
    quantity_kg: int
    status: str
    project: str
    vintage: int


class RetirementOut(BaseModel):
    id: str
    quantity_kg: int
    beneficiary_name: str
    beneficiary_type: str
    purpose: str
    claim_period_start: date
    claim_period_end: date
    public_note: str
    retired_at: datetime
    units: list[UnitRangeOut] = Field(default_factory=list)
    proof_url: str


class LedgerEntryOut(BaseModel):
    id: int
    type: str
    leaf_index: int | None = Field(description="null until the sequencer has put it in a checkpoint")
    entry: str = Field(description="The canonical JSON (RFC 8785) text: its UTF-8 bytes are the Merkle leaf")


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")
