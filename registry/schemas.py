"""Request and response shapes of the registry. Quantities are integer kg; no floats in credits."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from registry import credits
from registry.models import MAX_QUANTITY_KG, ApplicationStatus, PartyKind, PartyStatus, ProjectStatus, Role

PositiveKg = Annotated[int, Field(strict=True, gt=0, le=MAX_QUANTITY_KG,
                                  description="Kilograms of CO2e; 1 credit = 1,000 kg; at most 10^12 (1 Gt)")]
Unit = Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY_KG, description="A unit (kg) number within an issuance")]
Vintage = Annotated[int, Field(strict=True, ge=2000, le=2100, description="A calendar year")]
# I-JSON (RFC 7493): integers a JSON number carries exactly, which RFC 8785 requires.
JSON_SAFE_INT = 2**53 - 1
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Region = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}-[A-Z0-9]{1,3}$")]


class Strict(BaseModel):
    """A request body: unknown fields refused, and nothing in it, however deep, that the registry
    cannot store or sign: no NUL or unpaired surrogate in text, no NaN or infinity, no integer
    beyond ±(2^53 − 1)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        _check_storable(data, "body")
        return data


def _check_storable(value: Any, where: str) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{where}: text may not hold a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{where}: text holds an unpaired surrogate, which is not Unicode") from None
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{where}: NaN and infinity are not numbers the registry stores")
    elif isinstance(value, int) and not isinstance(value, bool):
        if abs(value) > JSON_SAFE_INT:
            raise ValueError(f"{where}: integers are at most 2^53 − 1 in size (RFC 7493)")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_storable(key, where)
            _check_storable(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_storable(item, f"{where}[{index}]")


# --- parties, keys, accounts ------------------------------------------------------------------


class PartyCreate(Strict):
    name: Name
    kind: PartyKind
    roles: list[Role] = Field(min_length=1)
    region: Region | None = Field(None, description="Where the party is, ISO 3166-2 (e.g. CN-GD): a retirement "
                                                    "of credits from another region is cross-regional")


class PartyOut(BaseModel):
    """A party as the registrar, an auditor and the party itself see it."""

    id: str
    name: str
    kind: str
    roles: list[str]
    region: str | None
    status: PartyStatus
    status_reason: str
    created_at: datetime


class PartyStatusChange(Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class ProjectSummary(BaseModel):
    id: str
    name: str
    methodology_id: str
    region: str
    status: str


class PublicPartyOut(BaseModel):
    """A party as anyone sees it. An individual's name shows its first character only."""

    id: str
    name: str
    kind: str
    roles: list[str]
    region: str | None
    projects: list[ProjectSummary]


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
    locked_kg: int = Field(description="Held for an offer, an order or a pledge: it cannot move until released")
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
    owner_name: str = Field(description="An individual's name shows its first character only")
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
    first_unit: Unit
    last_unit: Unit


class CreditSelection(Strict):
    """Which units: an exact serial range, or `quantity_kg` taken oldest vintage first."""

    quantity_kg: PositiveKg | None = None
    serial_range: SerialRangeIn | None = None
    project: str | None = Field(None, description="Oldest-first only: units of this project")
    vintage: Vintage | None = Field(None, description="Oldest-first only: units of this vintage")
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


class BatchTransferIn(Strict):
    from_account: str
    to_account: str
    quantity_kg: PositiveKg = Field(description="Kilograms, the oldest units of the source account")


class TransferBatchCreate(Strict):
    transfers: list[BatchTransferIn] = Field(
        min_length=1, max_length=credits.MAX_BATCH,
        description=f"1 to {credits.MAX_BATCH:,} transfers, done in the order given, all or none")
    issuance: str | None = Field(None, description=(
        "Every transfer takes units of this issuance only, in serial order: an aggregator distributing an "
        "issuance to its households gives each a consecutive serial range"))

    def to_batch(self) -> list[credits.BatchTransfer]:
        return [credits.BatchTransfer(t.from_account, t.to_account, t.quantity_kg) for t in self.transfers]

    def to_selection(self) -> credits.OldestFirstSelection:
        return credits.OldestFirstSelection(issuance_public_id=self.issuance)


class RetirementTerms(Strict):
    """Who a retirement is for, why, and the period whose emissions it offsets."""

    beneficiary_name: Name
    beneficiary_type: Literal["organisation", "individual", "product", "event"]
    purpose: Name
    claim_period_start: date
    claim_period_end: date
    public_note: str = Field("", max_length=2000)

    def to_details(self) -> credits.RetirementDetails:
        return credits.RetirementDetails(self.beneficiary_name, self.beneficiary_type, self.purpose,
                                         self.claim_period_start, self.claim_period_end, self.public_note)


class RetirementCreate(CreditSelection, RetirementTerms):
    from_account: str


class BatchRetirementIn(RetirementTerms):
    from_account: str
    quantity_kg: PositiveKg = Field(description="Kilograms, the oldest units of the account")


class RetirementBatchCreate(Strict):
    retirements: list[BatchRetirementIn] = Field(
        min_length=1, max_length=credits.MAX_BATCH,
        description=f"1 to {credits.MAX_BATCH:,} retirements, done in the order given, all or none")

    def to_batch(self) -> list[credits.BatchRetirement]:
        return [credits.BatchRetirement(r.from_account, r.quantity_kg, r.to_details()) for r in self.retirements]


class CancellationCreate(CreditSelection):
    from_account: str
    reason: Name


class FreezeCreate(CreditSelection):
    account: str
    reason: Name


class IssuanceCreate(Strict):
    project: str
    vintage: Vintage
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


class TransferBatchOut(BaseModel):
    transfers: list[MovementOut] = Field(description="One movement, with its own ledger entry, per transfer, in order")


class RetirementBatchOut(BaseModel):
    retirements: list[MovementOut] = Field(description=(
        "One movement per retirement, in order: its `id` is the retirement's (GET /api/v1/retirements/{id}, "
        "its proof at …/proof once the next checkpoint is signed)"))


class IssuanceOut(BaseModel):
    id: str
    project: str
    project_name: str
    methodology_id: str
    methodology_version: str
    region: str
    number: int
    vintage: int
    quantity_kg: int
    serial: str
    to_buffer_pool: bool = Field(description="The non-permanence share, issued to the registry's buffer pool")
    verification_statement_sha256: str | None = Field(
        description="The signed statement behind it: GET /api/v1/issuances/{id}/statement")
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


class PublicBlockOut(BlockOut):
    """A block as anyone sees it: where a serial stands, not who holds it."""

    retirement: str | None = Field(description="The retirement that retired it")


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


class HistoryLine(BaseModel):
    """One ledger entry that moved units into or out of an account (or opened it)."""

    entry: int = Field(description="The ledger entry: its proof at /api/v1/ledger-entries/{entry}/proof")
    leaf_index: int | None
    type: str
    id: str = Field(description="The command: trf_…, ret_…, iss_…")
    direction: Literal["in", "out", "in place", "opened"]
    counterparty: str | None = Field(description="The other account, when there is one")
    quantity_kg: int
    serials: list[str]
    at: str = Field(description="The entry's time, UTC")


class StatsRow(BaseModel):
    key: str | int = Field(description="The methodology, region, vintage or month (YYYY-MM)")
    issued_kg: int
    retired_kg: int
    retired_cross_regional_kg: int = Field(description="Retired by a party in another region than the credits'")
    cancelled_kg: int
    held_kg: int = Field(description="Active or frozen in holders' accounts")
    buffer_pool_kg: int


class StatsOut(BaseModel):
    totals: StatsRow
    by_methodology: list[StatsRow]
    by_region: list[StatsRow] = Field(description="By the credits' region of origin")
    by_vintage: list[StatsRow]
    by_month: list[StatsRow] = Field(description="Issued by month of issuance, retired by month of retirement; "
                                                 "held and cancelled are not by month (0)")
    retirements: int
    cross_regional_retirements: int


# --- account applications ---------------------------------------------------------------------


# Lengths only: the registry checks what the text says and names each field that is wrong.
ApplicantName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
ApplicantRegion = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class ApplicationCreate(Strict):
    """A household's (or an organisation's) application. Each field is checked by the registry, which
    names every one that is wrong (`invalid-application`)."""

    name: ApplicantName = Field(description="The applicant's full name (a household: the person's name)")
    kind: PartyKind = PartyKind.INDIVIDUAL
    region: ApplicantRegion = Field(description="Where the applicant is, ISO 3166-2 (e.g. CN-JS)")
    address: Address
    phone: Phone | None = Field(None, description="A phone number; a phone number or an e-mail is required")
    email: Email | None = None
    role: Literal["project_owner", "buyer"] = Field(
        description="project_owner: registers reductions (a rooftop, a charger); buyer: buys and retires credits")
    description: Description = Field(description='What you will register, e.g. "8 kWp rooftop PV, '
                                                   'grid-connected 2024"')
    consent: bool = Field(strict=True, description="The applicant agrees to the registry processing the personal "
                                                   "data given here (PIPL): required")


class ApplicationReceipt(BaseModel):
    id: str = Field(description="The application's reference")
    status: ApplicationStatus
    claim_code: str = Field(description="Shown once: with the reference it shows the decision and claims the key")
    created_at: datetime


class ApplicationOut(BaseModel):
    """An application as the registrar sees it, contact details included."""

    id: str
    name: str
    kind: str
    region: str
    address: str
    phone: str | None
    email: str | None
    role: str
    description: str
    consented_at: datetime
    status: ApplicationStatus
    reason: str = Field(description="Why it was rejected")
    party: str | None = Field(description="The party its approval created")
    decided_by: str | None
    decided_at: datetime | None
    claimed_at: datetime | None = Field(description="When the applicant collected its API key")
    created_at: datetime


class ApplicationStatusOut(BaseModel):
    """An application as its applicant sees it with the reference and the claim code."""

    id: str
    name: str = Field(description="An individual's name shows its first character only")
    role: str
    region: str
    status: ApplicationStatus
    reason: str
    created_at: datetime
    decided_at: datetime | None
    claimed: bool


class ApplicationRejection(Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class ApplicationClaim(Strict):
    claim_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]


class ClaimedKeyOut(BaseModel):
    party: str
    prefix: str
    api_key: str = Field(description="Shown once. Send it as `Authorization: Bearer <api_key>`.")
